"""The channels that carry news of inbox items beyond the page, from a YAML file
(`HUB_NOTIFICATION_CHANNELS`, or `notification-channels.yaml` in the data directory): email
addresses for practitioners or teams, and signed webhooks for agency systems
(docs/inbox.md, "Delivery beyond the page").

Errors name the file and the field, never the value: an address or a URL is the kind of
thing an operator pastes from somewhere private.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from pydantic import SecretStr

    from hub.domain.access import Practitioner

CONFIG_FILE = "notification-channels.yaml"
DEFAULT_RETRY_MINUTES = (1, 5, 30, 120)
MIN_SECRET_BYTES = 16
# One address, no display name, nothing that could end a header line.
_ADDRESS = r"^[^@\s<>,;:\"()\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
_ID = r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$"


class ChannelSettings(Protocol):
    """The hub's settings that delivery reads (`hub.settings.HubSettings` has them; consumers
    sit below the composition root and do not import it)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def notification_channels(self) -> Path | None: ...
    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_from(self) -> str | None: ...
    @property
    def smtp_starttls(self) -> bool: ...
    @property
    def smtp_username(self) -> SecretStr | None: ...
    @property
    def smtp_password(self) -> SecretStr | None: ...
    @property
    def public_url(self) -> str: ...


class ChannelConfigError(ValueError):
    """The channels file is unreadable or malformed; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EmailChannel(_Strict):
    """An address told how many new items a practitioner (or any member of a team) has."""

    practitioner: str | None = Field(default=None, pattern=_ID)
    team: str | None = Field(default=None, pattern=_ID)
    address: str = Field(max_length=254, pattern=_ADDRESS)

    @model_validator(mode="after")
    def _one_recipient(self) -> Self:
        if (self.practitioner is None) == (self.team is None):
            raise ValueError("give either practitioner or team (one of them)")
        return self

    def serves(self, practitioner: Practitioner) -> bool:
        return self.practitioner == practitioner.id or (
            self.team is not None and self.team in practitioner.teams
        )


class Webhook(_Strict):
    """An agency system told (signed) of each new item for that agency's staff."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    organisation: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    url: str = Field(max_length=2000)
    secret_file: str = Field(min_length=1, max_length=4096)
    retry_minutes: list[int] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_MINUTES), min_length=0, max_length=20
    )
    timeout_seconds: int = Field(default=10, ge=1, le=120)

    @field_validator("url")
    @classmethod
    def _safe_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise ValueError("must not carry credentials (the HMAC secret authenticates)")
        if parts.fragment or not parts.hostname:
            raise ValueError("must be an absolute URL with a host and no fragment")
        if parts.scheme == "https":
            return url
        if parts.scheme == "http" and is_loopback(parts.hostname):
            return url
        raise ValueError("must be https (http only to a loopback address)")

    @field_validator("retry_minutes")
    @classmethod
    def _positive(cls, minutes: list[int]) -> list[int]:
        if any(m < 1 or m > 7 * 24 * 60 for m in minutes):
            raise ValueError("each retry is from 1 minute to 7 days (10080 minutes)")
        return minutes


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ChannelsFile(_Strict):
    email: list[EmailChannel] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)


@dataclass(frozen=True)
class WebhookChannel:
    config: Webhook
    secret: bytes = field(repr=False)

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class NotificationChannels:
    email: tuple[EmailChannel, ...] = ()
    webhooks: tuple[WebhookChannel, ...] = ()

    def addresses_for(self, practitioner: Practitioner) -> list[str]:
        """The addresses told of this practitioner's items (each once)."""
        found: dict[str, str] = {}
        for channel in self.email:
            if channel.serves(practitioner):
                found.setdefault(channel.address.casefold(), channel.address)
        return list(found.values())

    def addresses(self) -> list[str]:
        return list({c.address.casefold(): c.address for c in self.email}.values())

    def webhooks_for(self, practitioner: Practitioner) -> list[WebhookChannel]:
        """The agency systems of the practitioner's own organisation (its staff, not the
        members of a team it hosts)."""
        return [w for w in self.webhooks if w.config.organisation == practitioner.organisation]

    def webhook(self, name: str) -> WebhookChannel | None:
        return next((w for w in self.webhooks if w.name == name), None)


def describe_config_error(error: ValidationError) -> str:
    """`field.path: message` for each problem, without the input (pydantic's default rendering
    copies the value into the message)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(file)'}: "
        f"{item['msg'].removeprefix('Value error, ')}"
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    )


def _read_secret(path: Path, base: Path, index: int) -> bytes:
    where = f"webhooks.{index}.secret_file"
    resolved = path if path.is_absolute() else base / path
    try:
        secret = resolved.read_bytes().strip()
    except OSError as error:
        raise ChannelConfigError(f"{where}: cannot be read ({type(error).__name__})") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ChannelConfigError(f"{where}: the secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret


def load_channels(path: Path) -> NotificationChannels:
    """Read and check the channels file; webhook secrets are read from their own files
    (relative paths are from the channels file's folder)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        # A YAML error quotes the offending line: name its type only.
        raise ChannelConfigError(
            f"{path}: cannot read notification channels ({type(error).__name__})"
        ) from None
    try:
        parsed = _ChannelsFile.model_validate(document or {})
    except ValidationError as error:
        raise ChannelConfigError(f"{path}: {describe_config_error(error)}") from None
    names = [w.name for w in parsed.webhooks]
    if len(set(names)) != len(names):
        raise ChannelConfigError(f"{path}: webhooks.name: must be unique")
    try:
        webhooks = tuple(
            WebhookChannel(w, _read_secret(Path(w.secret_file), path.parent, i))
            for i, w in enumerate(parsed.webhooks)
        )
    except ChannelConfigError as error:
        raise ChannelConfigError(f"{path}: {error}") from None
    return NotificationChannels(tuple(parsed.email), webhooks)


def channels_path(settings: ChannelSettings) -> Path:
    return settings.notification_channels or settings.data_dir / CONFIG_FILE


def configured_channels(settings: ChannelSettings) -> NotificationChannels | None:
    """The deployment's channels: None when no file is configured (HUB_NOTIFICATION_CHANNELS)
    nor present in the data directory. A file that is named but missing is an error."""
    path = channels_path(settings)
    if settings.notification_channels is None and not path.exists():
        return None
    return load_channels(path)


def is_address(text: str) -> bool:
    return re.fullmatch(_ADDRESS, text) is not None
