"""The leak property: whatever publishers send, no shielded value and no withheld or retracted
item reaches anyone it must not, on any surface, for any role.

Hypothesis generates children's records: events from all four agency types, against the NHS
number or a provisional id later linked (and sometimes unlinked), each record with revisions
that add or drop shields and withholdings, some retracted, some in households, sometimes
followed by a projection rebuild. Every text in them is a distinct canary. Then every surface
is driven for every role: the chronology (the gate's view, the CLI's text, the HTTP API),
replay and the review pack, Operation Encompass notices, statutory clock alerts, the outbound
feed (a real broker), each viewer's inbox (change, pattern and access notifications), the DPOs'
withheld lists and withholding review queues (a lead DPO's,
the police's and a school's), a subject access export, and a subject access case's pack. An
oracle that knows the rules from the canonical events alone (not from the hub's code) says
which canaries each viewer must never receive, and each output is searched for them.

The rules the oracle applies (docs/policy.md):
- a field shielded in a revision or in its record's latest revision: nobody, ever;
- a revision withheld (in itself or in its record's latest revision) from a role or agency
  type: nobody with that role or agency type (except a data protection officer auditing their
  own organisation's records, or a lead DPO), and never in a subject access export; the same
  for a withholding's reason;
- a retracted record: nobody outside its publisher's organisation;
- a subject access export also never carries the agreement's subject_access_redact fields.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import docx
import pytest
import yaml
from fastapi.testclient import TestClient
from fhir.resources.R4B.flag import Flag as FhirFlag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.clock_alerts import list_alerts
from consumers.encompass import EncompassConsumer
from consumers.feed import FeedConsumer, FeedProducer, kafka_producer
from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.api.chronology_views import Filters, Held, view_context
from hub.api.page_kit import page_templates
from hub.api.sessions import Session
from hub.bootstrap import Hub, bootstrap
from hub.chronology_header import child_header
from hub.cli.access import _print_chronology
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.subject_access import (
    Decision,
    DecisionType,
    Flag,
    Requester,
    RequesterBasis,
)
from hub.domain.uk_time import uk_date
from hub.federation_transfer import TransferService
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.policies.decision import Action
from hub.reports.chronology_exports import ExportPart, chronology_csv, chronology_docx
from hub.reports.inbox_words import item_lines, item_title
from hub.reports.review_pack import build_pack, render_html
from hub.reports.subject_access_pack import render_json
from hub.settings import HubSettings
from tests.factories import (
    directory_with_police_dpo,
    event_dict,
    nhs_number,
    register_agencies,
)

pytestmark = pytest.mark.kafka

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
ICB = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}


@dataclass(frozen=True)
class Viewer:
    id: str
    role: str
    agency_type: str
    organisation: str
    purpose: Purpose

    @property
    def auditing(self) -> bool:
        return self.purpose is Purpose.DATA_PROTECTION_AUDIT


VIEWERS = [
    Viewer("lcpp-0001", "lead-child-protection-practitioner", "local-authority",
           "shire-county-council", Purpose.CHILD_PROTECTION_ENQUIRY),
    Viewer("sw-0002", "social-worker", "local-authority", "shire-county-council",
           Purpose.CHILD_PROTECTION_PLANNING),
    Viewer("fh-0001", "family-help-worker", "local-authority", "shire-county-council",
           Purpose.FAMILY_HELP),
    Viewer("po-0001", "police-officer", "police", "shire-constabulary",
           Purpose.CHILD_PROTECTION_ENQUIRY),
    Viewer("hp-0001", "health-practitioner", "health", "shire-icb",
           Purpose.CHILD_PROTECTION_PLANNING),
    Viewer("dsl-100001", "school-designated-safeguarding-lead", "education", "school-100001",
           Purpose.CHILD_PROTECTION_PLANNING),
    Viewer("mash-0001", "social-worker", "local-authority", "shire-county-council",
           Purpose.OPERATION_ENCOMPASS),
    Viewer("dpo-0001", "data-protection-officer", "local-authority", "shire-county-council",
           Purpose.DATA_PROTECTION_AUDIT),
    Viewer("dpo-police", "data-protection-officer", "police", "shire-constabulary",
           Purpose.DATA_PROTECTION_AUDIT),
    Viewer("dpo-0004", "data-protection-officer", "education", "school-100001",
           Purpose.DATA_PROTECTION_AUDIT),
    Viewer("rev-0001", "practice-reviewer", "local-authority", "shire-county-council",
           Purpose.PRACTICE_REVIEW),
]  # fmt: skip
BY_ID = {v.id: v for v in VIEWERS}
LEAD_DPOS = {"dpo-0001"}  # named in the agreement: they act for the whole partnership
FEED = Viewer("feed:leak", "health-practitioner", "health", "nhs-unscheduled-care",
              Purpose.CHILD_PROTECTION_PLANNING)  # fmt: skip
PARTNER = Viewer("hub:wessex", "partner-hub", "local-authority", "wessex",
                 Purpose.INTER_PARTNERSHIP_TRANSFER)  # fmt: skip
PARTNER_LA_CODE = "990"  # a local authority the partner hub covers
WITHHOLDABLE = [
    ("role", "social-worker"),
    ("role", "police-officer"),
    ("role", "health-practitioner"),
    ("role", "school-designated-safeguarding-lead"),
    ("role", "lead-child-protection-practitioner"),
    ("agency_type", "police"),
    ("agency_type", "health"),
    ("agency_type", "education"),
    ("agency_type", "local-authority"),
]
# (agency, kind, the detail that carries free text, the other details the kind needs)
TEMPLATES = [
    (LA, "la.contact", "note", {}),
    (POLICE, "police.domestic-abuse-incident", "child_voice",
     {"child_present": True, "police_reference": "OE-1"}),
    (POLICE, "police.home-visit", "reason", {"child_seen": True, "child_spoken_to": False}),
    (ICB, "health.health-visitor-concern", "note", {}),
    (SCHOOL, "education.safeguarding-disclosure", "note", {}),
    (LA, "la.cp-plan-ended", "note", {}),  # a status kind: the feed adds a FHIR Flag
]  # fmt: skip


@dataclass(frozen=True)
class RevisionSpec:
    shield_summary: bool
    shield_detail: bool
    withheld: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RecordSpec:
    template: int
    revisions: tuple[RevisionSpec, ...]
    retracted: bool
    on_provisional: bool
    household: bool


@dataclass(frozen=True)
class CaseSpec:
    records: tuple[RecordSpec, ...]
    provisional: bool
    unlink: bool
    rebuild: bool


revisions = st.builds(
    RevisionSpec,
    st.booleans(),
    st.booleans(),
    st.lists(st.sampled_from(WITHHOLDABLE), max_size=2, unique=True).map(tuple),
)
records = st.builds(
    RecordSpec,
    st.integers(0, len(TEMPLATES) - 1),
    st.lists(revisions, min_size=1, max_size=3).map(tuple),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
cases = st.builds(
    CaseSpec,
    st.lists(records, min_size=1, max_size=4).map(tuple),
    st.booleans(),
    st.booleans(),
    st.integers(0, 3).map(lambda n: n == 0),
)


@dataclass
class Canary:
    text: str
    publisher: str
    path: str  # "summary", "details.<name>" or "withholding" (a withholding's reason)
    shielded: bool
    withheld_roles: frozenset[str]
    withheld_types: frozenset[str]
    retracted: bool
    # On a provisional id that was linked and unlinked again: a child of its own, whom no
    # relationship in the case covers, so nobody may be shown it (and nobody must be).
    stranded: bool = False

    def forbidden_to(self, viewer: Viewer) -> bool:
        if self.shielded:
            return True
        if viewer.role == "partner-hub":  # a transfer: nothing withheld from anyone, ever
            return (
                self.retracted
                or self.path == "withholding"
                or bool(self.withheld_roles or self.withheld_types)
            )
        if self.retracted and viewer.organisation != self.publisher:
            return True
        if self.path == "withholding":  # only data protection officers see withholdings
            return not self.audited_by(viewer)
        withheld = viewer.role in self.withheld_roles or viewer.agency_type in self.withheld_types
        return withheld and not self.audited_by(viewer)

    def audited_by(self, viewer: Viewer) -> bool:
        """A DPO auditing sees withheld items and withholdings of their own organisation's
        records; a lead DPO every publisher's."""
        return (
            viewer.role == "data-protection-officer"
            and viewer.auditing
            and (viewer.id in LEAD_DPOS or viewer.organisation == self.publisher)
        )

    def forbidden_in_subject_access(self, redacted: frozenset[str]) -> bool:
        return (
            self.shielded
            or bool(self.withheld_roles or self.withheld_types)
            or self.path in redacted
            or self.path == "withholding"
        )


@dataclass
class World:
    hub: Hub
    api: TestClient
    tokens: dict[str, str]
    feed_sent: list[bytes]
    serial: Iterator[int] = field(default_factory=lambda: itertools.count(9000))
    positions: dict[str, int] = field(default_factory=dict)

    def publish(self, agency: dict[str, str], document: dict[str, Any]) -> None:
        source = f"inbox:{agency['id']}/leak-property"
        self.positions[source] = position = self.positions.get(source, 0) + 1
        value = json.dumps(document).encode()
        outcome = self.hub.ingest.ingest([InboundMessage(source, position, value, agency["id"])])
        assert outcome.accepted == 1, (outcome, document["event_id"])


class SpyProducer:
    """The real Kafka producer; every message handed to it is also kept to be searched."""

    def __init__(self, inner: FeedProducer, sent: list[bytes]) -> None:
        self._inner, self._sent = inner, sent

    def send(self, topic: str, *, key: bytes, value: bytes, headers: list[Any]) -> Any:
        self._sent.append(key + b"\n" + value)
        return self._inner.send(topic, key=key, value=value, headers=headers)

    def flush(self, timeout: float | None = None) -> None:
        self._inner.flush(timeout)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, kafka_broker: str) -> Iterator[World]:
    root = tmp_path_factory.mktemp("leak-property")
    directory_with_police_dpo(root / "practitioners.yaml")
    recipients = {
        "recipients": [
            {
                "name": "leak",
                "description": "unscheduled care (leak property)",
                "organisation": FEED.organisation,
                "agency_type": FEED.agency_type,
                "role": FEED.role,
                "teams": ["macpt:shire-county-council"],
                "purpose": FEED.purpose.value,
                "topic": f"hub.feed.leak-{root.name}",
                "kinds": ["la.contact", "la.cp-plan-ended", "police.*", "health.*", "education.*"],
                "include_summary": True,
                "fhir_flags": True,  # the Flag form is searched for canaries too
                "bootstrap_servers": kafka_broker,
                "connect_timeout_ms": 5000,
            }
        ]
    }
    (root / "hub").mkdir()
    (root / "hub" / "feed-recipients.yaml").write_text(yaml.safe_dump(recipients))
    register = {
        "format": "hub-federation-register-v1",
        "this_hub": {"id": "shire", "name": "Shire", "contact": "Shire MASH",
                     "kafka": {"bootstrap": [kafka_broker], "topic": f"hub.fed.{root.name}"}},
        "partners": [{
            "id": PARTNER.organisation, "name": "Wessex Safeguarding Children Partnership",
            "contact": "Wessex duty desk", "public_key": "ab" * 32,
            "kafka": {"bootstrap": [kafka_broker], "topic": f"hub.federation.w-{root.name}"},
            "agreement_version": "shire-wessex-2026.1", "active_from": "2020-01-01",
            "local_authorities": [PARTNER_LA_CODE],
        }],
    }  # fmt: skip
    (root / "federation.yaml").write_text(yaml.safe_dump(register))
    hub = bootstrap(
        HubSettings(
            data_dir=root / "hub",
            directory=root / "practitioners.yaml",
            federation_register=root / "federation.yaml",
        )
    )
    register_agencies(hub)
    app = create_app(hub, hub.token_verifier())
    tokens = {v.id: issue_dev_token(hub.token_key, v.id, 600) for v in VIEWERS}
    with TestClient(app) as api:
        yield World(hub, api, tokens, [])
    hub.close()


def build_case(world: World, spec: CaseSpec) -> tuple[list[ChildRef], list[Canary]]:
    """Publish the case; the children whose records hold it (a provisional id unlinked again
    is a child of its own) and its canaries."""
    serial = next(world.serial)
    nhs = nhs_number(serial)
    child = ChildRef(nhs_number=nhs)
    provisional = (
        IdentityService(world.hub.store, world.hub.pseudonyms).issue_provisional(LA["id"])
        if spec.provisional
        else None
    )
    stamp = f"LK{serial}"

    def event(
        agency: dict[str, str], event_id: str, kind: str, days: float, **fields: Any
    ) -> dict[str, Any]:
        fields.setdefault("child", {"nhs_number": nhs})
        fields.setdefault("details", {})
        fields.setdefault("summary", "routine")
        occurred = NOW - timedelta(days=days)
        return event_dict(
            event_id=f"{stamp}-{event_id}",  # record ids are the publisher's: one per child
            agency=agency,
            kind=kind,
            categories=[],
            occurred_at=occurred.isoformat(),
            recorded_at=(occurred + timedelta(minutes=20)).isoformat(),
            **fields,
        )

    # Relationships: the MACPT (s47), the allocated social worker and family help worker, the
    # school's DSL; a referral for the assessment clock.
    enrolled = (NOW - timedelta(days=400)).date().isoformat()
    world.publish(LA, event(LA, "S47", "la.s47-enquiry-started", 30))
    world.publish(
        LA,
        event(
            LA,
            "ALLOC-SW",
            "la.worker-allocated",
            29,
            details={"practitioner_id": "sw-0002", "role": "social-worker"},
        ),
    )
    world.publish(
        LA,
        event(
            LA,
            "ALLOC-FH",
            "la.worker-allocated",
            29,
            details={"practitioner_id": "fh-0001", "role": "family-help-worker"},
        ),
    )
    world.publish(LA, event(LA, "REF", "la.referral", 62, details={"referral_source": "school"}))
    world.publish(
        SCHOOL,
        event(
            SCHOOL,
            "ENROL",
            "education.enrolled",
            400,
            details={"school_urn": "100001", "starts_on": enrolled},
        ),
    )

    canaries: list[Canary] = []
    for index, record in enumerate(spec.records):
        agency, kind, free, extra = TEMPLATES[record.template]
        event_id = f"R{index}"
        owner = (
            {"provisional_id": provisional}
            if provisional and record.on_provisional
            else {"nhs_number": nhs}
        )
        stranded = bool(provisional and record.on_provisional and spec.unlink)
        latest = record.revisions[-1]
        latest_shields = {"summary"} if latest.shield_summary else set()
        latest_shields |= {f"details.{free}"} if latest.shield_detail else set()
        for number, revision in enumerate(record.revisions, start=1):
            text = f"{stamp}R{index}V{number}"
            shields = ["summary"] if revision.shield_summary else []
            shields += [f"details.{free}"] if revision.shield_detail else []
            withheld = [
                {key: value, "reason": f"{text}W", "decided_by": "DI Hale",
                 "review_by": "2030-01-01"}
                for key, value in revision.withheld
            ]  # fmt: skip
            world.publish(
                agency,
                event(
                    agency,
                    event_id,
                    kind,
                    2 + index,
                    revision=number,
                    child=owner,
                    summary=f"{text}S",
                    details={free: f"{text}D", **extra},
                    shielded_fields=shields,
                    withheld_from=withheld,
                    household_ref=f"HH-{serial}" if record.household else None,
                ),
            )
            every = {*revision.withheld, *latest.withheld}
            roles = frozenset(v for k, v in every if k == "role")
            types = frozenset(v for k, v in every if k == "agency_type")
            for path, value in (("summary", f"{text}S"), (f"details.{free}", f"{text}D")):
                canaries.append(
                    Canary(value, agency["id"], path, path in {*shields, *latest_shields},
                           roles, types, record.retracted, stranded)
                )  # fmt: skip
            if withheld:
                canaries.append(
                    Canary(f"{text}W", agency["id"], "withholding", False, roles, types,
                           record.retracted, stranded)
                )  # fmt: skip
        if record.retracted:
            world.publish(
                agency,
                event(agency, f"X{index}", "record.retracted", 1, child=owner,
                      supersedes={"event_id": f"{stamp}-{event_id}"}),
            )  # fmt: skip
    if provisional:
        world.publish(LA, event(LA, "LINK", "identity.linked", 1,
                                child={"provisional_id": provisional},
                                details={"nhs_number": nhs}))  # fmt: skip
        if spec.unlink:
            world.publish(
                LA,
                event(
                    LA,
                    "UNLINK",
                    "identity.unlinked",
                    0.5,
                    child={"provisional_id": provisional},
                    details={"nhs_number": nhs, "reason": "different children"},
                ),
            )
    if spec.rebuild:
        world.hub.projection.rebuild()
    children = [child]
    if provisional and spec.unlink:
        children.append(ChildRef(provisional_id=provisional))
    return children, canaries


# The page as `hub serve` renders it (one environment, compiled once, as the app holds it).
CHRONOLOGY_PAGE = page_templates().env.get_template("chronology.html")


def outputs(world: World, child: ChildRef) -> list[tuple[str, Viewer, str]]:
    """(surface, viewer, text) for every surface and role."""
    hub = world.hub
    found: list[tuple[str, Viewer, str]] = []
    hub.audit_queries.commission_review("dpo-0001", child, "rev-0001", "rapid review", 30)
    for viewer in VIEWERS:
        if viewer.purpose is Purpose.OPERATION_ENCOMPASS:
            continue
        view = hub.gate.view(child, viewer.id, viewer.purpose)
        found.append(("chronology", viewer, json.dumps(view.as_dict(), default=str)))
        printed = io.StringIO()
        register = {record.agency_id: record for record in hub.agencies.all()}
        header = child_header(view, register, hub.directory.get, datetime.now(UTC).date())
        with contextlib.redirect_stdout(printed):
            _print_chronology(view, header)  # who the child is, then the entries
        found.append(("chronology (CLI text)", viewer, printed.getvalue()))
        # The page (rendered from the held release) and the CSV and Word exports (an export).
        names = {agency: record.display_name for agency, record in register.items()}
        today = datetime.now(UTC).date()
        held = view_context(Held([view], NOW), [header], Filters(), names, lambda _: None, today)
        session = Session("s", viewer.id, "n", viewer.role, "o", viewer.purpose, "c", NOW)
        page = CHRONOLOGY_PAGE
        found.append(("chronology page", viewer, page.render(session=session, key="k",
                                                            errors=[], status_message=None,
                                                            **held)))  # fmt: skip
        exported = hub.gate.view(child, viewer.id, viewer.purpose, action=Action.EXPORT)
        part = ExportPart(
            exported,
            child_header(exported, register, hub.directory.get, today),
            exported.entries,
        )
        csv_text = chronology_csv([part], names, None, viewer.id, NOW)
        found.append(("chronology export (CSV)", viewer, csv_text))
        word = docx.Document(io.BytesIO(chronology_docx([part], names, None, viewer.id, NOW)))
        cells = [c.text for t in word.tables for r in t.rows for c in r.cells]
        words = "\n".join([p.text for p in word.paragraphs] + cells)
        found.append(("chronology export (Word)", viewer, words))
        response = world.api.post(
            "/api/v1/chronology",
            json={"child": child.identifier},
            headers={
                "Authorization": f"Bearer {world.tokens[viewer.id]}",
                "X-Hub-Purpose": viewer.purpose.value,
            },
        )
        found.append(("chronology (API)", viewer, response.text))
    reviewer = BY_ID["rev-0001"]
    for other in ("lcpp-0001", "dsl-100001", "po-0001", "hp-0001", "fh-0001"):
        report = hub.replay.replay(child, reviewer.id, NOW, as_practitioner=other)
        found.append((f"replay as {other}", reviewer, json.dumps(report.as_dict(), default=str)))
    pack = build_pack(hub.replay, hub.integrity, child, reviewer.id, [NOW], "dsl-100001")
    found.append(("review pack", reviewer, render_html(pack)))
    notices = hub.consumer_runner("encompass")
    notices.run_once()
    assert isinstance(notices.consumer, EncompassConsumer)
    for recipient in ("dsl-100001", "mash-0001"):
        inbox = notices.consumer.inbox(notices.documents(), recipient)
        found.append(("notices", BY_ID[recipient], json.dumps(inbox, default=str)))
        response = world.api.get(
            "/api/v1/notices", headers={"Authorization": f"Bearer {world.tokens[recipient]}"}
        )
        found.append(("notices (API)", BY_ID[recipient], response.text))
    hub.consumer_runner("clocks").run_once()
    for practitioner in ("sw-0002", "lcpp-0001"):
        listing = list_alerts(
            hub.gate, hub.consumer_runner("clocks"), practitioner, datetime.now(UTC)
        )
        found.append(("alerts", BY_ID[practitioner], json.dumps(listing.as_dict(), default=str)))
    # The inbox: change, pattern and access notifications (every viewer above looked, so the
    # allocated worker or the front door hears of it), in the service's, the words' and the
    # API's forms.
    hub.consumer_runner("inbox").run_once()
    for viewer in VIEWERS:
        inbox = hub.inbox.inbox(viewer.id, datetime.now(UTC), include_done=True).as_dict()
        words = "\n".join(item_title(i) + "\n".join(item_lines(i)) for i in inbox["items"])
        found.append(("inbox", viewer, json.dumps(inbox, default=str) + words))
    world.feed_sent.clear()
    feed = hub.consumer_runner("feed-leak")
    assert isinstance(feed.consumer, FeedConsumer)
    feed.consumer._producer_factory = lambda recipient, servers: SpyProducer(
        kafka_producer(recipient, servers), world.feed_sent
    )
    feed.run_once()
    feed.consumer.close()
    for sent in world.feed_sent:  # key, newline, value
        message = json.loads(sent.split(b"\n", 1)[1])
        if message.get("kind") == "la.cp-plan-ended":
            FhirFlag.model_validate(message["flag"])  # valid FHIR R4
    found.append(("outbound feed", FEED, b"\n".join(world.feed_sent).decode()))
    for dpo in ("dpo-0001", "dpo-police", "dpo-0004"):
        rows = hub.audit_queries.withheld(dpo).rows
        found.append(("DPO withheld list", BY_ID[dpo], json.dumps(rows, default=str)))
        queue = hub.withholding_reviews.queue(dpo)
        found.append(("withholding review queue", BY_ID[dpo], repr(queue)))
    found.append(("transfer to a partner hub", PARTNER, transfer_extract(world, child)))
    return found


def transfer_extract(world: World, child: ChildRef) -> str:
    """The child moves to the partner's area while on a plan: every message of the transfer
    the hub offers (sealed and signed, as sent; a spy instead of the broker). Last of the
    surfaces: it adds the plan and the move to the child's record."""
    if child.nhs_number is None:
        return ""
    serial = next(world.serial)
    # After everything the case published (its records are at least a day old), so no
    # generated plan end closes this plan.
    moved = NOW - timedelta(hours=6)
    for event_id, kind, occurred, details in (
        (f"LKT{serial}-PLAN", "la.cp-plan-started", NOW - timedelta(hours=12),
         {"category": "neglect"}),
        (f"LKT{serial}-MOVE", "la.moved-out-of-area", moved,
         {"moved_on": uk_date(moved).isoformat(), "receiving_la_code": PARTNER_LA_CODE}),
    ):  # fmt: skip
        world.publish(
            LA,
            event_dict(
                event_id=event_id,
                kind=kind,
                child={"nhs_number": child.nhs_number},
                occurred_at=occurred.isoformat(),
                recorded_at=occurred.isoformat(),
                summary="routine",
                details=details,
            ),
        )
    sent: list[bytes] = []
    hub = world.hub
    transfers = TransferService(
        lambda: hub.gate,
        lambda: hub.federation,
        hub.integrity,
        lambda endpoint, message: sent.append(message.to_bytes()),
    )
    transfers.offer(child, PARTNER.organisation)
    assert sent, "a transfer was due and offered"
    return b"\n".join(sent).decode()


def subject_access_pack(hub: Hub, child: ChildRef) -> str:
    """A subject access case taken through to its pack by the lead DPO: every item a publisher
    withheld is decided withheld (crime exemption), everything else flagged is released (the
    gate still shields, and redacts the agreement's subject access list)."""
    requester = Requester("Leak Test Requester", RequesterBasis.DATA_SUBJECT)
    today = datetime.now(UTC).date()
    case = hub.subject_access.open(
        "dpo-0001", child, requester, today, identity_verified="passport seen"
    )
    for item in hub.subject_access.draft("dpo-0001", case.id).undecided:
        decision = (
            Decision(DecisionType.WITHHOLD, "live investigation", "crime")
            if Flag.WITHHELD in item.flags.flags
            else Decision(DecisionType.RELEASE, "about the child")
        )
        hub.subject_access.record_decision("dpo-0001", case.id, item.entry.ref, decision)
    return render_json(hub.subject_access.pack("dpo-0001", case.id))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=cases)
def test_nothing_shielded_withheld_or_retracted_reaches_anyone_it_must_not(
    world: World, spec: CaseSpec
) -> None:
    children, canaries = build_case(world, spec)
    leaks = []
    seen = 0
    redact = frozenset(
        world.hub.decisions.agreements.in_force(datetime.now(UTC)).subject_access_redact
    )
    for child in children:
        for surface, viewer, text in outputs(world, child):
            for canary in canaries:
                if canary.text in text:
                    seen += 1
                    if canary.forbidden_to(viewer):
                        leaks.append(f"{canary} reached {viewer.id} through {surface}")
        export = world.hub.audit_queries.subject_access("dpo-0001", child)
        for name, text in (
            ("the subject access export", json.dumps(export, default=str)),
            ("a subject access pack", subject_access_pack(world.hub, child)),
        ):
            for canary in canaries:
                if canary.text in text:
                    seen += 1
                    if canary.forbidden_in_subject_access(redact) or canary.forbidden_to(
                        BY_ID["dpo-0001"]
                    ):
                        leaks.append(f"{canary} reached {name}")
    assert leaks == []
    # The search looks where it must: a canary the lead child protection practitioner may see
    # (related to the child through the enquiry in every case, and shown every agency's
    # records by the agreement) reached someone.
    lead = BY_ID["lcpp-0001"]
    allowed_somewhere = any(not c.stranded and not c.forbidden_to(lead) for c in canaries)
    assert seen > 0 or not allowed_somewhere
