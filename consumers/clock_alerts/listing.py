"""A practitioner's alerts, released through the disclosure gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from consumers.clock_alerts.consumer import ClocksConsumer, ClockSettings
from consumers.clock_alerts.shown import AlertListing, ShownAlert
from consumers.framework import ConsumerRunner
from hub.disclosure_gate import Disclosure
from hub.domain.access import (
    Purpose,
    RelationshipBasis,
    RelationshipGrant,
)
from hub.domain.uk_time import uk_date
from hub.policies.decision import Action

if TYPE_CHECKING:
    from hub.disclosure_gate import DisclosureGate


def list_alerts(
    gate: DisclosureGate,
    runner: ConsumerRunner,
    practitioner_id: str,
    now: datetime,
    include_closed: bool = False,
    purpose: Purpose = Purpose.CHILD_PROTECTION_PLANNING,
    *,
    all_breaches: bool = False,
    breach_horizon_working_days: int | None = None,
) -> AlertListing:
    """A practitioner's alerts, with the children's identifiers. Which child an alert is about,
    and that the record starting its clock exists, is a disclosure: the gate releases the
    starting records of each child's alerts to the practitioner (no content, just that they
    may see them) for the `notify` action, audited, and only the alerts whose record it
    released are shown (a record withheld from them, retracted, or erased since raises no
    alert to them). Listing the same alerts again is the same disclosure: every alert is put
    to the gate however the listing is then laid out, so each child's request names the same
    records each time and the first audit entry stands for the next (`reuse_audit`).

    The listing's `grouped()` summarises breaches older than `breach_horizon_working_days`
    (None: `ClockSettings`, env `HUB_CLOCKS_BREACH_HORIZON_WORKING_DAYS`) instead of listing
    them; `all_breaches` lists every breach."""
    practitioner = gate.practitioner(practitioner_id)
    if not practitioner.is_active(uk_date(now)):
        raise PermissionError("your account is not active in the practitioner directory")
    consumer = runner.consumer
    if not isinstance(consumer, ClocksConsumer):  # pragma: no cover - the registry's wiring
        raise TypeError("the clocks consumer is not wired to consumers.clock_alerts")
    candidates = consumer.alerts_for(runner.documents(), practitioner, uk_date(now), include_closed)
    alerts: list[ShownAlert] = []
    refs = []
    groups: dict[tuple[str, str | None], list[ShownAlert]] = {}
    for alert in candidates:
        groups.setdefault((alert.child_stream, alert.team), []).append(alert)
    for (stream, team), theirs in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "")):
        view = gate.disclose(
            stream,
            practitioner.id,
            Disclosure(
                purpose,
                Action.NOTIFY,
                items=frozenset(a.source for a in theirs),
                fields=frozenset(),
                relationship=None if team is None else _routed(team, theirs),
                reuse_audit=True,
                at=now,
            ),
        )
        refs.append(view.audit_ref)
        released = {e.ref.rpartition("@")[0] for e in view.entries if not e.retracted}
        alerts += [replace(a, child=view.child) for a in theirs if a.source in released]
    status = runner.status()
    if all_breaches:
        horizon = None
    elif breach_horizon_working_days is None:
        horizon = ClockSettings().breach_horizon_working_days
    else:
        horizon = breach_horizon_working_days
    return AlertListing(practitioner, sorted(alerts, key=_alert_order), refs, status.lag, horizon)


def _routed(team: str, alerts: list[ShownAlert]) -> RelationshipGrant:
    """An unallocated child's alerts go to the authority's MACPT, led by its lead child
    protection practitioner: the alert is routed to them as a notice is, which relates them to
    the child for these alerts alone (no access to the chronology comes from it)."""
    return RelationshipGrant(
        basis=RelationshipBasis.NOTICE_ROUTING,
        valid_from=datetime.min.replace(tzinfo=UTC),
        valid_to=None,
        source_event_id=", ".join(sorted({a.source for a in alerts})),
        team=team,
    )


def _alert_order(alert: ShownAlert) -> tuple[date, str, str]:
    return (alert.due, alert.clock, alert.child_stream)
