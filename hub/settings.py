"""Configuration, from the environment (prefix HUB_) or CLI flags; one place to read it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from hub.domain.kafka_client import (
    KafkaSaslMechanism,
    KafkaSecurityProtocol,
    kafka_client_options,
    needs_sasl_credentials,
)


class HubSettings(BaseSettings):
    """Every setting is read from `HUB_<NAME>` in the environment, or from a file named
    `hub_<name>` in `HUB_SECRETS_DIR` (e.g. /run/secrets/hub_postgres_dsn, as compose and
    Kubernetes mount secrets), so a deployment never has to put a secret in the environment."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".hub"), description="where the embedded store and keys live"
    )
    keys_dir: Path | None = Field(
        default=None,
        description="KEKs, pseudonym, API token and checkpoint signing keys "
        "(default <data-dir>/keys)",
    )
    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    postgres_schema: str = "public"
    kek: str | None = Field(default=None, description="base64 KEK; overrides the file provider")
    pseudonym_key: str | None = Field(default=None, description="base64 pseudonym key")
    max_message_bytes: int = 64 * 1024
    max_request_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        description="the largest HTTP request body the API reads (larger: 413, nothing read)",
    )
    clock_skew_seconds: int = 300
    batch_size: int = 1000
    kafka_bootstrap_timeout_ms: int = 30_000
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        le=32,
        description="replicas of each topic the hub creates (1: one development broker; 3 in "
        "the compose and Kubernetes deployments)",
    )
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: Path | None = Field(default=None, description="CA that signed the brokers")
    kafka_cert_file: Path | None = Field(default=None, description="client certificate (mTLS)")
    kafka_key_file: Path | None = None
    directory: Path | None = Field(default=None, description="practitioner directory YAML")
    agreements_dir: Path | None = Field(default=None, description="information sharing agreements")
    federation_register: Path | None = Field(
        default=None, description="this hub's identity and its partner hubs (docs/federation.md)"
    )
    discovery_questions_per_hour: int = Field(
        default=20,
        ge=1,
        description="questions to partner hubs one practitioner may ask (and this hub answers "
        "for one partner's practitioner) in any rolling hour (docs/federation.md)",
    )
    discovery_questions_per_day: int = Field(
        default=100, ge=1, description="the same in any rolling 24 hours (at least per hour)"
    )
    discovery_answer_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="how long a question waits for partners' answers"
    )
    break_glass_minutes: int = 240
    review_commission_max_days: int = Field(
        default=365, ge=1, description="the longest a practice review commission may last"
    )
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_jwks_url: str | None = None
    oidc_client_id: str | None = Field(
        default=None,
        description="the hub's client id at the OpenID provider: set, the web pages sign in "
        "with the authorization code flow (keys and endpoints from the provider's discovery)",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="client secret (client_secret_basic / client_secret_post)"
    )
    oidc_client_key_file: Path | None = Field(
        default=None, description="the hub's private key (PEM) for private_key_jwt"
    )
    oidc_client_auth_method: (
        Literal["private_key_jwt", "client_secret_basic", "client_secret_post"] | None
    ) = Field(
        default=None,
        description="token endpoint authentication (default: private_key_jwt when "
        "HUB_OIDC_CLIENT_KEY_FILE is set, else client_secret_basic)",
    )
    oidc_scopes: str = Field(default="openid profile", description="scopes the pages ask for")
    oidc_practitioner_claim: str = Field(
        default="sub",
        description="the token claim holding the practitioner's id in the hub's directory "
        "(e.g. practitioner_id, preferred_username)",
    )
    oidc_required_acr: str = Field(
        default="",
        description="comma-separated acr values a sign-in must have one of (e.g. AAL3); "
        "empty: not checked",
    )
    oidc_leeway_seconds: int = Field(
        default=60, ge=0, le=300, description="clock leeway on exp, iat and nbf of tokens"
    )
    oidc_access_token_types: str = Field(
        default="at+jwt,application/at+jwt",
        description="comma-separated JWT typ headers accepted on API bearer tokens (RFC 9068 "
        "at+jwt; Entra ID v2 access tokens say JWT); ID tokens are refused whatever this says",
    )
    dev_tokens: bool = Field(
        default=False,
        description="accept locally signed development tokens (`hub token issue`); "
        "never together with OIDC",
    )
    cookie_secure: bool = Field(default=False, description="session cookie only over HTTPS")
    session_idle_minutes: float = Field(
        default=30,
        gt=0,
        description="a web session ends after this long without a request (may be fractional)",
    )
    log_level: str = "info"
    health_concept_map: Path | None = Field(
        default=None,
        description="FHIR ConceptMap (JSON) from health codes (SNOMED CT, ...) to the hub's "
        "health kinds, replacing the packaged default (docs/adapters.md)",
    )
    encompass_front_door_team: str = Field(
        default="front-door:shire-county-council",
        description="the team that receives Operation Encompass notices for children not in school",
    )
    encompass_escalate_after_minutes: int = Field(
        default=120,
        description="escalate a notice not acknowledged this long after the school day starts",
    )
    encompass_max_age_days: int = Field(
        default=28, description="older incidents (e.g. a backfill) are recorded, not notified"
    )
    inbox_max_age_days: int = Field(
        default=28,
        ge=1,
        description="records an agency recorded longer ago (a backfill) raise no inbox item",
    )
    notification_channels: Path | None = Field(
        default=None,
        description="inbox email and webhook channels YAML "
        "(default <data-dir>/notification-channels.yaml; absent: none)",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for inbox emails; unset: no email is sent"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str | None = Field(default=None, description="the From address of inbox emails")
    smtp_starttls: bool = Field(default=False, description="upgrade the SMTP connection to TLS")
    smtp_username: SecretStr | None = None
    smtp_password: SecretStr | None = None
    public_url: str = Field(
        default="http://localhost:8000",
        description="the hub's base URL as people reach it, for links in emails and webhooks",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Where the secret files are is itself a setting: read it before the others.
        secrets_dir = os.environ.get("HUB_SECRETS_DIR")
        if secrets_dir:
            if not Path(secrets_dir).is_dir():
                raise ValueError(f"HUB_SECRETS_DIR {secrets_dir} is not a directory")
            file_secret_settings = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _oidc_complete(self) -> HubSettings:
        """An issuer alone would accept a token minted for any service the provider serves
        (no audience to check), or verify nothing at all (no keys): refuse to start instead."""
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError(
                "HUB_OIDC_ISSUER is set without HUB_OIDC_AUDIENCE: set the audience the identity "
                "provider puts in this hub's tokens (its client id), or tokens meant for other "
                "services would be accepted"
            )
        if self.oidc_issuer and not (
            self.oidc_jwks_file or self.oidc_jwks_url or self.oidc_client_id
        ):
            raise ValueError(
                "HUB_OIDC_ISSUER is set without HUB_OIDC_JWKS_URL or HUB_OIDC_JWKS_FILE (or "
                "HUB_OIDC_CLIENT_ID, for keys from discovery): say where the identity provider "
                "publishes its signing keys"
            )
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError(
                "HUB_OIDC_CLIENT_ID is set without HUB_OIDC_ISSUER: set the identity provider's "
                "issuer the pages sign in with"
            )
        if self.oidc_client_id and self.oidc_client_method() == "private_key_jwt":
            if not self.oidc_client_key_file:
                raise ValueError(
                    "HUB_OIDC_CLIENT_AUTH_METHOD=private_key_jwt needs HUB_OIDC_CLIENT_KEY_FILE"
                )
        elif self.oidc_client_id and not self.oidc_client_secret:
            raise ValueError(
                "HUB_OIDC_CLIENT_ID is set without HUB_OIDC_CLIENT_KEY_FILE (private_key_jwt) or "
                "HUB_OIDC_CLIENT_SECRET: the hub must authenticate at the token endpoint"
            )
        if self.dev_tokens and self.oidc_issuer:
            raise ValueError(
                "HUB_DEV_TOKENS=true and HUB_OIDC_ISSUER are both set: development tokens are "
                "refused whenever an OpenID provider is configured; unset HUB_DEV_TOKENS"
            )
        if (self.oidc_audience or self.oidc_jwks_file or self.oidc_jwks_url) and not (
            self.oidc_issuer
        ):
            raise ValueError(
                "HUB_OIDC_AUDIENCE or HUB_OIDC_JWKS_* is set without HUB_OIDC_ISSUER: set the "
                "identity provider's issuer, or no token from it will ever be accepted"
            )
        return self

    @model_validator(mode="after")
    def _kafka_credentials_complete(self) -> HubSettings:
        if needs_sasl_credentials(self.kafka_security_protocol) and not (
            self.kafka_username and self.kafka_password
        ):
            raise ValueError(
                f"HUB_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "HUB_KAFKA_USERNAME and HUB_KAFKA_PASSWORD (or the file hub_kafka_password in "
                "HUB_SECRETS_DIR)"
            )
        return self

    def oidc_client_method(self) -> str:
        """How the hub authenticates at the provider's token endpoint."""
        if self.oidc_client_auth_method:
            return self.oidc_client_auth_method
        return "private_key_jwt" if self.oidc_client_key_file else "client_secret_basic"

    @property
    def oidc_required_acr_values(self) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.oidc_required_acr.split(",") if v.strip())

    @property
    def oidc_access_token_type_values(self) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.oidc_access_token_types.split(",") if v.strip())

    @property
    def keys_path(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    @property
    def create_missing_keys(self) -> bool:
        """Keys under the data directory are created on first use (development, the demo);
        keys in an explicit HUB_KEYS_DIR (a deployment's secret volume) only by
        `hub keys init`."""
        return self.keys_dir is None

    def kafka_client_options(self) -> dict[str, Any]:
        """kafka-python connection options (security protocol, SASL, TLS) for every client the
        hub opens: ingest consumers, publishers, the admin client."""
        password = self.kafka_password.get_secret_value() if self.kafka_password else None
        return kafka_client_options(
            self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_username,
            password=password,
            ca_file=self.kafka_ca_file,
            cert_file=self.kafka_cert_file,
            key_file=self.kafka_key_file,
        )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    @property
    def directory_path(self) -> Path:
        return self.directory or self.data_dir / "practitioners.yaml"

    def audit_env(self) -> dict[str, str]:
        """The audit ledger's own store: a separate SQLite file, or `audit_*` tables."""
        env = self.eventsourcing_env()
        if self.store == "sqlite":
            env["SQLITE_DBNAME"] = str(self.data_dir / "audit.sqlite")
        return env

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing reads to choose and open its persistence module."""
        if self.store == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "30",
                # A batch's rows in one executemany (hub/adapters/sqlite_recorder.py).
                "PROCESS_RECORDER_TOPIC": (
                    "hub.adapters.sqlite_recorder:BatchedSQLiteProcessRecorder"
                ),
            }
        url = urlparse(self.postgres_dsn)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": self.postgres_schema,
            # Batches of rows are written with COPY (hub/adapters/postgres_recorder.py).
            "PROCESS_RECORDER_TOPIC": (
                "hub.adapters.postgres_recorder:CopyingPostgresProcessRecorder"
            ),
            # Not POSTGRES_ENABLE_DB_FUNCTIONS: in eventsourcing 9.5.6 its insert path skips the
            # process recorder's tracking row, which would break exactly-once ingest.
        }

    def describe_store(self) -> str:
        if self.store == "sqlite":
            return str(self.sqlite_path.resolve())
        url = urlparse(self.postgres_dsn)
        database = url.path.lstrip("/")
        port = url.port or 5432
        return f"postgresql://{url.hostname}:{port}/{database} schema {self.postgres_schema}"
