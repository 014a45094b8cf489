"""Configuration, from the environment (prefix HUB_) or CLI flags; one place to read it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".hub"), description="where the embedded store and keys live"
    )
    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    postgres_schema: str = "public"
    kek: str | None = Field(default=None, description="base64 KEK; overrides the file provider")
    pseudonym_key: str | None = Field(default=None, description="base64 pseudonym key")
    max_message_bytes: int = 64 * 1024
    clock_skew_seconds: int = 300
    batch_size: int = 1000
    kafka_bootstrap_timeout_ms: int = 30_000
    directory: Path | None = Field(default=None, description="practitioner directory YAML")
    agreements_dir: Path | None = Field(default=None, description="information sharing agreements")
    break_glass_minutes: int = 240
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_jwks_url: str | None = None
    dev_tokens: bool = Field(default=True, description="accept locally signed development tokens")
    cookie_secure: bool = Field(default=False, description="session cookie only over HTTPS")
    log_level: str = "info"
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

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

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
