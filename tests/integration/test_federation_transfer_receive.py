"""The receiving hub of a transfer, end to end over the tansu broker: Wessex's hub sends a part
of a child's record (events it ingested, each with its real inclusion proof against Wessex's
signed checkpoint); Shire's hub records the events once (the same events sent again add
nothing, a restart resumes after the committed position), shows them in the child's chronology
to a Shire practitioner with a relationship, labelled with where they came from, quarantines
a message with a proof or event changed (naming the field) and audits the receipt."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import docx
import orjson
import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.api.chronology_views import Filters, Held, view_context
from hub.api.page_kit import page_templates
from hub.api.sessions import Session
from hub.api.subject_access_pages import Problems, pack_summary
from hub.bootstrap import Hub, bootstrap
from hub.chronology_header import child_header
from hub.cli import main
from hub.cli.subject_access import _draft_lines as draft_lines
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited, MessageQuarantined
from hub.domain.subject_access import (
    DECISION_LABELS,
    EXEMPTIONS,
    Decision,
    DecisionType,
    Requester,
    RequesterBasis,
)
from hub.domain.uk_time import uk_date
from hub.federation_ingest import ENTRY_TYPE
from hub.ingest import InboundMessage
from hub.policies.decision import Action
from hub.reports.chronology_exports import (
    FROM_PARTNERSHIP,
    ExportPart,
    chronology_csv,
    chronology_docx,
)
from hub.reports.chronology_picture import picture
from hub.reports.chronology_text import chronology_lines
from hub.reports.inbox_words import item_lines, item_title
from hub.reports.review_pack import build_pack, render_html
from hub.reports.subject_access_pack import render_html as subject_access_html
from hub.settings import HubSettings
from hub.transports.federation_kafka import FederationReceiver, send_message
from tests.factories import event_days_ago, nhs_number, register_agencies
from tests.integration.test_federation_kafka import read_all, send_message_raw, write_register

pytestmark = pytest.mark.kafka

NOW = datetime.now(UTC).replace(microsecond=0)
WOLD = {"id": "wold-borough-council", "type": "local-authority"}
SHIRE_LA = {"id": "shire-county-council", "type": "local-authority"}
NHS = nhs_number(4242)


@pytest.fixture
def two_hubs(tmp_path: Path, kafka_broker: str) -> Iterator[tuple[Hub, Hub]]:
    """Wessex (sending) and Shire (receiving, with the demo partnership's directory); each
    register names the other with its real key, on a topic of this test's own."""
    suffix = uuid4().hex[:8]
    wessex = bootstrap(HubSettings(data_dir=tmp_path / "wessex" / "hub"))
    shire = bootstrap(
        HubSettings(data_dir=tmp_path / "shire" / "hub", directory=SAMPLE_DIRECTORY_PATH)
    )
    register_agencies(wessex)
    register_agencies(shire)
    wessex_register = write_register(
        tmp_path / "wessex.yaml", f"wessex-{suffix}", f"shire-{suffix}",
        shire.signer.public_key_hex, kafka_broker, shire.message_key.public_key_hex,
    )  # fmt: skip
    shire_register = write_register(
        tmp_path / "shire.yaml", f"shire-{suffix}", f"wessex-{suffix}",
        wessex.signer.public_key_hex, kafka_broker, wessex.message_key.public_key_hex,
    )  # fmt: skip
    wessex.settings = wessex.settings.model_copy(update={"federation_register": wessex_register})
    shire.settings = shire.settings.model_copy(update={"federation_register": shire_register})
    yield wessex, shire
    wessex.close()
    shire.close()


def publish(hub: Hub, agency: dict[str, str], event_id: str, kind: str, days: float) -> None:
    value = event_days_ago(
        NOW, days, event_id=event_id, agency=agency, kind=kind, child={"nhs_number": NHS},
        summary=f"{event_id} as Wold recorded it",
    )  # fmt: skip
    source = f"inbox:{agency['id']}/transfer"
    position = (hub.ingest.resume_after(source) or 0) + 1
    outcome = hub.ingest.ingest([InboundMessage(source, position, value, agency["id"])])
    assert outcome.accepted == 1, outcome


def transfer_body(wessex: Hub) -> dict[str, Any]:
    """What the sending side builds (by hand here): the child's events as Wessex holds them,
    each with its inclusion proof against Wessex's latest checkpoint."""
    stream = wessex.pseudonyms.nhs_stream(NHS)
    wessex.integrity.checkpoint()
    wessex.projection.catch_up()
    held = wessex.projection.entries(stream)
    proofs = wessex.integrity.inclusions("events", [(str(UUID(e.stream)), e.version) for e in held])
    events = [
        {
            "ref": entry.ref,
            "received_at": entry.received_at.isoformat(),
            "event": entry.event.model_dump(mode="json", exclude_none=True),
            "inclusion": {
                "leaf_index": proof["leaf_index"],
                "leaf_hash": proof["leaf_hash"],
                "tree_size": proof["tree_size"],
                "proof": proof["proof"],
            },
        }
        for entry, proof in zip(held, proofs, strict=True)
    ]
    return {
        "transfer_id": uuid4().hex,
        "part": 1,
        "parts": 1,
        "nhs_number": NHS,
        "reason": "The family moved to Shire",
        "moved_ref": events[-1]["ref"],
        "events": events,
    }


def test_a_transfer_is_verified_recorded_once_shown_labelled_and_audited(
    two_hubs: tuple[Hub, Hub],
) -> None:
    wessex, shire = two_hubs
    shire_id = shire.federation.hub_id
    wessex_id = wessex.federation.hub_id
    # Wessex's record of the child (its own agency, Wold; Shire has one of that id too).
    publish(wessex, WOLD, "REF-1", "la.contact", 40)
    publish(wessex, WOLD, "REF-2", "la.contact", 30)
    publish(wessex, WOLD, "REF-3", "la.contact", 20)
    # Shire: an s47 enquiry relates its MACPT (lcpp-0001 among them) to the child.
    publish(shire, SHIRE_LA, "S47-1", "la.s47-enquiry-started", 2)

    body = transfer_body(wessex)
    to_shire = wessex.federation.partner(shire_id).kafka
    offer = wessex.federation.seal("transfer-offer", shire_id, body)
    send_message(to_shire, offer)
    # 2. the same transfer again (a repeated offer): nothing new.
    send_message(to_shire, wessex.federation.seal("transfer-offer", shire_id, body))
    # 3. a proof changed before signing (a sender's fault): the whole message is refused.
    bad_proof = json.loads(json.dumps(body))
    bad_proof["transfer_id"] = uuid4().hex
    proof = bad_proof["events"][1]["inclusion"]
    proof["leaf_hash"] = bad_proof["events"][0]["inclusion"]["leaf_hash"]
    send_message(to_shire, wessex.federation.seal("transfer-offer", shire_id, bad_proof))
    # 4. the body changed on the way (encrypted to Shire, so a byte of the ciphertext): the
    # signature no longer verifies.
    tampered = orjson.loads(offer.to_bytes())
    assert set(tampered["body"]) == {"encrypted"}
    assert b"REF-1 as Wold recorded it" not in offer.to_bytes()  # nothing in clear on the wire
    sealed = tampered["body"]["encrypted"]
    sealed["ciphertext"] = ("B" if sealed["ciphertext"][0] == "A" else "A") + sealed["ciphertext"][
        1:
    ]
    send_message_raw(to_shire, orjson.dumps(tampered))
    # 5. a correction whose body is not a correction: kept, naming the field, not dropped.
    send_message(to_shire, wessex.federation.seal("correction", shire_id, {"refs": []}))
    # 6. a discovery message on the same topic: left to `hub federation answer`.
    send_message(to_shire, wessex.federation.seal("holdings", shire_id, {"digests": []}))

    own = shire.federation.register.this_hub.kafka
    receiver = FederationReceiver(own, shire.federation_ingest.positions())
    try:
        batch = read_all(receiver, 6)
    finally:
        receiver.close()
    assert len(batch) == 6
    outcome = shire.federation_ingest.receive(batch)
    assert (outcome.recorded, outcome.duplicates, outcome.transfers) == (3, 3, 1)
    assert outcome.left_for_discovery == 1
    assert dict(outcome.quarantined) == {
        "body.events.1.inclusion": 1,
        "signature": 1,
        "body.correction_id": 1,
    }
    # Read again (a redelivery): every message is at or before the committed position.
    again = shire.federation_ingest.receive(batch)
    assert (again.recorded, again.skipped_already_recorded) == (0, 6)
    # A restart resumes after the committed position: nothing more to read.
    resumed = FederationReceiver(own, shire.federation_ingest.positions())
    try:
        assert resumed.poll(timeout_ms=2000) == []
    finally:
        resumed.close()

    stream = shire.pseudonyms.nhs_stream(NHS)
    entries = [r for r in shire.store.stream(stream) if getattr(r, "entry_type", "") == ENTRY_TYPE]
    assert len(entries) == 3
    provenance = entries[0].body["provenance"]  # type: ignore[attr-defined]
    assert (provenance["hub"], provenance["message_id"]) == (wessex_id, offer.id)
    assert provenance["checkpoint"]["root"] == offer.checkpoint.root

    quarantined = [
        r for r in shire.store.records(MessageQuarantined) if isinstance(r, MessageQuarantined)
    ]
    reasons = sorted(r.reason for r in quarantined)
    assert reasons == [
        "body.correction_id: Field required",
        "body.events.1.inclusion: does not verify against the sender's checkpoint",
        "signature: does not verify with the sender's registered key",
    ]
    assert all(r.raw_child == stream.hex for r in quarantined if r.reason.startswith("body.events"))

    # A Shire practitioner with a relationship sees them, labelled, beside Shire's own.
    view = shire.gate.view(ChildRef(nhs_number=NHS), "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    refs = {e.ref: e for e in view.entries}
    assert "shire-county-council/S47-1@1" in refs
    federated = [refs[f"{wessex_id}:wold-borough-council/REF-{n}@1"] for n in (1, 2, 3)]
    day = uk_date(NOW)
    label = (
        f"From {wessex_id.title()} Safeguarding Children Partnership (wold-borough-council), "
        f"received from their hub on {day.day} {day:%B %Y}"
    )
    assert all(e.provenance == label for e in federated)
    assert federated[0].summary == "REF-1 as Wold recorded it"
    assert refs["shire-county-council/S47-1@1"].provenance is None

    # The receipt is audited at Shire: who sent it, which child, which events, which transfer.
    receipts = [
        r
        for r in shire.audit.for_child(stream.hex)
        if isinstance(r, DisclosureAudited) and r.action == "federation-transfer-received"
    ]
    assert len(receipts) == 1
    receipt = receipts[0]
    assert (receipt.practitioner_id, receipt.organisation) == (f"hub:{wessex_id}", wessex_id)
    assert sorted(receipt.disclosed) == sorted(e.ref for e in federated)
    assert body["transfer_id"] in (receipt.relationship or "")

    # The chronology in text (what `hub chronology` prints) shows the label too.
    text = " ".join(" ".join(chronology_lines(view.entries, width=250)).split())
    assert label in text
    the_front_door_is_told_once(shire, wessex_id)
    every_surface_says_where_it_came_from(shire, wessex_id, label)


def the_front_door_is_told_once(shire: Hub, wessex_id: str) -> None:
    """Nobody here is allocated to the child, so the front door (mash-0001, the team
    front-door:shire-county-council) is told the records arrived, once, by the gate."""
    partner = shire.federation.partner(wessex_id)
    inbox = shire.consumer_runner("inbox")
    inbox.run_once()
    inbox.run_once()  # told once, however often the consumer runs
    now = datetime.now(UTC)
    items = shire.inbox.inbox("mash-0001", now).as_dict()["items"]
    (item,) = [i for i in items if i["type"] == "transfer"]
    assert item["shared"] and item["child"] == NHS
    assert item["transfer"]["partnership"] == partner.name
    assert {w["agency_name"] for w in item["what"]} == {f"wold-borough-council ({partner.name})"}
    title = item_title(item)
    assert title.startswith(f"3 records about this child arrived from {partner.name}'s hub on ")
    assert title.endswith(": the child has moved into this area.")
    assert item_lines(item) == [f"Contact there: {partner.contact}."]  # no plan among them
    # Nobody else is told: the lead practitioner related through the s47 enquiry reads the
    # chronology (a relationship), but the item is for whoever must act on the move.
    assert not [i for i in shire.inbox.inbox("lcpp-0001", now).items if i.type == "transfer"]


def every_surface_says_where_it_came_from(shire: Hub, wessex_id: str, label: str) -> None:
    """The page, its picture, the CSV and Word exports, the replay page, the review pack and a
    subject access case and pack say where each partner's entry came from and whom to ask,
    and never give it the name of Shire's own agency of the same id."""
    publish(shire, WOLD, "W-LOCAL", "la.contact", 1)  # Shire's own Wold, same id as Wessex's
    child = ChildRef(nhs_number=NHS)
    partner = shire.federation.partner(wessex_id)
    partner_name = f"wold-borough-council ({partner.name})"
    contact = f"Contact there: {partner.contact}"
    register = {record.agency_id: record for record in shire.agencies.all()}
    names = {agency: record.display_name for agency, record in register.items()}
    local = names["wold-borough-council"]  # Shire's own Wold, by its registered name
    today = datetime.now(UTC).date()
    view = shire.gate.view(
        child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY, action=Action.EXPORT
    )
    header = child_header(view, register, shire.directory.get, today)
    part = ExportPart(view, header, view.entries)

    exported = chronology_csv([part], names, None, "lcpp-0001", NOW).splitlines()
    rows = list(csv.DictReader(exported[exported.index("") + 1 :]))
    by_agency = {row["Agency"]: row for row in rows}
    assert by_agency[partner_name][FROM_PARTNERSHIP] == f"{label}. {contact}."
    assert by_agency[local][FROM_PARTNERSHIP] == ""
    word = docx.Document(io.BytesIO(chronology_docx([part], names, None, "lcpp-0001", NOW)))
    cells = [c.text for t in word.tables for r in t.rows for c in r.cells]
    assert f"{partner_name}\n{label}. {contact}." in cells and local in cells

    lanes = [lane.label for lane in picture(view.entries, [], names, today).lanes]
    assert partner_name in lanes and local in lanes  # two lanes, not one

    session = Session("s", "lcpp-0001", "n", "lead-child-protection-practitioner", "o",
                      Purpose.CHILD_PROTECTION_ENQUIRY, "c", NOW)  # fmt: skip
    held = view_context(Held([view], NOW), [header], Filters(), names, lambda _: None, today)
    page = (
        page_templates()
        .env.get_template("chronology.html")
        .render(session=session, key="k", errors=[], status_message=None, **held)
    )
    text = " ".join(page.split())
    assert f'<p class="provenance">{label}. {contact}.</p>' in text
    assert f'<span class="agency-name">{partner_name}</span>' in text

    shire.audit_queries.commission_review("dpo-0001", child, "rev-0001", "rapid review", 30)
    report = shire.replay.replay(child, "rev-0001", datetime.now(UTC))
    listed = page_templates().env.from_string(
        '{% from "_replay_entry.html" import entry_item %}'
        "{% for e in held %}{{ entry_item(e, loop.index) }}{% endfor %}"
    )
    replay_page = " ".join(listed.render(held=report.as_dict()["held"]).split())
    assert f'<p class="provenance">{label}. {contact}.</p>' in replay_page
    assert f"<dd>{partner_name}</dd>" in replay_page
    pack = render_html(
        build_pack(shire.replay, shire.integrity, child, "rev-0001", [datetime.now(UTC)])
    )
    assert f"{label}. {contact}." in " ".join(pack.split())

    case = shire.subject_access.open(
        "dpo-0001", child, Requester("Dana Whitlock", RequesterBasis.DATA_SUBJECT), today,
        identity_verified="passport seen",
    )  # fmt: skip
    draft = shire.subject_access.draft("dpo-0001", case.id)
    sources = {i.entry.ref: i.as_dict()["source"] for i in draft.items}
    assert sources["shire-county-council/S47-1@1"] is None
    assert {s for r, s in sources.items() if r.startswith(f"{wessex_id}:")} == {
        f"{label}. {contact}."
    }
    dpo = Session("s", "dpo-0001", "n", "data-protection-officer", "o",
                  Purpose.DATA_PROTECTION_AUDIT, "c", NOW)  # fmt: skip
    case_page = page_templates().env.get_template("sar_case.html").render(
        session=dpo, draft=draft, case=draft.case, problems=Problems(), exemptions=EXEMPTIONS,
        decision_labels=DECISION_LABELS, summary=pack_summary(draft), messages=[],
    )  # fmt: skip
    assert f"<dt>Source</dt><dd>{label}. {contact}.</dd>" in " ".join(case_page.split())
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        draft_lines(draft)  # what `hub sar show` prints
    assert f"  source: {label}. {contact}." in printed.getvalue().splitlines()
    for item in draft.undecided:
        decision = Decision(DecisionType.RELEASE, "about the child")
        shire.subject_access.record_decision("dpo-0001", case.id, item.entry.ref, decision)
    response = subject_access_html(shire.subject_access.pack("dpo-0001", case.id))
    source = f"Source: another safeguarding partnership's hub. {label}; contact there: "
    assert f"{source}{partner.contact}." in " ".join(response.split())


def test_the_receive_command_records_what_partner_hubs_sent(
    two_hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wessex, shire = two_hubs
    shire_id = shire.federation.hub_id
    publish(wessex, WOLD, "REF-9", "la.contact", 10)
    body = transfer_body(wessex)
    send_message(
        wessex.federation.partner(shire_id).kafka,
        wessex.federation.seal("transfer-offer", shire_id, body),
    )
    monkeypatch.setenv("HUB_FEDERATION_REGISTER", str(shire.settings.federation_register))
    args = ["federation", "receive", "--data-dir", str(shire.settings.data_dir), "--once"]
    args += ["--idle-s", "3"]
    assert main([*args, "--format", "json"]) == 0
    out = capsys.readouterr().out  # (log lines, then the document)
    assert (
        json.loads(out[out.index("\n{") + 1 if not out.startswith("{") else 0 :])["recorded"] == 1
    )
    assert main(args) == 0
    assert "Recorded 0 events" in capsys.readouterr().out
