"""The recipient systems the feed relays to, from a YAML file (`HUB_FEED_RECIPIENTS`, or
`feed-recipients.yaml` in the data directory): who each is, what it may receive, how to reach
it; and the feed's own document names."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.feed.fhir_flag import FLAG_KINDS
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.canonical_event import describe_validation_error
from hub.domain.taxonomy import KINDS, AgencyType

if TYPE_CHECKING:
    pass


SCHEMA_VERSION = 1
FEED_PRINCIPAL_PREFIX = "feed:"
CONFIG_FILE = "feed-recipients.yaml"
SAMPLE_RECIPIENTS_PATH = Path(__file__).resolve().parents[2] / "hub" / "samples" / CONFIG_FILE
RETRACTED_KIND = "record.retracted"

# Document names. `child:<stream>...` documents are sealed with the child's key.
PENDING_PREFIX = "pending:"  # pending:<stream>:<version>, one per queued item (index key)
SENT_PREFIX = "sent:"  # sent:<dedupe key>, one per item the broker acknowledged (kept)
TOTALS = "sent-totals"  # how many sent, when last (kept)
STATS = "stats"  # what relaying decided: queued, relayed, withdrawn, refused by policy
OUTBOX = "out"


class FeedConfigError(ValueError):
    """The recipients file is missing or malformed; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedTls(_Strict):
    """TLS to the recipient's brokers (kafka-python `ssl_*` options)."""

    cafile: Path
    certfile: Path | None = None
    keyfile: Path | None = None


class FeedRecipient(_Strict):
    """A recipient system: who it is for the policy, what it takes, and where it is sent."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    description: str = Field(min_length=1, max_length=500)
    organisation: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    agency_type: AgencyType
    role: Role
    teams: list[str] = Field(default_factory=list)
    purpose: Purpose
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    kinds: list[str] | None = Field(
        default=None, description="kinds or prefixes ending in '*'; none means every kind"
    )
    redact: list[str] = Field(
        default_factory=list, description="'summary' or 'details.<field>', beyond the agreement"
    )
    include_summary: bool = False
    fhir_flags: bool = Field(
        default=False,
        description="add a CP-IS-style FHIR R4 Flag to plan and looked-after messages",
    )
    bootstrap_servers: str | None = None
    tls: FeedTls | None = None
    create_topic: bool = True
    connect_timeout_ms: int = Field(default=10_000, ge=100, le=300_000)
    partitions: int = Field(default=3, ge=1, le=1000)
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="replicas of a topic the hub creates; none: HUB_KAFKA_REPLICATION_FACTOR",
    )
    batch_size: int = Field(default=500, ge=1, le=10_000)
    active_from: date = date(1990, 1, 1)
    active_to: date | None = None

    @field_validator("role")
    @classmethod
    def _not_exempt(cls, role: Role) -> Role:
        if role is Role.DATA_PROTECTION_OFFICER:
            # Data protection officers are exempt from the relationship and withholding guards.
            raise ValueError("a feed recipient cannot act as a data protection officer")
        return role

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        for kind in kinds or ():
            matched = [k for k in KINDS if _kind_matches(k, kind)]
            if not matched:
                raise ValueError(f"{kind!r} names no kind in docs/taxonomy.md")
            if any(k.startswith("identity.") or k == RETRACTED_KIND for k in matched):
                raise ValueError(
                    f"{kind!r}: identity links carry NHS numbers and are never relayed; "
                    "retractions are relayed as withdrawals of what the recipient holds"
                )
        return kinds

    @field_validator("redact")
    @classmethod
    def _redactable(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if path != "summary" and not (path.startswith("details.") and len(path) > 8):
                raise ValueError(f"redact entry {path!r} must be 'summary' or 'details.<field>'")
        return paths

    @model_validator(mode="after")
    def _flags_need_status_kinds(self) -> FeedRecipient:
        if self.fhir_flags and not any(self.takes(kind) for kind in FLAG_KINDS):
            raise ValueError(
                "fhir_flags: kinds must take la.cp-plan-started, la.cp-plan-ended or "
                "la.looked-after (the statuses a Flag carries)"
            )
        return self

    @property
    def principal(self) -> Practitioner:
        return Practitioner(
            id=f"{FEED_PRINCIPAL_PREFIX}{self.name}",
            name=self.description,
            organisation=self.organisation,
            agency_type=self.agency_type,
            role=self.role,
            teams=frozenset(self.teams),
            active_from=self.active_from,
            active_to=self.active_to,
        )

    def takes(self, kind: str) -> bool:
        if kind.startswith("identity.") or kind == RETRACTED_KIND:
            return False
        return self.kinds is None or any(_kind_matches(kind, k) for k in self.kinds)


def _kind_matches(kind: str, pattern: str) -> bool:
    return kind == pattern or (pattern.endswith("*") and kind.startswith(pattern[:-1]))


class _RecipientsFile(_Strict):
    recipients: list[FeedRecipient] = Field(default_factory=list)


class FeedSettings(BaseSettings):
    """The feed's own settings (environment, prefix HUB_FEED_)."""

    model_config = SettingsConfigDict(env_prefix="HUB_FEED_", extra="ignore")

    recipients: Path | None = Field(
        default=None, description="recipients YAML; default <data dir>/feed-recipients.yaml"
    )
    bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers for recipients that name none"
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        le=32,
        validation_alias="HUB_KAFKA_REPLICATION_FACTOR",
        description="the deployment's replicas for topics the hub creates (the hub's setting)",
    )


def load_recipients(path: Path) -> list[FeedRecipient]:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise FeedConfigError(f"{path}: cannot read recipients ({type(error).__name__})") from None
    try:
        parsed = _RecipientsFile.model_validate(document or {})
    except ValidationError as error:
        raise FeedConfigError(f"{path}: {describe_validation_error(error)}") from None
    names = [r.name for r in parsed.recipients]
    if len(set(names)) != len(names):
        raise FeedConfigError(f"{path}: recipient names must be unique")
    return parsed.recipients


def recipients_path(data_dir: Path) -> Path:
    return FeedSettings().recipients or data_dir / CONFIG_FILE


def feed_recipients(data_dir: Path) -> list[FeedRecipient]:
    """The configured recipient systems: none unless a recipients file is configured
    (HUB_FEED_RECIPIENTS) or present in the data directory. The sample is never used
    implicitly: relaying is something a partnership switches on, recipient by recipient."""
    path = recipients_path(data_dir)
    if FeedSettings().recipients is None and not path.exists():
        return []
    return load_recipients(path)
