"""Delivery beyond the page: email and webhooks for new inbox items (being built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumers.inbox.consumer import NoOutbound, Outbound

if TYPE_CHECKING:
    from hub.settings import HubSettings


def outbound_for(settings: HubSettings) -> Outbound:
    """The channels this deployment configures (none yet)."""
    return NoOutbound()
