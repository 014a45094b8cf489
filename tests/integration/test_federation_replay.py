"""Replay across the boundary (issue 24: "a review in either partnership can replay what
crossed the boundary, when, and who saw it"), two hubs over the tansu broker: Shire sends a
child's transfer to Wessex, Wessex records it and a Wessex practitioner is shown the received
entries. A reviewer commissioned at each hub replays the child: Shire's sees the transfer it
sent (to which partnership, when, which entries, why, under which agreement), Wessex's sees the
receipt and who there was shown the entries, by name and role. As of a moment before the
transfer nothing had crossed. Each replay is itself an audited access; the page's section,
the terminal text and the review pack say it in words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.api.page_kit import page_templates
from hub.api.responses import Replay
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.reports import replay_words
from hub.reports.review_pack import build_pack, render_html
from hub.settings import HubSettings
from tests.factories import nhs_number, publish_event, register_agencies
from tests.integration.test_federation_transfer_send import (
    LA,
    NOW,
    SENT,
    publish_history,
    read_all,
    write_register,
)

pytestmark = pytest.mark.kafka

SHIRE = "Shire Safeguarding Children Partnership"
WESSEX = "Wessex Safeguarding Children Partnership"


@pytest.fixture
def two_hubs(
    tmp_path: Path, kafka_broker: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Hub, Hub]]:
    """Shire (sending) and Wessex (receiving), each with the sample directory (its reviewer
    rev-0001, data protection officer dpo-0001 and lead practitioner lcpp-0001)."""
    suffix = f"replay-{request.node.name[-16:].strip('_')}-{NOW:%H%M%S%f}".replace("_", "-")
    hubs = {
        name: bootstrap(
            HubSettings(data_dir=tmp_path / name / "hub", directory=SAMPLE_DIRECTORY_PATH)
        )
        for name in ("shire", "wessex")
    }
    shire, wessex = hubs["shire"], hubs["wessex"]
    for this, partner, covers in (("shire", "wessex", ["990"]), ("wessex", "shire", [])):
        register = write_register(
            tmp_path / f"{this}.yaml",
            this,
            partner,
            hubs[partner].signer.public_key_hex,
            kafka_broker,
            suffix,
            covers,
            hubs[partner].message_key.public_key_hex,
        )
        hub = hubs[this]
        hub.settings = hub.settings.model_copy(update={"federation_register": register})
        register_agencies(hub, at=NOW - timedelta(days=400))
    yield shire, wessex
    shire.close()
    wessex.close()


def reviewer_audited(hub: Hub, child: ChildRef, audit_ref: str) -> DisclosureAudited:
    (record,) = [
        r
        for r in hub.audit.for_child(hub.gate.child_stream(child))
        if isinstance(r, DisclosureAudited)
        and f"{r.originator_id.hex}@{r.originator_version}" == audit_ref
    ]
    return record


def test_each_side_replays_what_crossed_the_boundary_when_and_who_saw_it(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    number = nhs_number(2471)
    child = ChildRef(nhs_number=number)
    publish_history(shire, number)
    before_transfer = datetime.now(UTC)

    receipt = shire.federation_transfer.offer(number, "wessex")
    assert receipt.events == len(SENT)
    outcome = wessex.federation_ingest.receive(read_all(wessex, 1))
    assert (outcome.recorded, dict(outcome.quarantined)) == (len(SENT), {})
    received_refs = {f"shire:{ref}" for ref in SENT}
    received_not_yet_seen = datetime.now(UTC)

    # At Wessex, an s47 enquiry relates its MACPT (lcpp-0001 among them) to the child, and
    # lcpp-0001 is shown the child's record, the received entries with it.
    publish_event(wessex, LA, "W-S47-1", "la.s47-enquiry-started", NOW - timedelta(hours=1), number)
    view = wessex.gate.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert received_refs <= {e.ref for e in view.entries}
    seen_at = datetime.now(UTC)

    for hub in (shire, wessex):
        hub.audit_queries.commission_review("dpo-0001", child, "rev-0001", "Rapid Review", 30)

    # Shire's reviewer: the transfer Shire sent, in words.
    shire_report = shire.replay.replay(child, "rev-0001", datetime.now(UTC))
    assert shire_report.permitted
    (sent,) = shire_report.boundary["sent"]
    assert (sent["partner"], sent["partnership"], sent["agreement_version"]) == (
        "wessex",
        WESSEX,
        "shire-wessex-2026.1",
    )
    assert set(sent["refs"]) == SENT and sent["entries"] == len(SENT)
    assert sent["audit_ref"] == receipt.audit_ref
    sentence = replay_words.sent_sentence(sent)
    assert sentence.startswith(f"Sent to {WESSEX} on ")
    assert sentence.endswith(
        f": {len(SENT)} entries, because the family moved to Westvale Borough Council's area "
        "(inter-partnership agreement shire-wessex-2026.1)"
    )
    assert shire_report.boundary["received"] == []
    # The reviewer's replay is itself audited, as every replay is.
    audited = reviewer_audited(shire, child, shire_report.access.audit_ref)
    assert (audited.practitioner_id, audited.purpose) == ("rev-0001", "practice-review")

    # Wessex's reviewer: the receipt, and who at Wessex was shown the entries, when.
    as_of = datetime.now(UTC)
    wessex_report = wessex.replay.replay(child, "rev-0001", as_of)
    assert wessex_report.boundary["sent"] == []
    (received,) = wessex_report.boundary["received"]
    assert (received["partner"], received["partnership"]) == ("shire", SHIRE)
    assert set(received["refs"]) == received_refs
    assert received["agreement_version"] == "shire-wessex-2026.1"
    (person,) = received["seen_by"]
    assert (person["practitioner"], person["name"], person["role"]) == (
        "lcpp-0001",
        "Morag Ellison",
        "lead-child-protection-practitioner",
    )
    assert before_transfer <= datetime.fromisoformat(person["first_seen_at"]) <= seen_at
    words = replay_words.received_sentence(received)
    assert words.startswith(f"Received from {SHIRE} on ")
    assert f": {len(SENT)} entries (inter-partnership agreement shire-wessex-2026.1)" in words
    assert "; seen by Morag Ellison (lead child protection practitioner) on " in words
    assert words.endswith((" GMT", " BST"))
    audited = reviewer_audited(wessex, child, wessex_report.access.audit_ref)
    assert (audited.practitioner_id, audited.purpose) == ("rev-0001", "practice-review")

    # Received but not yet shown to anyone at Wessex: a receipt is not a showing.
    unseen = wessex.replay.replay(child, "rev-0001", received_not_yet_seen)
    (received_then,) = unseen.boundary["received"]
    assert received_then["seen_by"] == []
    assert replay_words.received_sentence(received_then).endswith(
        "; not shown to anyone at this hub by then"
    )
    assert received_refs <= set(unseen.never_shown)
    assert not received_refs & set(wessex_report.never_shown)

    # As of a moment before the transfer, nothing had crossed, on either side.
    for hub in (shire, wessex):
        then = hub.replay.replay(child, "rev-0001", before_transfer)
        assert then.permitted
        assert all(rows == [] for rows in then.boundary.values())
        assert "nothing about this child had crossed the boundary" in replay_words.replay_text(
            then.as_dict(), 200
        )

    # The renderings: the terminal text, the JSON, the replay page's section, the review pack.
    report = wessex_report.as_dict()
    answered = Replay.model_validate(report).model_dump()  # the API's answer keeps it
    assert answered["crossed_the_boundary"] == report["crossed_the_boundary"]
    assert report["crossed_the_boundary"]["received"][0]["seen_by"][0]["name"] == "Morag Ellison"
    assert words in replay_words.replay_text(report, 400)
    page = (
        page_templates()
        .env.from_string(
            '{% import "_boundary.html" as b %}{{ b.boundary_section(report, crossed, words) }}'
        )
        .render(report=report, crossed=wessex_report.boundary, words=replay_words)
    )
    assert '<h2 id="boundary-heading">Crossed the boundary</h2>' in page
    assert "seen by Morag Ellison (lead child protection practitioner) on " in page
    assert "shire:shire-county-council/MOVE-1@1" in page
    pack = build_pack(shire.replay, shire.integrity, child, "rev-0001", [datetime.now(UTC)])
    html = render_html(pack)
    assert "Crossed the boundary with other partnerships" in html
    assert f"Sent to {WESSEX} on " in html and "Westvale Borough Council&#39;s area" in html
