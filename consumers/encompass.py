"""Operation Encompass: tell a child's school, before the next school day, that police attended
a domestic abuse incident where the child lives, so the school can support the child that day.

The consumer follows the hub's log. For each `police.domestic-abuse-incident` where the child
lives at the address it issues a minimal notice: the child, when the incident happened, whether
the child was present, the police reference and the child's voice if recorded, and nothing
else. The notice goes to the designated safeguarding leads of the school the child is enrolled
at (the same enrolment relationship the chronology uses); for a child not in school (never
enrolled, home educated, or a school with no DSL in the directory) it goes to the local
authority's front door team.

Issuing and delivering are separate steps, so each happens exactly once:

1. `apply` (folding the log): the notice is derived, with its recipients, and committed with
   the consumer's position. A correction of the incident issues a corrected notice; an
   incident older than `max_age` when first seen (a backfill) is recorded, not notified.
2. `act` (delivery): each recipient is policy-checked (action `receive-notice`, purpose
   `operation-encompass`) and the disclosure is audited before the notice is marked delivered.
   After a crash between the audit entry and the mark, the audit entry is found again and not
   written twice. A school recipient the policy refuses (the police withheld the incident from
   education) is replaced by the front door.
3. Acknowledgement is by the recipient (`hub notices ack`). A school notice not acknowledged
   `escalate_after` past the start of the school day (or past delivery, if later) is escalated:
   a new notice to the front door, itself policy-checked and audited. A front-door notice left
   unacknowledged is reported by `hub consumer status`.

School days are English working days (weekends and bank holidays); term dates are not known
to the hub, so a notice during a school holiday is still due the next working day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from consumers.framework import Document, Documents, child_document
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.access import Practitioner, Purpose, RelationshipBasis, RelationshipGrant, Role
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.records import ChildRecordEntry, DisclosureAudited
from hub.domain.relationships import derive_relationships
from hub.domain.working_days import next_school_day_start
from hub.policies.decision import AccessContext, Action, DecisionPoint, ItemAttributes

if TYPE_CHECKING:
    from hub.adapters.directory import PractitionerDirectory
    from hub.audit import AuditLedger
    from hub.bootstrap import Hub

log = structlog.get_logger("hub.consumers.encompass")
UK = ZoneInfo("Europe/London")
INCIDENT = "police.domestic-abuse-incident"
NOTICE_FIELDS = ("child_present", "police_reference", "child_voice")
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


def notice_content(body: dict[str, Any]) -> dict[str, Any]:
    """The minimal notice: nothing from the incident beyond these fields is ever sent."""
    details = body.get("details", {})
    child = body["child"]
    return {
        "child": child.get("nhs_number") or child.get("provisional_id"),
        "incident_at": datetime.fromisoformat(body["occurred_at"]).isoformat(),
        "child_present": bool(details.get("child_present")),
        "police_reference": details.get("police_reference"),
        "child_voice": details.get("child_voice"),
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
    kept_on_rebuild = (NOTICE, PENDING, DELIVERED, OPEN, ACK, ESCALATED)

    def __init__(
        self,
        rules: EncompassRules,
        directory: PractitionerDirectory,
        decisions: DecisionPoint,
        audit: AuditLedger,
        pseudonyms: Pseudonymiser,
    ) -> None:
        self._rules = rules
        self._directory = directory
        self._decisions = decisions
        self._audit = audit
        self._pseudonyms = pseudonyms

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
            "incident": body,
            "content": notice_content(body),
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
        today = now.astimezone(UK).date()
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
        event = CanonicalEvent.model_validate(notice["incident"])
        delivered_to: list[str] = []
        refused: list[str] = []
        for practitioner_id in notice["recipients"]:
            practitioner = self._directory.get(practitioner_id)
            if practitioner is None:
                refused.append(practitioner_id)
                continue
            if self._disclose(notice, event, practitioner, now):
                delivered_to.append(practitioner_id)
            else:
                refused.append(practitioner_id)
        if not delivered_to and notice["route"] == "school":
            # The police withheld it from the school (or no DSL may receive it): the front door.
            notice.update(route="front-door", organisation=None, enrolment=None)
            notice["recipients"] = self._front_door(now.astimezone(UK).date())
            documents.put(_notice_name(notice["child_stream"], notice["id"]), notice)
            for practitioner_id in notice["recipients"]:
                practitioner = self._directory.get(practitioner_id)
                if practitioner and self._disclose(notice, event, practitioner, now):
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

    def _grant(self, notice: Document, practitioner: Practitioner) -> RelationshipGrant:
        ref = notice["ref"]
        occurred = datetime.fromisoformat(notice["incident"]["occurred_at"]).astimezone(UTC)
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

    def _disclose(
        self, notice: Document, event: CanonicalEvent, practitioner: Practitioner, now: datetime
    ) -> bool:
        """Policy-check this recipient; audit the disclosure (once) before it counts."""
        grant = self._grant(notice, practitioner)
        decision = self._decisions.decide(
            practitioner,
            Action.RECEIVE_NOTICE,
            [ItemAttributes.of(event)],
            AccessContext(Purpose.OPERATION_ENCOMPASS, grant, False, now),
        )[0]
        ref = notice["ref"]
        outcome = "disclosed" if decision.permitted else "denied"
        if decision.permitted and self._already_audited(
            notice["child_stream"], practitioner.id, ref
        ):
            return True  # audited before a crash, not yet marked delivered
        left_out = ["summary", *(f"details.{k}" for k in event.details if k not in NOTICE_FIELDS)]
        self._audit.record_access(
            {
                "practitioner_id": practitioner.id,
                "organisation": practitioner.organisation,
                "role": practitioner.role.value,
                "action": Action.RECEIVE_NOTICE.value,
                "purpose": Purpose.OPERATION_ENCOMPASS.value,
                "lawful_basis": decision.lawful_basis,
                "agreement_version": decision.agreement_version,
                "child_stream": notice["child_stream"],
                "outcome": outcome,
                "disclosed": [ref] if decision.permitted else [],
                "redacted": {ref: left_out} if decision.permitted else {},
                "withheld": [ref] if decision.withheld else [],
                "denied": {} if decision.permitted else {p: 1 for p in decision.policies},
                "relationship": f"{grant.basis.value} via {grant.source_event_id}",
                "break_glass_reason": None,
                "siblings": [],
            },
            now,
        )
        return decision.permitted

    def _already_audited(self, child_stream: str, practitioner_id: str, ref: str) -> bool:
        """Whether this notice was disclosed to this practitioner already (a notice's ref and
        recipient identify it: an escalation goes to other people). A repeated refusal is
        harmless and not looked for."""
        return any(
            isinstance(record, DisclosureAudited)
            and record.action == Action.RECEIVE_NOTICE.value
            and record.practitioner_id == practitioner_id
            and ref in record.disclosed
            for record in self._audit.for_child(child_stream)
        )

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
            "recipients": self._front_door(now.astimezone(UK).date()),
            "issued_at": now.isoformat(),
            "deadline": now.isoformat(),
            "corrects": None,
            "escalated_from": notice_id,
        }
        documents.put(_notice_name(delivered["child_stream"], escalation_id), notice)
        documents.put(f"{PENDING}{escalation_id}", {"child_stream": delivered["child_stream"]})
        documents.put(f"{ESCALATED}{notice_id}", {"at": now.isoformat(), "to": escalation_id})

    # -- the recipients' side ---------------------------------------------------------

    def inbox(self, documents: Documents, practitioner_id: str) -> list[dict[str, Any]]:
        """The notices delivered to this practitioner, newest first, with acknowledgement."""
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
            notices.append(
                {
                    "id": notice_id,
                    **notice["content"],
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


def build(hub: Hub) -> EncompassConsumer:
    settings = hub.settings
    return EncompassConsumer(
        EncompassRules(
            front_door_team=settings.encompass_front_door_team,
            escalate_after=timedelta(minutes=settings.encompass_escalate_after_minutes),
            max_age=timedelta(days=settings.encompass_max_age_days),
        ),
        hub.directory,
        hub.decisions,
        hub.audit,
        hub.pseudonyms,
    )
