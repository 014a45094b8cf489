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
content or the child's details (only a recipient's note of the action taken, sealed with the
child's key). The notice goes to the designated safeguarding leads of the
school the child is enrolled at (the same enrolment relationship the chronology uses); for a
child not in school (never enrolled, home educated, or a school with no DSL in the directory)
it goes to the local authority's front door team. Where it goes is decided when it is
delivered, from what the consumer knows then, not when the incident is folded: an enrolment
the school publishes after the police publish the incident still routes the notice.

Issuing and delivering are separate steps, so each happens exactly once:

1. `apply` (folding the log): the notice is recorded, not yet addressed, and committed with
   the consumer's position. A correction of the incident issues a corrected notice; an
   incident older than `max_age` when first seen (a backfill) is recorded, not notified.
2. `act` (delivery): the notice is addressed (`_route`: the child's school's active DSLs, else
   the front door, with the reason), then each recipient is released it through the
   disclosure gate (action `receive-notice`, purpose `operation-encompass`), which decides and
   audits before the notice is marked delivered. After a crash between the audit entry and
   the mark, the gate finds the audit entry again and does not write it twice; reading the
   inbox again does not write it again either (the disclosure happened at delivery), unless it
   would show more. A school recipient the policy refuses (the police withheld the incident
   from education) is replaced by the front door.
3. Re-routing: a notice delivered to the front door because the school was unknown (not one
   withheld from education) is re-routed when an enrolment for the child is folded before the
   notice's deadline (the start of the next school day): a re-route notice (its id derived
   from the notice's, so it is issued once, even after a rebuild) is delivered to the school's
   DSLs through the gate, its own audited disclosure, with the usual escalation timer; the
   front door's delivery is kept, marked "re-routed to <school> at <time>", and its timer
   cancelled. An enrolment folded after the deadline changes nothing.
4. Acknowledgement is by the recipient (`hub notices ack`), with the action they took as free
   text (at most 2,000 characters, sealed with the child's key). A school notice not
   acknowledged `escalate_after` past the start of the school day (or past delivery, if later)
   is escalated: a new notice to the front door, itself policy-checked and audited. A
   front-door notice left unacknowledged is reported by `hub consumer status`.

School days are English working days (weekends and bank holidays); term dates are not known
to the hub, so a notice during a school holiday is still due the next working day.

One piece (about 630 lines): issuing, delivering, re-routing and escalating are the steps of
one state machine over the consumer's notice documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from consumers.framework import Document, Documents, NoOutbound, Outbound, child_document
from hub.adapters.pseudonyms import Pseudonymiser
from hub.chronology_header import child_header
from hub.disclosure_gate import ChronologyView, Disclosure, DisclosureGate
from hub.domain.access import Practitioner, Purpose, RelationshipBasis, RelationshipGrant, Role
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.records import ChildRecordEntry
from hub.domain.relationships import derive_relationships
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import uk_date, uk_datetime_text
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

NOTICE, PENDING, DELIVERED, OPEN, ACK, ACTION_TAKEN, ESCALATED, HISTORIC = (
    "notice:",
    "pending:",
    "delivered:",
    "open:",
    "ack:",
    "action-taken:",  # + child_document: free text, sealed with the child's key
    "escalated:",
    "historic:",
)
OUTBOX, SENT = "outbox:", "sent:"  # the outbound channels' documents (`consumers.inbox.outbound`)
# Why a notice went where it did (the delivery record's `reason`). Only a notice the front
# door was sent because the school was unknown is re-routed when an enrolment arrives.
ENROLLED_AT_SCHOOL = "enrolled at the school"
SCHOOL_UNKNOWN = "school unknown"
WITHHELD_FROM_SCHOOL = "withheld from the school"
NOT_ACKNOWLEDGED = "the school did not acknowledge it in time"
# A notice is addressed when it is delivered, from what the consumer knows then.
UNROUTED: dict[str, Any] = {
    "route": None,
    "organisation": None,
    "enrolment": None,
    "recipients": [],
    "reason": None,
}
ACTION_TAKEN_MAX_CHARS = 2000


def _notice_name(stream: str, notice_id: str) -> str:
    # Sealed with the child's key; kept by a rebuild (an escalation is not derived from the log).
    return NOTICE + child_document(stream, notice_id)


def _action_taken_name(stream: str, notice_id: str) -> str:
    return ACTION_TAKEN + child_document(stream, notice_id)


def checked_action_taken(text: str | None) -> str | None:
    """What the recipient did, stripped (None if blank). The error names the field only: the
    text may say anything about the child."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError("action_taken must be text")
    text = text.strip()
    if len(text) > ACTION_TAKEN_MAX_CHARS:
        raise ValueError(f"action_taken is longer than {ACTION_TAKEN_MAX_CHARS} characters")
    return text or None


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
    kept_on_rebuild: tuple[str, ...] = (
        NOTICE,
        PENDING,
        DELIVERED,
        OPEN,
        ACK,
        ACTION_TAKEN,
        ESCALATED,
        OUTBOX,
        SENT,
    )

    def __init__(
        self,
        rules: EncompassRules,
        directory: PractitionerDirectory,
        gate: Callable[[], DisclosureGate],
        pseudonyms: Pseudonymiser,
        register: Callable[[], Mapping[str, AgencyRecord]] = dict,
        outbound: Outbound | None = None,
    ) -> None:
        self._rules = rules
        self._directory = directory
        self._gate = gate
        self._pseudonyms = pseudonyms
        self._register = register  # the agency register by id: names and contacts
        # Email / webhook: "you have N new items" when a notice is delivered (never its content).
        self.outbound: Outbound = outbound or NoOutbound()

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
            if kind == "education.enrolled":
                self._request_reroutes(stream, documents, now)
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
            **UNROUTED,  # routed at delivery (`_deliver`)
            "issued_at": now.isoformat(),
            "deadline": next_school_day_start(occurred).isoformat(),
            "corrects": earlier,
            "escalated_from": None,
            "rerouted_from": None,
        }
        documents.put(_notice_name(stream, notice_id), notice)
        documents.put(f"{PENDING}{notice_id}", {"child_stream": stream})

    def _request_reroutes(self, stream: str, documents: Documents, now: datetime) -> None:
        """An enrolment folded before the school day a notice is due by, for a child whose
        notice went to the front door because their school was unknown: the notice is issued
        again as a re-route, addressed at delivery. Once per notice: the re-route's name is
        derived from the notice's, and notices and deliveries are kept by a rebuild."""
        for name in documents.names(_notice_name(stream, "")):
            notice_id = name.rsplit(":", 1)[1]
            delivered = documents.get(f"{DELIVERED}{notice_id}")
            if (
                delivered is None
                or delivered.get("reason") != SCHOOL_UNKNOWN
                or delivered.get("rerouted_to")
                or now >= datetime.fromisoformat(delivered["deadline"])
            ):
                continue
            reroute_id = self._pseudonyms.source_stream("encompass-reroute", notice_id).hex
            if documents.get(_notice_name(stream, reroute_id)) is not None:
                continue  # on its way already
            original = documents.get(name)
            if original is None:  # the child's record was erased
                continue
            reroute = {
                **original,
                **UNROUTED,
                "id": reroute_id,
                "issued_at": now.isoformat(),
                "corrects": None,
                "escalated_from": None,
                "rerouted_from": notice_id,
            }
            documents.put(_notice_name(stream, reroute_id), reroute)
            documents.put(f"{PENDING}{reroute_id}", {"child_stream": stream})

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
        self.outbound.send(documents, now, commit)

    def _deliver(self, notice: Document, documents: Documents, now: datetime) -> None:
        """Address the notice from what the consumer knows now (an escalation is addressed to
        the front door already), release it to each recipient through the gate, record it."""
        name = _notice_name(notice["child_stream"], notice["id"])
        rerouted_from = notice.get("rerouted_from")
        if notice["escalated_from"] is None:
            notice.update(self._addressed(notice["child_stream"], documents, now))
        if rerouted_from and notice["route"] != "school":
            documents.delete(name)  # still no school with a DSL: the front door keeps it
            return
        delivered_to, refused = self._release_to(notice, now)
        if not delivered_to and notice["route"] == "school":
            if rerouted_from:  # withheld from the school: the front door has it already
                documents.delete(name)
                return
            # The police withheld it from the school (or no DSL may receive it): the front door.
            notice.update(
                route="front-door",
                organisation=None,
                enrolment=None,
                reason=WITHHELD_FROM_SCHOOL,
                recipients=self._front_door(uk_date(now)),
            )
            delivered_to += self._release_to(notice, now)[0]
        documents.put(name, notice)
        deadline = datetime.fromisoformat(notice["deadline"])
        record = {
            "child_stream": notice["child_stream"],
            "route": notice["route"],
            "reason": notice.get("reason"),
            "recipients": delivered_to,
            "refused": refused,
            "at": now.isoformat(),
            "deadline": notice["deadline"],
            "late": now > deadline,
            "escalated_from": notice["escalated_from"],
            "rerouted_from": rerouted_from,
        }
        documents.put(f"{DELIVERED}{notice['id']}", record)
        for practitioner_id in delivered_to:
            practitioner = self._directory.get(practitioner_id)
            if practitioner is not None:
                item = {"id": notice["id"], "type": "notice", "created_at": record["at"]}
                self.outbound.queue(documents, practitioner, item)
        if rerouted_from and delivered_to:
            self._mark_rerouted(rerouted_from, notice, documents, now)
        if delivered_to:
            escalate_at = max(now, deadline) + self._rules.escalate_after
            documents.put(
                f"{OPEN}{notice['id']}",
                {"escalate_at": escalate_at.isoformat(), "route": notice["route"]},
            )
        else:
            log.error("encompass_notice_undeliverable", route=notice["route"])

    def _addressed(self, stream: str, documents: Documents, now: datetime) -> dict[str, Any]:
        school, recipients = self._route(stream, documents, now)
        return {
            "route": "school" if school else "front-door",
            "organisation": school.organisation if school else None,
            "enrolment": school.source_event_id if school else None,
            "recipients": recipients,
            "reason": ENROLLED_AT_SCHOOL if school else SCHOOL_UNKNOWN,
        }

    def _release_to(self, notice: Document, now: datetime) -> tuple[list[str], list[str]]:
        """The recipients the notice was released to, and those refused it."""
        delivered_to: list[str] = []
        refused: list[str] = []
        for practitioner_id in notice["recipients"]:
            practitioner = self._directory.get(practitioner_id)
            if practitioner is not None and self._disclose(notice, practitioner, now):
                delivered_to.append(practitioner_id)
            else:
                refused.append(practitioner_id)
        return delivered_to, refused

    def _mark_rerouted(
        self, notice_id: str, school_notice: Document, documents: Documents, now: datetime
    ) -> None:
        """The front-door delivery the school's replaces: kept, marked, its timer cancelled."""
        name = f"{DELIVERED}{notice_id}"
        record = documents.get(name)
        assert record is not None
        organisation = school_notice["organisation"]
        agency = self._register().get(organisation)
        school = agency.display_name if agency else organisation
        record.update(
            rerouted=f"re-routed to {school} at {uk_datetime_text(now)}",
            rerouted_to=school_notice["id"],
            rerouted_at=now.isoformat(),
        )
        documents.put(name, record)
        if documents.get(f"{OPEN}{notice_id}") is not None:
            documents.delete(f"{OPEN}{notice_id}")

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
            "rerouted_from": None,
            "reason": NOT_ACKNOWLEDGED,
        }
        documents.put(_notice_name(delivered["child_stream"], escalation_id), notice)
        documents.put(f"{PENDING}{escalation_id}", {"child_stream": delivered["child_stream"]})
        documents.put(f"{ESCALATED}{notice_id}", {"at": now.isoformat(), "to": escalation_id})

    # -- the recipients' side ---------------------------------------------------------

    def unacknowledged(self, documents: Documents, practitioner_id: str) -> int:
        """How many notices delivered to them nobody has acknowledged yet (counted from the
        consumer's documents: nothing is released, nothing audited)."""
        names = documents.names(DELIVERED)
        documents.load(names)
        waiting = 0
        for name in names:
            delivered = documents.get(name)
            if delivered is None or practitioner_id not in delivered["recipients"]:
                continue
            if documents.get(f"{ACK}{name.removeprefix(DELIVERED)}") is None:
                waiting += 1
        return waiting

    def inbox(
        self, documents: Documents, practitioner_id: str, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The notices delivered to this practitioner, newest first, with acknowledgement (and
        the action taken) and, for a front-door notice re-routed to the school, when and where;
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
            action = documents.get(_action_taken_name(delivered["child_stream"], notice_id))
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
                    "action_taken": action["action_taken"] if action else None,
                    "rerouted": delivered.get("rerouted"),
                    "rerouted_from": notice.get("rerouted_from"),
                }
            )
        return sorted(notices, key=lambda n: n["delivered_at"], reverse=True)

    def acknowledge(
        self,
        documents: Documents,
        notice_id: str,
        practitioner_id: str,
        now: datetime,
        action_taken: str | None = None,
    ) -> dict[str, Any]:
        """Acknowledge a notice delivered to this practitioner, with what they did (free text,
        at most `ACTION_TAKEN_MAX_CHARS`, kept sealed with the child's key so erasing the child
        erases it). Acknowledging again changes nothing and returns the first acknowledgement."""
        action_taken = checked_action_taken(action_taken)
        delivered = documents.get(f"{DELIVERED}{notice_id}")
        if delivered is None:
            raise UnknownNoticeError(f"no delivered notice {notice_id}")
        if practitioner_id not in delivered["recipients"]:
            raise PermissionError("only a recipient of the notice can acknowledge it")
        action_name = _action_taken_name(delivered["child_stream"], notice_id)
        existing = documents.get(f"{ACK}{notice_id}")
        if existing is not None:
            recorded = documents.get(action_name)
            return existing | {"action_taken": recorded["action_taken"] if recorded else None}
        ack = {"by": practitioner_id, "at": now.isoformat()}
        documents.put(f"{ACK}{notice_id}", ack)
        if action_taken is not None:
            documents.put(action_name, {"action_taken": action_taken})
        return ack | {"action_taken": action_taken}

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
            "rerouted_to_school": sum(1 for d in delivered if d and d.get("rerouted_to")),
            "escalated_to_front_door": sum(1 for e in escalated if e and e["to"]),
            "unacknowledged_at_front_door": sum(1 for e in escalated if e and not e["to"]),
            "historic_not_notified": len(documents.names(HISTORIC)),
        }
