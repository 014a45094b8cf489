"""A data protection officer's audit answers as CSV for a spreadsheet (`hub audit --format
csv`): RFC 4180 (the csv module, CRLF line ends), one row per disclosure, and a value a
spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`, tab or carriage return) is
written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from hub.audit_queries import AuditAnswer
from hub.reports.audit_words import (
    AuditNames,
    action_text,
    review_text,
    when_uk,
    withholding_text,
)
from hub.reports.rendering import readable_label

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# CSV ------------------------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """A value for a spreadsheet cell: text that a spreadsheet would run as a formula gets a
    leading apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


DISCLOSURE_COLUMNS = (
    "when_uk",
    "practitioner_id",
    "practitioner",
    "role",
    "organisation_id",
    "organisation",
    "child",
    "action",
    "purpose",
    "lawful_basis",
    "agreement_version",
    "relationship",
    "break_glass_reason",
    "outcome",
    "items_disclosed",
    "items_redacted",
    "items_withheld",
    "disclosed",
    "redacted",
    "withheld",
    "audit_ref",
)
BREAK_GLASS_COLUMNS = (
    "granted_uk",
    "expires_uk",
    "ended_uk",
    "practitioner_id",
    "practitioner",
    "organisation",
    "child",
    "reason",
    "review",
    "grant_ref",
    "disclosure_when_uk",
    "disclosure_audit_ref",
    "items_disclosed",
    "items_redacted",
    "items_withheld",
    "disclosed",
    "withheld",
)
WITHHELD_COLUMNS = (
    "child",
    "item",
    "kind",
    "published_by",
    "withheld_from",
    "review_by",
    "review_overdue",
    "erased",
)
BROAD_ACCESS_COLUMNS = ("practitioner_id", "practitioner", "organisation", "children", "days")


def _disclosure_record(row: Mapping[str, Any], names: AuditNames) -> dict[str, object]:
    who = row.get("practitioner") or ""
    return {
        "when_uk": when_uk(row.get("at"), precise=True),
        "practitioner_id": who,
        "practitioner": names.practitioner(who),
        "role": readable_label(row.get("role")),
        "organisation_id": row.get("organisation"),
        "organisation": names.organisation(row.get("organisation")),
        "child": names.child(row.get("child")),
        "action": action_text(row.get("action")),
        "purpose": readable_label(row.get("purpose")),
        "lawful_basis": row.get("lawful_basis"),
        "agreement_version": row.get("agreement_version"),
        "relationship": row.get("relationship"),
        "break_glass_reason": row.get("break_glass_reason"),
        "outcome": readable_label(row.get("outcome")),
        "items_disclosed": len(row.get("disclosed") or ()),
        "items_redacted": len(row.get("redacted") or ()),
        "items_withheld": len(row.get("withheld") or ()),
        "disclosed": " ".join(row.get("disclosed") or ()),
        "redacted": " ".join(row.get("redacted") or ()),
        "withheld": " ".join(row.get("withheld") or ()),
        "audit_ref": row.get("audit_ref"),
    }


def _break_glass_records(row: Mapping[str, Any], names: AuditNames) -> list[dict[str, object]]:
    who = row.get("practitioner") or ""
    review = row.get("review")
    grant: dict[str, object] = {
        "granted_uk": when_uk(row.get("granted_at"), precise=True),
        "expires_uk": when_uk(row.get("expires_at"), precise=True),
        "ended_uk": when_uk(row.get("ended_at"), precise=True),
        "practitioner_id": who,
        "practitioner": names.practitioner(who),
        "organisation": names.organisation(names.organisation_of(who)),
        "child": names.child(row.get("child")),
        "reason": row.get("reason"),
        "review": review_text(review, names),
        "grant_ref": row.get("grant"),
    }
    disclosures = row.get("disclosures") or []
    if not disclosures:
        return [grant]
    return [
        {
            **grant,
            "disclosure_when_uk": when_uk(d.get("at"), precise=True),
            "disclosure_audit_ref": d.get("audit_ref"),
            "items_disclosed": len(d.get("disclosed") or ()),
            "items_redacted": len(d.get("redacted") or ()),
            "items_withheld": len(d.get("withheld") or ()),
            "disclosed": " ".join(d.get("disclosed") or ()),
            "withheld": " ".join(d.get("withheld") or ()),
        }
        for d in disclosures
    ]


def audit_csv(answer: AuditAnswer, names: AuditNames) -> str:
    """The answer as CSV (RFC 4180): a header row, then one row per disclosure (per
    disclosure under a grant for break-glass, per item for withheld)."""
    columns: Sequence[str]
    records: list[dict[str, object]]
    if answer.query == "break-glass":
        columns = BREAK_GLASS_COLUMNS
        records = [r for row in answer.rows for r in _break_glass_records(row, names)]
    elif answer.query == "withheld":
        columns = WITHHELD_COLUMNS
        records = [
            {
                "child": names.child(row.get("child")),
                "item": row.get("ref"),
                "kind": row.get("kind"),
                "published_by": names.organisation(row.get("agency")),
                "withheld_from": withholding_text(row).replace("\n", "; "),
                "review_by": row.get("review_by"),
                "review_overdue": "yes" if row.get("review_overdue") else "no",
                "erased": "yes" if row.get("erased") else "no",
            }
            for row in answer.rows
        ]
    elif answer.query == "broad-access":
        columns = BROAD_ACCESS_COLUMNS
        records = [
            {
                "practitioner_id": row["practitioner"],
                "practitioner": names.practitioner(row["practitioner"]),
                "organisation": names.organisation(names.organisation_of(row["practitioner"])),
                "children": row.get("children"),
                "days": row.get("window_days"),
            }
            for row in answer.rows
        ]
    else:
        columns = DISCLOSURE_COLUMNS
        records = [_disclosure_record(row, names) for row in answer.rows]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_cell(record.get(column)) for column in columns])
    return out.getvalue()
