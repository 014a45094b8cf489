"""Placeholder: the outbound feed consumer is built in its own piece of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumers.framework import Consumer
    from hub.bootstrap import Hub
    from hub.settings import HubSettings


@dataclass(frozen=True)
class FeedRecipient:
    name: str


def feed_recipients(settings: HubSettings) -> list[FeedRecipient]:
    return []


def build_feed(hub: Hub, recipient: str) -> Consumer:
    raise LookupError(f"no outbound feed recipient called {recipient!r}")
