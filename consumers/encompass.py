"""Operation Encompass: tell a child's school, before the next school day, that police attended
a domestic abuse incident where the child lives, so the school can support the child that day.

The consumer follows the hub's log. For each `police.domestic-abuse-incident` where the child
lives at the address it issues a minimal notice: the child, when the incident happened, whether
the child was present, the police reference and the child's voice if recorded, and nothing
else. Each notice opens with a header saying which child it is (`hub.chronology_header`): the
child's names, date of birth and age (or "unborn, due ...") and sex from the latest
`la.child-details` / `health.child-details` record the recipient may have, released with the
incident in the same disclosure, and only with it (a recipient the incident is not released to
is told nothing of the child); the agencies it comes from, with their contacts. What a notice
says is released by the disclosure gate, at delivery and each time the recipient reads it, so
a field the police shielded, a withholding or a retraction they publish later is honoured in
the recipient's inbox too; the consumer's own documents hold the routing, never the incident's
content or the child's details. The notice goes to the designated safeguarding leads of the
school the child is enrolled at (the same enrolment relationship the chronology uses); for a
child not in school (never enrolled, home educated, or a school with no DSL in the directory)
it goes to the local authority's front door team.

Issuing and delivering are separate steps, so each happens exactly once:

1. `apply` (folding the log): the notice is derived, with its recipients, and committed with
   the consumer's position. A correction of the incident issues a corrected notice; an
   incident older than `max_age` when first seen (a backfill) is recorded, not notified.
2. `act` (delivery): each recipient is released the notice through the disclosure gate
   (action `receive-notice`, purpose `operation-encompass`), which decides and audits before
   the notice is marked delivered. After a crash between the audit entry and the mark, the
   gate finds the audit entry again and does not write it twice; reading the inbox again does
   not write it again either (the disclosure happened at delivery), unless it would show more.
   A school recipient the policy refuses (the police withheld the incident from education) is
   replaced by the front door.
3. Acknowledgement is by the recipient (`hub notices ack`). A school notice not acknowledged
   `escalate_after` past the start of the school day (or past delivery, if later) is escalated:
   a new notice to the front door, itself policy-checked and audited. A front-door notice left
   unacknowledged is reported by `hub consumer status`.

School days are English working days (weekends and bank holidays); term dates are not known
to the hub, so a notice during a school holiday is still due the next working day.

One piece (under 500 lines): issuing, delivering and escalating are the steps of one
state machine over the consumer's notice documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from consumers.framework import Document, Documents, child_document
from hub.adapters.pseudonyms import Pseudonymiser
from hub.chronology_header import child_header
from hub.disclosure_gate import ChronologyView, Disclosure, DisclosureGate
from hub.domain.access import Practitioner, Purpose, RelationshipBasis, RelationshipGrant, Role
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.records import ChildRecordEntry
from hub.domain.relationships import derive_relationships
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import uk_date
from hub.domain.working_days import next_school_day_start
from hub.policies.decision import Action

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.adapters.directory import PractitionerDirectory
    from hub.domain.agency_records import AgencyRecord

log = structlog.get_logger("hub.consumers.encompass")
INCIDENT = "police.domestic-abuse-incident"
NOTICE_FIELDS = ("child_present", "police_reference", "child_voice")
# What a notice may carry of the incident; the gate redacts everything else.
NOTICE_PATHS = frozenset(f"details.{name}" for name in NOTICE_FIELDS)
# What the header may carry of the child's details record: who the child is, nothing else
# (never ethnicity, disability, address or legal status; the agreement redacts them too).
HEADER_FIELDS = (
    "given_names",
    "family_name",
    "known_as",
    "date_of_birth",
    "expected_delivery_date",
    "sex",
)
HEADER_PATHS = frozenset(f"details.{name}" for name in HEADER_FIELDS)
# What the child's school needs to know about: enrolments, home education and retractions.
_ROUTING_KINDS = {"education.enrolled", "education.elective-home-education-notice"}

NOTICE, PENDING, DELIVERED, OPEN, ACK, ESCALATED, HISTORIC = (
    "notice:",
    "pending:",
    "delivered:",
    "open:",
    "ack:",
    "escalated:",
    "historic:",
)


def _notice_name(stream: str, notice_id: str) -> str:
    # Sealed with the child's key; kept by a rebuild (an escalation is not derived from the log).
    return NOTICE + child_document(stream, notice_id)


WITHDRAWN = "the police no longer share this incident with you"
RETRACTED_NOTICE = "the police retracted this incident"


def notice_content(view: ChronologyView, ref: str) -> dict[str, Any]:
    """The minimal notice, from what the gate released of the incident to this recipient:
    nothing beyond these fields, with the markers the gate put in their place. An incident no
    longer released (withheld or erased since) or retracted says so, and nothing of itself."""
    entry = next((e for e in view.entries if e.ref == ref), None)
    if entry is None or entry.retracted:
        empty = dict.fromkeys(("child", "incident_at", *NOTICE_FIELDS))
        return empty | {"shared": False, "note": RETRACTED_NOTICE if entry else WITHDRAWN}
    details = entry.details
    return {
        "child": view.child,
        "incident_at": entry.occurred_at.isoformat(),
        "child_present": details.get("child_present"),
        "police_reference": details.get("police_reference"),
        "child_voice": details.get("child_voice"),
        "shared": True,
        "note": None,
    }


@dataclass(frozen=True)
class EncompassRules:
    front_door_team: str
    escalate_after: timedelta = timedelta(hours=2)
    max_age: timedelta = timedelta(days=28)


class UnknownNoticeError(LookupError):
    pass


class EncompassConsumer:
    name = "encompass"
    description = "Operation Encompass notices to schools (or the LA front door)"
    # Everything about issued notices: a rebuild re-derives only routing facts and historic marks.
    kept_on_rebuild: tuple[str, ...] = (NOTICE, PENDING, DELIVERED, OPEN, ACK, ESCALATED)

    def __init__(
        self,
        rules: EncompassRules,
        directory: PractitionerDirectory,
        gate: Callable[[], DisclosureGate],
        pseudonyms: Pseudonymiser,
        register: Callable[[], Mapping[str, AgencyRecord]] = dict,
    ) -> None:
        self._rules = rules
        self._directory = directory
        self._gate = gate
        self._pseudonyms = pseudonyms
        self._register = register  # the agency register by id: names and contacts

    # -- folding the log ---------------------------------------------------------------

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        if entry.entry_type != "agency-event":
            return
        body = entry.body
        kind = body["kind"]
        stream = entry.originator_id.hex
        if kind in _ROUTING_KINDS or kind == "record.retracted":
            name = child_document(stream)
            child = documents.get(name) or {"events": {}}
            key = f"{body['agency']['id']}/{body['event_id']}"
            current = child["events"].get(key)
            if current is None or body["revision"] > current["revision"]:
                child["events"][key] = body
            documents.put(name, child)
        elif kind == INCIDENT and body.get("details", {}).get("child_lives_at_address", True):
            self._issue(stream, body, documents, now)

    def _notice_id(self, body: dict[str, Any]) -> str:
        ref = f"{body['agency']['id']}/{body['event_id']}@{body['revision']}"
        return self._pseudonyms.source_stream("encompass-notice", ref).hex

    def _issue(
        self, stream: str, body: dict[str, Any], documents: Documents, now: datetime
    ) -> None:
        notice_id = self._notice_id(body)
        if documents.get(_notice_name(stream, notice_id)) is not None:
            return  # issued before a rebuild: never again
        occurred = datetime.fromisoformat(body["occurred_at"])
        if now - occurred > self._rules.max_age:
            documents.put(f"{HISTORIC}{notice_id}", {"at": now.isoformat()})
            return
        school, recipients = self._route(stream, documents, now)
        earlier = (
            self._pseudonyms.source_stream(
                "encompass-notice",
                f"{body['agency']['id']}/{body['event_id']}@{body['revision'] - 1}",
            ).hex
            if body["revision"] > 1
            else None
        )
        notice = {
            "id": notice_id,
            "child_stream": stream,
            "ref": f"{body['agency']['id']}/{body['event_id']}@{body['revision']}",
            "occurred_at": occurred.isoformat(),
            "route": "school" if school else "front-door",
            "organisation": school.organisation if school else None,
            "enrolment": school.source_event_id if school else None,
            "recipients": recipients,
            "issued_at": now.isoformat(),
            "deadline": next_school_day_start(occurred).isoformat(),
            "corrects": earlier,
            "escalated_from": None,
        }
        documents.put(_notice_name(stream, notice_id), notice)
        documents.put(f"{PENDING}{notice_id}", {"child_stream": stream})

    def _route(
        self, stream: str, documents: Documents, now: datetime
    ) -> tuple[RelationshipGrant | None, list[str]]:
        """The enrolment the child has now and its school's active DSLs; else the front door."""
        child = documents.get(child_document(stream)) or {"events": {}}
        events = [CanonicalEvent.model_validate(b) for b in child["events"].values()]
        schools = [
            g
            for g in derive_relationships(events)
            if g.basis is RelationshipBasis.SCHOOL_DSL
            and g.valid_from <= now
            and (g.valid_to is None or now < g.valid_to)
        ]
        today = uk_date(now)
        for grant in sorted(schools, key=lambda g: g.valid_from, reverse=True):
            dsls = [
                p.id
                for p in self._directory.all()
                if p.organisation == grant.organisation
                and p.role is Role.SCHOOL_DSL
                and p.is_active(today)
            ]
            if dsls:
                return grant, dsls
        return None, self._front_door(today)

    def _front_door(self, today: Any) -> list[str]:
        return [
            p.id
            for p in self._directory.all()
            if self._rules.front_door_team in p.teams and p.is_active(today)
        ]

    # -- delivery, escalation ---------------------------------------------------------

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        for name in documents.names(PENDING):
            notice_id = name.removeprefix(PENDING)
            pending = documents.get(name)
            assert pending is not None
            notice = documents.get(_notice_name(pending["child_stream"], notice_id))
            if notice is None:  # the child's record was erased: nothing to deliver
                documents.delete(name)
                commit()
                continue
            self._deliver(notice, documents, now)
            documents.delete(name)
            commit()
        for name in documents.names(OPEN):
            notice_id = name.removeprefix(OPEN)
            opened = documents.get(name)
            assert opened is not None
            if documents.get(f"{ACK}{notice_id}") is not None:
                documents.delete(name)
            elif now >= datetime.fromisoformat(opened["escalate_at"]):
                self._escalate(notice_id, opened, documents, now)
                documents.delete(name)
            commit()

    def _deliver(self, notice: Document, documents: Documents, now: datetime) -> None:
        delivered_to: list[str] = []
        refused: list[str] = []
        for practitioner_id in notice["recipients"]:
            practitioner = self._directory.get(practitioner_id)
            if practitioner is None:
                refused.append(practitioner_id)
                continue
            if self._disclose(notice, practitioner, now):
                delivered_to.append(practitioner_id)
            else:
                refused.append(practitioner_id)
        if not delivered_to and notice["route"] == "school":
            # The police withheld it from the school (or no DSL may receive it): the front door.
            notice.update(route="front-door", organisation=None, enrolment=None)
            notice["recipients"] = self._front_door(uk_date(now))
            documents.put(_notice_name(notice["child_stream"], notice["id"]), notice)
            for practitioner_id in notice["recipients"]:
                practitioner = self._directory.get(practitioner_id)
                if practitioner and self._disclose(notice, practitioner, now):
                    delivered_to.append(practitioner_id)
        deadline = datetime.fromisoformat(notice["deadline"])
        record = {
            "child_stream": notice["child_stream"],
            "route": notice["route"],
            "recipients": delivered_to,
            "refused": refused,
            "at": now.isoformat(),
            "deadline": notice["deadline"],
            "late": now > deadline,
            "escalated_from": notice["escalated_from"],
        }
        documents.put(f"{DELIVERED}{notice['id']}", record)
        if delivered_to:
            escalate_at = max(now, deadline) + self._rules.escalate_after
            documents.put(
                f"{OPEN}{notice['id']}",
                {"escalate_at": escalate_at.isoformat(), "route": notice["route"]},
            )
        else:
            log.error("encompass_notice_undeliverable", route=notice["route"])

    def _grant(self, notice: Document) -> RelationshipGrant:
        """The relationship the notice was routed by: the child's enrolment, or the front
        door's for this one notice."""
        ref = notice["ref"]
        occurred = datetime.fromisoformat(notice["occurred_at"]).astimezone(UTC)
        if notice["route"] == "school":
            return RelationshipGrant(  # the enrolment the notice was routed by
                basis=RelationshipBasis.SCHOOL_DSL,
                valid_from=occurred - timedelta(days=1),
                valid_to=None,
                source_event_id=notice["enrolment"],
                organisation=notice["organisation"],
                role=Role.SCHOOL_DSL,
            )
        return RelationshipGrant(
            basis=RelationshipBasis.NOTICE_ROUTING,
            valid_from=occurred - timedelta(days=1),
            valid_to=None,
            source_event_id=ref,
            team=self._rules.front_door_team,
        )

    def _release(self, notice: Document, recipient: str, now: datetime | None) -> ChronologyView:
        """The notice's incident as the gate releases it to this recipient, with the child's
        latest details record for the header (only if the incident is released; audited as
        one disclosure, once per recipient: a delivery retried after a crash, or the inbox read
        again, finds the audit entry of the delivery unless a newer details record is shown)."""
        return self._gate().disclose(
            notice["child_stream"],
            recipient,
            Disclosure(
                Purpose.OPERATION_ENCOMPASS,
                Action.RECEIVE_NOTICE,
                items=frozenset({notice["ref"]}),
                fields=NOTICE_PATHS | HEADER_PATHS,
                accompanying=CHILD_DETAILS_KINDS,
                relationship=self._grant(notice),
                reuse_audit=True,
                at=now,
            ),
        )

    def _disclose(self, notice: Document, practitioner: Practitioner, now: datetime) -> bool:
        """Whether the notice was released to this recipient (decided and audited first)."""
        view = self._release(notice, practitioner.id, now)
        return bool(notice_content(view, notice["ref"])["shared"])

    def _escalate(
        self, notice_id: str, opened: Document, documents: Documents, now: datetime
    ) -> None:
        if opened["route"] != "school":
            documents.put(f"{ESCALATED}{notice_id}", {"at": now.isoformat(), "to": None})
            log.warning("encompass_front_door_notice_unacknowledged")
            return
        delivered = documents.get(f"{DELIVERED}{notice_id}")
        assert delivered is not None
        original = documents.get(_notice_name(delivered["child_stream"], notice_id))
        if original is None:  # erased meanwhile
            documents.put(f"{ESCALATED}{notice_id}", {"at": now.isoformat(), "to": None})
            return
        escalation_id = self._pseudonyms.source_stream("encompass-escalation", notice_id).hex
        notice = {
            **original,
            "id": escalation_id,
            "route": "front-door",
            "organisation": None,
            "enrolment": None,
            "recipients": self._front_door(uk_date(now)),
            "issued_at": now.isoformat(),
            "deadline": now.isoformat(),
            "corrects": None,
            "escalated_from": notice_id,
        }
        documents.put(_notice_name(delivered["child_stream"], escalation_id), notice)
        documents.put(f"{PENDING}{escalation_id}", {"child_stream": delivered["child_stream"]})
        documents.put(f"{ESCALATED}{notice_id}", {"at": now.isoformat(), "to": escalation_id})

    # -- the recipients' side ---------------------------------------------------------

    def inbox(
        self, documents: Documents, practitioner_id: str, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The notices delivered to this practitioner, newest first, with acknowledgement;
        what each says, and its header (who the child is; None for a notice no longer shared),
        is released again by the gate (so later restrictions apply)."""
        notices = []
        for name in documents.names(DELIVERED):
            delivered = documents.get(name)
            assert delivered is not None
            if practitioner_id not in delivered["recipients"]:
                continue
            notice_id = name.removeprefix(DELIVERED)
            notice = documents.get(_notice_name(delivered["child_stream"], notice_id))
            if notice is None:
                continue  # erased
            ack = documents.get(f"{ACK}{notice_id}")
            view = self._release(notice, practitioner_id, now)
            content = notice_content(view, notice["ref"])
            header = (
                child_header(
                    view,
                    self._register(),
                    self._directory.get,
                    uk_date(now or datetime.now(UTC)),
                ).as_dict()
                if content["shared"]
                else None
            )
            notices.append(
                {
                    "id": notice_id,
                    "header": header,
                    **content,
                    "delivered_at": delivered["at"],
                    "due_by": delivered["deadline"],
                    "late": delivered["late"],
                    "corrects": notice["corrects"],
                    "escalated_from": notice["escalated_from"],
                    "acknowledged_by": ack["by"] if ack else None,
                    "acknowledged_at": ack["at"] if ack else None,
                }
            )
        return sorted(notices, key=lambda n: n["delivered_at"], reverse=True)

    def acknowledge(
        self, documents: Documents, notice_id: str, practitioner_id: str, now: datetime
    ) -> dict[str, Any]:
        delivered = documents.get(f"{DELIVERED}{notice_id}")
        if delivered is None:
            raise UnknownNoticeError(f"no delivered notice {notice_id}")
        if practitioner_id not in delivered["recipients"]:
            raise PermissionError("only a recipient of the notice can acknowledge it")
        existing = documents.get(f"{ACK}{notice_id}")
        if existing is not None:
            return existing
        ack = {"by": practitioner_id, "at": now.isoformat()}
        documents.put(f"{ACK}{notice_id}", ack)
        return ack

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        delivered = [documents.get(n) for n in documents.names(DELIVERED)]
        escalated = [documents.get(n) for n in documents.names(ESCALATED)]
        return {
            "notices_pending": len(documents.names(PENDING)),
            "notices_delivered": len(delivered),
            "delivered_late": sum(1 for d in delivered if d and d["late"]),
            "undeliverable": sum(1 for d in delivered if d and not d["recipients"]),
            "awaiting_acknowledgement": len(documents.names(OPEN)),
            "acknowledged": len(documents.names(ACK)),
            "escalated_to_front_door": sum(1 for e in escalated if e and e["to"]),
            "unacknowledged_at_front_door": sum(1 for e in escalated if e and not e["to"]),
            "historic_not_notified": len(documents.names(HISTORIC)),
        }
