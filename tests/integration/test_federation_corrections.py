"""Corrections across the boundary, between two hubs over the tansu broker: Shire's transfers
consumer sends Wessex a child's record; a Wessex practitioner views it (audited); Shire's
agency retracts one record sent and publishes a corrected revision of another; Shire's
consumer sends one signed `correction` (once); Wessex records it: its chronology shows the
retracted record retracted and the corrected revision current, the receipt is audited, and
the practitioner who saw the withdrawn records is told in their inbox. A reviewer at each hub
replays the child: Shire's sees when Wessex was told (the correction is audited at Shire before
it is sent), which records it withdrew and replaced, under which agreement, Wessex's sees the
correction received, what it withdrew and replaced, and who there had seen those records; as of
a moment before, neither. A correction whose proof was changed is quarantined naming the
field; one changed in transit fails its signature. An identity unlink withdraws, as about
another child, what the unlinked provisional stream had contributed to a transfer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.api.page_kit import page_templates
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.federation import CorrectionBody, FederationMessage
from hub.domain.markers import RETRACTED
from hub.domain.records import DisclosureAudited, MessageQuarantined
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.reports import replay_words
from hub.reports.review_pack import build_pack, render_html
from hub.settings import HubSettings
from hub.transports.federation_kafka import FederationReceiver, Received, send_message
from tests.factories import event_dict, nhs_number, publish_event, register_agencies
from tests.integration.test_federation_kafka import send_message_raw
from tests.integration.test_federation_transfer_send import write_register

pytestmark = pytest.mark.kafka

LA = {"id": "shire-county-council", "type": "local-authority"}
NOW = datetime.now(UTC).replace(microsecond=0)
CHILD = nhs_number(2451)


@pytest.fixture
def two_hubs(tmp_path: Path, kafka_broker: str) -> Iterator[tuple[Hub, Hub]]:
    suffix = f"corr-{uuid4().hex[:12]}"
    shire = bootstrap(
        HubSettings(data_dir=tmp_path / "shire" / "hub", directory=SAMPLE_DIRECTORY_PATH)
    )
    wessex = bootstrap(
        HubSettings(data_dir=tmp_path / "wessex" / "hub", directory=SAMPLE_DIRECTORY_PATH)
    )
    shire_register = write_register(
        tmp_path / "shire.yaml", "shire", "wessex", wessex.signer.public_key_hex,
        kafka_broker, suffix, ["990"], wessex.message_key.public_key_hex,
    )  # fmt: skip
    wessex_register = write_register(
        tmp_path / "wessex.yaml", "wessex", "shire", shire.signer.public_key_hex,
        kafka_broker, suffix, [], shire.message_key.public_key_hex,
    )  # fmt: skip
    shire.settings = shire.settings.model_copy(update={"federation_register": shire_register})
    wessex.settings = wessex.settings.model_copy(update={"federation_register": wessex_register})
    register_agencies(shire, at=NOW - timedelta(days=400))
    register_agencies(wessex, at=NOW - timedelta(days=400))
    yield shire, wessex
    shire.close()
    wessex.close()


def at(days: float) -> datetime:
    return NOW - timedelta(days=days)


def receive(wessex: Hub, expected: int) -> list[Received]:
    """Read Wessex's inbound topic from its committed positions, as `hub federation receive`."""
    own = wessex.federation.register.this_hub.kafka
    receiver = FederationReceiver(own, wessex.federation_ingest.positions())
    received: list[Received] = []
    try:
        for _ in range(30):
            received.extend(receiver.poll(timeout_ms=500))
            if len(received) >= expected:
                break
    finally:
        receiver.close()
    return received


def test_a_retraction_and_a_corrected_revision_reach_the_partner_and_whoever_saw_them(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    publish_event(shire, LA, "CP-1", "la.cp-plan-started", at(100), CHILD,
                  details={"category": "neglect"})  # fmt: skip
    publish_event(shire, LA, "CONTACT-1", "la.contact", at(90), CHILD, summary="Wrong child")
    publish_event(shire, LA, "CONTACT-2", "la.contact", at(80), CHILD, summary="First wording")
    publish_event(
        shire, LA, "MOVE-1", "la.moved-out-of-area", at(10), CHILD,
        details={"moved_on": at(10).date().isoformat(),
                 "receiving_authority": "Westvale Borough Council", "receiving_la_code": "990"},
    )  # fmt: skip
    transfers = shire.consumer_runner("transfers")
    transfers.run_once()
    (offer,) = receive(wessex, 1)
    assert wessex.federation_ingest.receive([offer]).recorded == 4

    # At Wessex: an s47 enquiry relates its MACPT (lcpp-0001) to the child, who views the
    # chronology (audited); the inbox consumer has read everything so far.
    publish_event(wessex, LA, "S47-1", "la.s47-enquiry-started", at(1), CHILD)
    child = ChildRef(nhs_number=CHILD)
    seen = wessex.gate.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert {"shire:shire-county-council/CONTACT-1@1", "shire:shire-county-council/CONTACT-2@1"} <= {
        e.ref for e in seen.entries
    }
    inbox = wessex.consumer_runner("inbox")
    inbox.run_once()
    before = wessex.inbox.inbox("lcpp-0001", NOW + timedelta(minutes=1))
    assert not [i for i in before.items if i.type == "correction"]

    # At Shire: CONTACT-1 retracted, CONTACT-2 corrected; the consumer corrects once.
    before_correction = datetime.now(UTC)
    publish_event(shire, LA, "RET-1", "record.retracted", at(0.5), CHILD,
                  supersedes={"event_id": "CONTACT-1"})  # fmt: skip
    publish_event(shire, LA, "CONTACT-2", "la.contact", at(80), CHILD, revision=2,
                  summary="Corrected wording")  # fmt: skip
    transfers.run_once()
    transfers.run_once()  # nothing new to correct: nothing sent again
    assert transfers.consumer.describe(transfers.documents(), NOW)["corrections_sent"] == 1
    (correction,) = receive(wessex, 1)
    message, _ = wessex.federation.receive(correction.raw)
    body = CorrectionBody.model_validate(message.body)
    actions = {i.ref: i.action for i in body.items}
    assert actions == {
        "shire-county-council/CONTACT-1@1": "retracted",
        "shire-county-council/CONTACT-2@1": "superseded",
    }
    retracted = next(i for i in body.items if i.action == "retracted")
    # Audited at Shire before it was sent: to whom, which child, what it names, and why.
    told_at = datetime.now(UTC)
    (notice,) = [
        r
        for r in shire.audit.for_child(shire.pseudonyms.nhs_stream(CHILD).hex)
        if isinstance(r, DisclosureAudited) and r.action == "federation-correction-sent"
    ]
    assert (notice.practitioner_id, notice.organisation, notice.role, notice.purpose) == (
        "hub:wessex",
        "wessex",
        "partner-hub",
        "inter-partnership-transfer",
    )
    assert notice.disclosed == [
        "shire-county-council/CONTACT-1@1",
        "shire-county-council/CONTACT-2@1",
        "shire-county-council/CONTACT-2@2",
    ]
    transfer_id = next(iter(body.transfer_ids))
    assert notice.relationship == (
        f"correction {body.correction_id} of transfer {transfer_id} for "
        "shire-county-council/MOVE-1@1 under inter-partnership agreement shire-wessex-2026.1 "
        f"(message {message.id})"
    )
    assert before_correction <= notice.timestamp <= told_at
    assert retracted.event is None  # nothing of a withdrawn record is sent
    assert "Wrong child" not in correction.raw.decode()
    # Encrypted to Wessex's key: the corrected wording is not on the broker in clear either.
    assert "Corrected wording" not in correction.raw.decode()
    assert "Corrected wording" in json.dumps(message.body)

    outcome = wessex.federation_ingest.receive([correction])
    assert (outcome.corrections, outcome.recorded, dict(outcome.quarantined)) == (1, 2, {})
    corrected_at = datetime.now(UTC)
    view = wessex.gate.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    by_ref = {e.ref: e for e in view.entries}
    withdrawn = by_ref["shire:shire-county-council/CONTACT-1@1"]
    assert withdrawn.status == "retracted"
    # lcpp-0001 works for Wessex's own "shire-county-council" (both hubs register the sample
    # agencies): a partner's record is still not their organisation's, so nothing of it shows.
    assert (withdrawn.summary, withdrawn.details) == (RETRACTED, {})
    assert by_ref["shire:shire-county-council/CONTACT-2@1"].status == "superseded"
    revised = by_ref["shire:shire-county-council/CONTACT-2@2"]
    assert (revised.status, revised.summary) == ("current", "Corrected wording")

    # The receipt is audited at Wessex, naming the correction and what it changed.
    stream = wessex.pseudonyms.nhs_stream(CHILD).hex
    (audited,) = [
        r
        for r in wessex.audit.for_child(stream)
        if isinstance(r, DisclosureAudited) and r.action == "federation-correction-received"
    ]
    assert audited.practitioner_id == "hub:shire"
    assert body.correction_id in (audited.relationship or "")
    assert "shire:shire-county-council/CONTACT-1@1" in audited.disclosed

    # Whoever saw the withdrawn records is told, once.
    inbox.run_once()
    inbox.run_once()
    told = [
        i
        for i in wessex.inbox.inbox("lcpp-0001", NOW + timedelta(minutes=1)).items
        if i.type == "correction"
    ]
    assert len(told) == 1 and told[0].shared
    assert sorted(w["kind"] for w in told[0].what) == ["la.contact", "record.retracted"]

    replay_the_correction(shire, wessex, message, before_correction, corrected_at)

    # Sent again (a redelivery from a new position): nothing new is recorded.
    send_message_raw(wessex.federation.register.this_hub.kafka, correction.raw)
    (repeat,) = receive(wessex, 1)
    again = wessex.federation_ingest.receive([repeat])
    assert (again.recorded, again.duplicates) == (0, 2)

    # A proof changed by the sender, and a correction changed in transit: quarantined.
    to_wessex = shire.federation.partner("wessex").kafka
    changed = orjson.loads(orjson.dumps(message.body))
    superseding = next(i for i in changed["items"] if i["action"] == "superseded")
    superseding["event"]["inclusion"]["leaf_hash"] = "0" * 64
    send_message(to_wessex, shire.federation.seal("correction", "wessex", changed))
    tampered = orjson.loads(message.to_bytes())
    tampered["body"]["items"][0]["action"] = "unlinked"
    raw = orjson.dumps(tampered)
    bad = receive(wessex, 1)
    bad_outcome = wessex.federation_ingest.receive(
        [*bad, Received(bad[0].source, bad[0].position + 1000, raw)]
    )
    index = changed["items"].index(superseding)
    assert dict(bad_outcome.quarantined) == {
        f"body.items.{index}.event.inclusion": 1,
        "signature": 1,
    }
    reasons = {
        r.reason
        for r in wessex.store.records(MessageQuarantined)
        if isinstance(r, MessageQuarantined)
    }
    assert (
        f"body.items.{index}.event.inclusion: does not verify against the sender's checkpoint"
        in reasons
    )


def replay_the_correction(
    shire: Hub,
    wessex: Hub,
    message: FederationMessage,
    before_correction: datetime,
    corrected_at: datetime,
) -> None:
    """What each side's replay says crossed the boundary as corrections, in words."""
    child = ChildRef(nhs_number=CHILD)
    body = CorrectionBody.model_validate(message.body)
    contact1, contact2 = "shire-county-council/CONTACT-1@1", "shire-county-council/CONTACT-2@1"
    revised = "shire-county-council/CONTACT-2@2"
    for hub in (shire, wessex):
        hub.audit_queries.commission_review("dpo-0001", child, "rev-0001", "Rapid Review", 30)

    # Shire: the transfer, then the correction told to Wessex (audited before it was sent):
    # when, what it withdrew and replaced, under which agreement; the corrected revision's
    # release is told with it, not as another transfer.
    shire_report = shire.replay.replay(child, "rev-0001", datetime.now(UTC))
    assert shire_report.permitted
    (transfer,) = shire_report.boundary["sent"]
    assert revised not in transfer["refs"]
    (told,) = shire_report.boundary["corrections_sent"]
    assert (told["partnership"], told["agreement_version"], told["correction_id"]) == (
        "Wessex Safeguarding Children Partnership",
        "shire-wessex-2026.1",
        body.correction_id,
    )
    assert (told["message_id"], told["transfer_ids"]) == (message.id, body.transfer_ids)
    assert (told["withdrawn"], told["corrected"]) == (
        [contact1],
        [{"ref": contact2, "by": revised}],
    )
    assert before_correction <= datetime.fromisoformat(told["at"]) <= corrected_at
    sentence = replay_words.correction_sent_sentence(told)
    assert sentence.startswith("Told Wessex Safeguarding Children Partnership on ")
    assert sentence.endswith(
        f", by correction {body.correction_id} of transfer {body.transfer_ids[0]} "
        f"(inter-partnership agreement shire-wessex-2026.1): withdrew {contact1}; sent "
        f"{revised} in place of {contact2}"
    )
    text = replay_words.replay_text(shire_report.as_dict(), 400)
    assert sentence in text
    before = shire.replay.replay(child, "rev-0001", before_correction)
    assert (before.boundary["corrections_sent"], len(before.boundary["sent"])) == ([], 1)

    # Wessex: the correction received, what it withdrew and replaced, who had seen them.
    wessex_report = wessex.replay.replay(child, "rev-0001", datetime.now(UTC))
    (received,) = wessex_report.boundary["corrections_received"]
    assert (received["partnership"], received["agreement_version"]) == (
        "Shire Safeguarding Children Partnership",
        "shire-wessex-2026.1",
    )
    assert (received["correction_id"], received["transfer_ids"], received["message_id"]) == (
        body.correction_id,
        body.transfer_ids,
        message.id,
    )
    assert received["withdrawn"] == [f"shire:{contact1}"]
    assert received["corrected"] == [{"ref": f"shire:{contact2}", "by": f"shire:{revised}"}]
    # The lead practitioner viewed them; the front door was told they arrived (its inbox item).
    people = {p["name"]: p for p in received["seen_by"]}
    assert set(people) == {"Morag Ellison", "Olu Penhaligon"}
    person = people["Morag Ellison"]
    assert person["role"] == "lead-child-protection-practitioner"
    assert datetime.fromisoformat(person["first_seen_at"]) < before_correction
    (transfer_received,) = wessex_report.boundary["received"]  # a correction is not a transfer
    assert f"shire:{revised}" not in transfer_received["refs"]
    words = replay_words.correction_received_sentence(received)
    assert words.startswith("Correction received from Shire Safeguarding Children Partnership ")
    assert (
        f"(inter-partnership agreement shire-wessex-2026.1): withdrew shire:{contact1}; "
        f"sent shire:{revised} in place of shire:{contact2}; shown here before by Morag Ellison "
        "(lead child protection practitioner) on "
    ) in words
    # Recorded from the partner is not shown: the revision nobody here had seen yet.
    then = wessex.replay.replay(child, "rev-0001", corrected_at)
    assert len(then.boundary["corrections_received"]) == 1
    assert f"shire:{revised}" in then.never_shown
    assert (
        wessex.replay.replay(child, "rev-0001", before_correction).boundary["corrections_received"]
        == []
    )

    # In words on the terminal, the replay page and the review pack.
    report = wessex_report.as_dict()
    assert words in " ".join(replay_words.replay_text(report, 400).split())  # however wrapped
    page = (
        page_templates()
        .env.from_string(
            '{% import "_boundary.html" as b %}{{ b.boundary_section(report, crossed, words) }}'
        )
        .render(report=report, crossed=wessex_report.boundary, words=replay_words)
    )
    assert "Corrections received from other partnerships</h3>" in page
    assert f"<code>{body.correction_id}</code>" in page
    html = render_html(build_pack(shire.replay, shire.integrity, child, "rev-0001", [NOW]))
    assert "Corrections of what was sent to other partnerships" not in html  # none by NOW
    html = render_html(
        build_pack(shire.replay, shire.integrity, child, "rev-0001", [datetime.now(UTC)])
    )
    assert f"{revised} in place of {contact2}" in html
    assert f"by correction {body.correction_id} of transfer" in html


def publish_provisional(hub: Hub, event_id: str, kind: str, days: float, provisional: str,
                        **extra: Any) -> None:  # fmt: skip
    value = json.dumps(
        event_dict(
            event_id=event_id, kind=kind, agency=LA, child={"provisional_id": provisional},
            categories=[], occurred_at=at(days).isoformat(),
            recorded_at=(at(days) + timedelta(minutes=20)).isoformat(), **extra,
        )
    ).encode()  # fmt: skip
    source = f"p:{LA['id']}/t"
    position = (hub.store.position(source) or 0) + 1
    outcome = hub.ingest.ingest([InboundMessage(source, position, value, LA["id"])])
    assert outcome.accepted == 1, outcome


def test_an_identity_unlink_withdraws_the_records_of_the_unlinked_stream(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    child = nhs_number(2452)
    provisional = IdentityService(shire.store, shire.pseudonyms).issue_provisional(LA["id"])
    publish_event(shire, LA, "CP-1", "la.cp-plan-started", at(100), child,
                  details={"category": "neglect"})  # fmt: skip
    publish_provisional(shire, "CONTACT-P", "la.contact", 95, provisional,
                        summary="A contact about a baby", details={})  # fmt: skip
    publish_provisional(shire, "LINK-1", "identity.linked", 90, provisional,
                        summary="Linked", details={"nhs_number": child})  # fmt: skip
    publish_event(
        shire, LA, "MOVE-1", "la.moved-out-of-area", at(10), child,
        details={"moved_on": at(10).date().isoformat(),
                 "receiving_authority": "Westvale Borough Council", "receiving_la_code": "990"},
    )  # fmt: skip
    transfers = shire.consumer_runner("transfers")
    transfers.run_once()
    (offer,) = receive(wessex, 1)
    assert wessex.federation_ingest.receive([offer]).recorded == 3  # the plan, contact, move

    unlink = {"nhs_number": child, "reason": "two different children"}
    publish_provisional(shire, "UNLINK-1", "identity.unlinked", 0.5, provisional,
                        summary="Unlinked", details=unlink)  # fmt: skip
    transfers.run_once()
    (correction,) = receive(wessex, 1)
    message, _ = wessex.federation.receive(correction.raw)
    (item,) = CorrectionBody.model_validate(message.body).items
    assert (item.ref, item.action, item.event) == (
        "shire-county-council/CONTACT-P@1", "unlinked", None,
    )  # fmt: skip
    (notice,) = [
        r
        for r in shire.audit.for_child(shire.pseudonyms.nhs_stream(child).hex)
        if isinstance(r, DisclosureAudited) and r.action == "federation-correction-sent"
    ]
    assert notice.disclosed == ["shire-county-council/CONTACT-P@1"]
    assert f"(message {message.id})" in (notice.relationship or "")
    assert wessex.federation_ingest.receive([correction]).recorded == 1
    wessex.projection.catch_up()
    held = {e.ref: e for e in wessex.projection.entries(wessex.pseudonyms.nhs_stream(child))}
    assert held["shire:shire-county-council/CONTACT-P@1"].status == "retracted"
    withdrawal = held["shire:shire-county-council/CONTACT-P:withdrawn@1"]
    assert "about another child" in withdrawal.event.summary
