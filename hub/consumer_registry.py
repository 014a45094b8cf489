"""The consumers the hub can run, by name (`hub consumer run NAME`), each built from the
wired-up hub's services: the composition root's part that knows the consumers. A consumer's
module is imported only when that consumer is asked for, so one consumer's dependencies never
slow another's start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from consumers.framework import Consumer
    from hub.adapters.agency_registries import AgencyRegistry
    from hub.adapters.directory import PractitionerDirectory
    from hub.adapters.pseudonyms import Pseudonymiser
    from hub.audit_ledger import AuditLedger
    from hub.disclosure_gate import DisclosureGate
    from hub.federation_transfer import TransferService
    from hub.policies.decision import CedarDecisionPoint
    from hub.read_models.chronology_projection import ChronologyProjection
    from hub.settings import HubSettings


class ConsumerServices(Protocol):
    """What building a consumer takes from the wired-up hub (`hub.bootstrap.Hub` is one)."""

    @property
    def settings(self) -> HubSettings: ...

    @property
    def pseudonyms(self) -> Pseudonymiser: ...

    @property
    def directory(self) -> PractitionerDirectory: ...

    @property
    def gate(self) -> DisclosureGate: ...

    @property
    def agencies(self) -> AgencyRegistry: ...

    @property
    def projection(self) -> ChronologyProjection: ...

    @property
    def audit(self) -> AuditLedger: ...

    @property
    def decisions(self) -> CedarDecisionPoint: ...

    @property
    def federation_transfer(self) -> TransferService: ...


FEED_PREFIX = "feed-"


class UnknownConsumerError(LookupError):
    pass


def _encompass(hub: ConsumerServices) -> Consumer:
    from consumers.encompass import EncompassConsumer, EncompassRules
    from consumers.inbox.outbound import outbound_for

    settings = hub.settings
    return EncompassConsumer(
        EncompassRules(
            front_door_team=settings.encompass_front_door_team,
            escalate_after=timedelta(minutes=settings.encompass_escalate_after_minutes),
            max_age=timedelta(days=settings.encompass_max_age_days),
        ),
        hub.directory,
        lambda: hub.gate,
        hub.pseudonyms,
        lambda: {r.agency_id: r for r in hub.agencies.all()},
        outbound_for(settings, hub.pseudonyms),
    )


def _clocks(hub: ConsumerServices) -> Consumer:
    from consumers.clock_alerts import ClocksConsumer, ClockSettings

    return ClocksConsumer(hub.pseudonyms, ClockSettings().rules())


def _indicators(hub: ConsumerServices) -> Consumer:
    from consumers.indicator_facts import IndicatorsConsumer
    from hub.domain.latency import LatencyRules

    return IndicatorsConsumer(LatencyRules())


def _inbox(hub: ConsumerServices) -> Consumer:
    from uuid import UUID

    from consumers.inbox import InboxConsumer, InboxRules
    from consumers.inbox.outbound import outbound_for
    from hub.domain.chronology import ChronologyEntry

    settings = hub.settings

    def held(stream: str) -> list[ChronologyEntry]:
        hub.projection.catch_up()
        return hub.projection.entries(UUID(stream))

    return InboxConsumer(
        InboxRules(
            front_door_team=settings.encompass_front_door_team,
            max_age=timedelta(days=settings.inbox_max_age_days),
        ),
        hub.directory,
        lambda: hub.gate,
        held,
        lambda: hub.audit,
        hub.decisions.agreements.in_force,
        hub.pseudonyms,
        outbound_for(settings, hub.pseudonyms),
    )


_BUILDERS: dict[str, Callable[[ConsumerServices], Consumer]] = {
    "encompass": _encompass,
    "inbox": _inbox,
    "clocks": _clocks,
    "indicators": _indicators,
}


def built_in_consumer_names() -> list[str]:
    """The consumers every deployment runs (one process each), whatever feeds it configures:
    the deployment manifests and their tests list exactly these."""
    return list(_BUILDERS)


def consumer_names(hub: ConsumerServices) -> list[str]:
    """Every consumer this deployment can run: the built-in ones and one outbound feed per
    recipient system configured."""
    from consumers.feed import feed_recipients

    recipients = feed_recipients(hub.settings.data_dir)
    federated = [TRANSFERS] if hub.settings.federation_register is not None else []
    return [*built_in_consumer_names(), *federated, *(FEED_PREFIX + r.name for r in recipients)]


TRANSFERS = "transfers"
"""Offering partner hubs transfers as moves arrive: only on a hub with a partner register."""


def _transfers(hub: ConsumerServices) -> Consumer:
    from consumers.transfers import TransfersConsumer

    service = hub.federation_transfer
    return TransfersConsumer(
        service.register,
        lambda child, partner, move: service.offer(child, partner, move_ref=move),
        corrections=service,
    )


def _feed(hub: ConsumerServices, recipient: str) -> Consumer:
    from consumers.feed import FeedConsumer, FeedSettings, feed_recipients, recipients_path

    for candidate in feed_recipients(hub.settings.data_dir):
        if candidate.name == recipient:
            return FeedConsumer(
                candidate,
                gate=lambda: hub.gate,
                pseudonyms=hub.pseudonyms,
                bootstrap=candidate.bootstrap_servers or FeedSettings().bootstrap,
            )
    path = recipients_path(hub.settings.data_dir)
    raise LookupError(f"no outbound feed recipient called {recipient!r} in {path}")


def build_consumer(hub: ConsumerServices, name: str) -> Consumer:
    if name.startswith(FEED_PREFIX):
        return _feed(hub, name.removeprefix(FEED_PREFIX))
    if name == TRANSFERS:
        return _transfers(hub)
    builder = _BUILDERS.get(name)
    if builder is None:
        raise UnknownConsumerError(
            f"no consumer called {name!r}; known: {', '.join(consumer_names(hub))}"
        )
    return builder(hub)
