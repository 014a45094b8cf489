"""The audit renderer on its own: the table a data protection officer reads, the CSV they export
(formula injection neutralised), and the `--from` reading of a date."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

from hub.audit_queries import AuditAnswer
from hub.disclosure_gate import ChildIdentity
from hub.domain.access import Practitioner, Role
from hub.domain.agency_records import AgencyRecord
from hub.domain.taxonomy import AgencyType
from hub.domain.uk_time import parse_as_of, parse_from
from hub.reports.audit_csv import DISCLOSURE_COLUMNS, audit_csv, csv_cell
from hub.reports.audit_table import audit_text
from hub.reports.audit_words import AuditNames, action_text, child_streams, organisation_names

KNOWN = "a" * 32
HIDDEN = "b" * 32
ERASED = "c" * 32
MORAG = Practitioner(
    "lcpp-0001",
    "Morag Ellison",
    "shire-county-council",
    AgencyType.LOCAL_AUTHORITY,
    Role.LEAD_CHILD_PROTECTION_PRACTITIONER,
)
UK_TIME = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (GMT|BST)")
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "at": "2026-07-01T08:30:00+00:00",
        "audit_ref": "f" * 32 + "@3",
        "practitioner": "lcpp-0001",
        "organisation": "shire-county-council",
        "role": "lead-child-protection-practitioner",
        "action": "view",
        "purpose": "child-protection-planning",
        "lawful_basis": "legal-obligation",
        "agreement_version": "shire@2026.1",
        "child": KNOWN,
        "outcome": "partially-disclosed",
        "disclosed": [f"shire-county-council/E-{n}@1" for n in range(12)],
        "redacted": {"shire-county-council/E-1@1": ["summary"], "x/E-2@1": ["details.a"]},
        "withheld": ["shire-constabulary/P-1@1"],
        "denied": {},
        "relationship": "allocated-worker via shire-county-council/ALLOC-1",
        "break_glass_reason": None,
    }
    return {**base, **overrides}


def names() -> AuditNames:
    agencies = [
        AgencyRecord("shire-county-council", "local-authority", "canonical", "t", "p", "now"),
        AgencyRecord("shire-constabulary", "police", "canonical", "t", "p", "now"),
    ]
    return AuditNames(
        practitioners={"lcpp-0001": MORAG}.get,
        organisations=organisation_names(agencies),
        children={
            KNOWN: ChildIdentity("9434765919"),
            HIDDEN: ChildIdentity(None),
            ERASED: ChildIdentity(None, erased=True, erased_on=date(2026, 3, 4)),
        },
    )


def test_the_table_names_people_organisations_and_children_in_uk_time() -> None:
    answer = AuditAnswer(
        "outside-relationship",
        [
            row(),
            row(practitioner="gone-0001", child=HIDDEN, at="2026-01-10T09:00:00+00:00"),
            row(child=ERASED, break_glass_reason="=HYPERLINK(evil)"),
        ],
    )
    text = audit_text(answer, names(), width=250)  # wide enough that no cell wraps
    assert "Morag Ellison (lcpp-0001)" in text
    assert "Lead child protection practitioner" in text
    assert "shire-county-council (local authority)" in text
    assert "gone-0001 (not in the directory)" in text
    assert "9434765919" in text
    assert "child not identifiable to you (ref bbbbbbbb)" in text
    assert "record erased on 4 Mar 2026 (ref cccccccc)" in text
    assert HIDDEN not in text and ERASED not in text  # never the pseudonym as if it meant much
    assert "1 Jul 2026, 09:30 BST" in text and "10 Jan 2026, 09:00 GMT" in text
    assert UK_TIME.search(text) and not ISO_UTC.search(text)
    assert "12 items disclosed, 2 redacted, 1 withheld" in text
    assert "Viewed the chronology" in text and "for child protection planning" in text
    assert '"rows"' not in text and "{" not in text
    assert all(len(line) <= 250 for line in text.splitlines())


def test_the_table_fits_a_narrow_terminal_without_losing_words() -> None:
    answer = AuditAnswer("what-practitioner-saw", [row()])
    text = audit_text(answer, names(), subject="Morag Ellison (lcpp-0001)", width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "1 Jul 2026, 09:30 BST" in text  # the time is never wrapped


def test_csv_has_one_row_per_disclosure_with_readable_columns() -> None:
    answer = AuditAnswer("who-saw-child", [row(), row(practitioner="gone-0001", child=HIDDEN)])
    rows = list(csv.DictReader(io.StringIO(audit_csv(answer, names()), newline="")))
    assert len(rows) == 2
    assert tuple(rows[0]) == DISCLOSURE_COLUMNS
    first, second = rows
    assert first["practitioner"] == "Morag Ellison (lcpp-0001)"
    assert first["organisation"] == "shire-county-council (local authority)"
    assert first["child"] == "9434765919"
    assert first["when_uk"] == "2026-07-01 09:30:00 BST"
    assert (first["items_disclosed"], first["items_redacted"], first["items_withheld"]) == (
        "12",
        "2",
        "1",
    )
    assert first["audit_ref"] == "f" * 32 + "@3"
    assert second["practitioner"] == "gone-0001 (not in the directory)"
    assert second["child"].startswith("child not identifiable to you")


def test_csv_neutralises_formula_injection() -> None:
    hostile = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    answer = AuditAnswer(
        "outside-relationship",
        [row(break_glass_reason=value, relationship=value) for value in hostile],
    )
    out = audit_csv(answer, names())
    assert out.endswith("\r\n")  # RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    for value, parsed in zip(hostile, rows, strict=True):
        assert parsed["break_glass_reason"] == "'" + value
        assert parsed["relationship"] == "'" + value
    assert csv_cell("harmless = text") == "harmless = text"
    assert csv_cell(None) == ""


def test_break_glass_lists_what_was_disclosed_under_the_grant() -> None:
    disclosures = [
        row(
            break_glass_reason="child missing",
            disclosed=["shire-county-council/E-1@1", "shire-icb/Enc-1@2"],
            redacted={"shire-icb/Enc-1@2": ["details.gp"]},
            withheld=[],
        )
    ]
    grant = {
        "granted_at": "2026-07-01T08:00:00+00:00",
        "expires_at": "2026-07-01T12:00:00+00:00",
        "ended_at": "2026-07-01T09:00:00+00:00",
        "practitioner": "lcpp-0001",
        "child": KNOWN,
        "reason": "child missing",
        "grant": "d" * 32 + "@1",
        "review": None,
        "disclosures": disclosures,
    }
    answer = AuditAnswer("break-glass", [grant])
    assert child_streams(answer) == [KNOWN]
    text = audit_text(answer, names(), width=120)
    assert "Morag Ellison (lcpp-0001)" in text
    assert "shire-county-council (local authority)" in text
    assert "awaiting review" in text and "child missing" in text
    assert "Granted       1 Jul 2026, 09:00 BST" in text
    assert "Ended         1 Jul 2026, 10:00 BST" in text
    assert "shire-county-council/E-1@1" in text
    assert "shire-icb/Enc-1@2 (redacted: details.gp)" in text
    assert "f" * 32 + "@3" in text
    assert "1 disclosure, 2 items disclosed, 1 redacted" in text
    rows = list(csv.DictReader(io.StringIO(audit_csv(answer, names()), newline="")))
    assert [(r["practitioner"], r["disclosure_audit_ref"], r["items_disclosed"]) for r in rows] == [
        ("Morag Ellison (lcpp-0001)", "f" * 32 + "@3", "2")
    ]


def test_from_reads_the_start_of_what_it_names() -> None:
    assert parse_from("2026-03-01") == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # GMT
    assert parse_from("2026-07-01") == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)  # BST
    assert parse_from("2026-07-01T10:15") == datetime(2026, 7, 1, 9, 15, tzinfo=UTC)
    assert parse_from("2026-07-01T10:15Z") == datetime(2026, 7, 1, 10, 15, tzinfo=UTC)
    assert parse_from("2026-03-31") == datetime(2026, 3, 30, 23, 0, tzinfo=UTC)  # BST
    assert parse_as_of("2026-03-31") > parse_from("2026-03-31")  # --to takes the whole day


def test_what_crossed_to_or_from_a_partner_hub_is_named_in_words() -> None:
    assert action_text("federation-correction-sent") == (
        "Correction sent to a partner hub (entries withdrawn or replaced)"
    )
    assert action_text("federation-correction-received") == (
        "Correction received from a partner hub"
    )
    assert action_text("federation-transfer-received") == "Transfer received from a partner hub"
