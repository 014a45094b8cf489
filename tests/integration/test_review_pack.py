"""The review pack on the real store (SQLite and PostgreSQL): the replay as of each date, and
proofs a partner can check without trusting the hub.

Events arrive in two batches with a moment between them, so as of that moment the second batch
is recorded-but-not-shared and a correction in it is not yet applied; as of the end, all of it
is held and every held entry has an inclusion proof against a signed checkpoint.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from pypdf import PdfReader

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.signing import signature_valid
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.merkle import verify_inclusion
from hub.domain.records import DisclosureAudited
from hub.ingest import InboundMessage
from hub.integrity import checkpoint_bytes, row_leaf
from hub.reports.review_pack import ReviewPack, build_pack, render_html, render_pdf
from hub.settings import HubSettings
from tests.factories import register_agencies
from tests.integration.test_disclosure import CHILD, ICB, LA, POLICE, SHIELDED_SUMMARY, event

FIRST = {
    "shire-county-council": [
        event(LA, "S47-1", "la.s47-enquiry-started", 10),  # relates the MACPT lead practitioner
        event(LA, "CONTACT-3", "la.contact", 28, summary="Contact, first version"),
    ],
    "shire-constabulary": [
        event(
            POLICE,
            "DA-1",
            "police.domestic-abuse-incident",
            20,
            summary="Officers attended — Łucja hid upstairs",  # beyond Latin-1: printed as is
            details={"child_present": True, "police_reference": "OE-42"},
        ),
    ],
}
SECOND = {
    "shire-county-council": [
        event(LA, "CONTACT-3", "la.contact", 28, revision=2, summary="Contact, corrected"),
        event(
            LA, "CONTACT-2", "la.contact", 29, summary=SHIELDED_SUMMARY, shielded_fields=["summary"]
        ),
    ],
    "shire-icb": [
        event(
            ICB,
            "WNB-0",
            "health.was-not-brought",
            40,
            details={"service": "paediatrics", "appointment_type": "review"},
        ),
    ],
}
FIRST_REFS = [
    "shire-constabulary/DA-1@1",
    "shire-county-council/CONTACT-3@1",
    "shire-county-council/S47-1@1",
]
SECOND_REFS = [
    "shire-county-council/CONTACT-2@1",
    "shire-county-council/CONTACT-3@2",
    "shire-icb/WNB-0@1",
]


@dataclass
class Case:
    hub: Hub
    between: datetime  # after the first batch, before the second
    end: datetime  # after everything, before the pack


def ingest(hub: Hub, batch: dict[str, list[bytes]], start: int) -> None:
    for agency, values in batch.items():
        hub.ingest.ingest(
            [
                InboundMessage(f"inbox:{agency}/case", start + i, v, agency)
                for i, v in enumerate(values)
            ]
        )


@pytest.fixture
def case(settings: HubSettings) -> Iterator[Case]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub, at=datetime.now(UTC) - timedelta(days=365))  # live: none backfilled
    ingest(hub, FIRST, 1)
    seen = hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert sorted(e.ref for e in seen.entries) == FIRST_REFS
    between = datetime.now(UTC)
    ingest(hub, SECOND, 10)
    yield Case(hub, between, datetime.now(UTC))
    hub.close()


def refs(entries: list[dict[str, object]]) -> list[str]:
    return sorted(str(e["ref"]) for e in entries)


def pdf_text(document: bytes) -> str:
    """The text a reader (or a screen reader) gets out of the PDF, page by page, with its
    line breaks (a table cell wraps its text) read as spaces."""
    reader = PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def assert_tagged_and_accessible(document: bytes, title: str) -> None:
    """PDF/UA-1 as a checker sees it: a structure tree, marked content, the document's
    language, a title shown as the window title, and the PDF/UA identification."""
    reader = PdfReader(io.BytesIO(document))
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert catalog["/Lang"] == "en-GB"
    assert reader.metadata is not None and reader.metadata.title == title
    assert bool(catalog["/ViewerPreferences"]["/DisplayDocTitle"])
    assert b"pdfuaid:part" in catalog["/Metadata"].get_object().get_data()


def test_the_pack_replays_each_date_and_every_proof_checks_out(case: Case) -> None:
    hub = case.hub
    hub.audit_queries.commission_review("dpo-0001", CHILD, "rev-0001", "rapid review", 30)
    pack = build_pack(
        hub.replay, hub.integrity, CHILD, "rev-0001", [case.end, case.between], "lcpp-0001"
    )

    assert (pack.permitted, pack.as_of) == (True, [case.between, case.end])
    then, now = pack.replays
    assert refs(then["held"]) == FIRST_REFS
    assert refs(then["known_not_shared"]) == SECOND_REFS
    statuses = {e["ref"]: (e["status"], e["replaced_by"]) for e in then["held"]}
    assert statuses["shire-county-council/CONTACT-3@1"] == ("current", None)  # not yet corrected
    assert [(d["practitioner"], sorted(d["shown"])) for d in then["disclosures"]] == [
        ("lcpp-0001", FIRST_REFS)
    ]
    assert then["never_shown"] == []
    assert refs(then["as_practitioner"]["entries"]) == FIRST_REFS
    assert refs(now["held"]) == sorted(FIRST_REFS + SECOND_REFS)
    assert now["known_not_shared"] == []
    statuses = {e["ref"]: (e["status"], e["replaced_by"]) for e in now["held"]}
    assert statuses["shire-county-council/CONTACT-3@1"] == ("superseded", "CONTACT-3@2")
    assert sorted(now["never_shown"]) == SECOND_REFS
    assert {e["ref"]: e["late"] for e in now["latency"]}["shire-icb/WNB-0@1"] is True
    assert now["latency_by_agency"]["shire-icb"]["late"] == 1
    agreement = hub.gate.agreement_in_force(case.end)
    assert pack.agreement_versions == {
        case.between.isoformat(): agreement,
        case.end.isoformat(): agreement,
    }

    checkpoint = pack.checkpoint
    assert checkpoint is not None and pack.public_key is not None
    assert checkpoint["log"] == "events"
    assert signature_valid(
        pack.public_key, checkpoint_bytes(checkpoint), bytes.fromhex(checkpoint["signature"])
    )
    forged = checkpoint | {"size": checkpoint["size"] - 1}
    assert not signature_valid(
        pack.public_key, checkpoint_bytes(forged), bytes.fromhex(checkpoint["signature"])
    )
    rows = {
        (str(n.originator_id), n.originator_version): row_leaf(n).hex()
        for n in hub.store.recorder.select_notifications(start=1, limit=10_000)
    }
    assert [p["ref"] for p in pack.proofs] == [e["ref"] for e in now["held"]]
    for proof in pack.proofs:
        assert proof["tree_size"] == checkpoint["size"]
        assert rows[(str(UUID(proof["stream"])), proof["version"])] == proof["leaf_hash"]
        assert verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            proof["leaf_index"],
            proof["tree_size"],
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(checkpoint["root"]),
        )
        assert not verify_inclusion(  # the same proof for another leaf fails
            bytes.fromhex(proof["leaf_hash"]),
            (proof["leaf_index"] + 1) % proof["tree_size"],
            proof["tree_size"],
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(checkpoint["root"]),
        )

    document = json.loads(json.dumps(pack.as_dict()))
    assert document["inclusion_proofs"] == pack.proofs
    assert SHIELDED_SUMMARY not in json.dumps(document)

    html = render_html(pack)
    for ref in FIRST_REFS + SECOND_REFS:
        assert ref in html
    for value in (checkpoint["root"], checkpoint["signature"], pack.public_key, "RFC 9162"):
        assert value in html
    assert "[shielded]" in html and SHIELDED_SUMMARY not in html
    assert "<script" not in html and "http://" not in html and "https://" not in html

    pdf = render_pdf(pack)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    assert_tagged_and_accessible(pdf, "Practice review pack")
    text = pdf_text(pdf)
    unwrapped = "".join(text.split())  # a ref or a hash in a narrow column wraps across lines
    for ref in FIRST_REFS + SECOND_REFS:
        assert ref in unwrapped
    assert checkpoint["root"] in unwrapped
    assert "Late" in text and "shire-icb/WNB-0@1" in unwrapped
    assert "Officers attended — Łucja hid upstairs" in text  # embedded fonts: no Latin-1 cut
    # The current terms (serious case reviews were replaced in 2018), in both documents.
    for document_text in (html, text):
        assert "Practice review pack" in document_text
        assert "Rapid Review" in document_text
        assert "local child safeguarding practice review" in document_text
        assert "serious case review" not in document_text.lower()
    assert "the hub held 3 of them" in text  # recorded by the agencies beside held by the hub


def test_a_reviewer_without_a_commission_gets_the_refusal_and_nothing_else(case: Case) -> None:
    hub = case.hub
    pack = build_pack(
        hub.replay, hub.integrity, CHILD, "rev-0001", [case.between, case.end], "lcpp-0001"
    )
    assert pack == ReviewPack(
        child=CHILD.identifier,
        reviewer="rev-0001",
        generated_at=pack.generated_at,
        as_of=[case.between, case.end],
        outcome="denied",
        denied_reasons=pack.denied_reasons,
    )
    assert "no current legitimate relationship" in pack.denied_reasons[0]
    audit = hub.audit.for_practitioner("rev-0001")
    audited = [r for r in audit if isinstance(r, DisclosureAudited)]
    assert [(r.outcome, r.purpose) for r in audited] == [("denied", "practice-review")]  # once
    everything = json.dumps(pack.as_dict()) + render_html(pack) + pdf_text(render_pdf(pack))
    assert "Access denied" in render_html(pack)
    for ref in FIRST_REFS + SECOND_REFS:
        assert ref.split("/")[1].split("@")[0] not in everything
    assert pack.as_dict()["checkpoint"] is None and pack.as_dict()["inclusion_proofs"] == []
