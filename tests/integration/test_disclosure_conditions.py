"""Each disclosure's audit entry records the UK GDPR Article 9 / Article 10 conditions of the
rule that permitted it, for the disclosed items that are special category or criminal offence
data (issue 18), and the DPO's audit rows show them."""

from __future__ import annotations

from hub.bootstrap import Hub
from hub.domain.access import Purpose
from hub.domain.records import DisclosureAudited
from tests.integration.test_disclosure import CHILD, case_hub  # noqa: F401 (the fixture)


def _entries(hub: Hub) -> list[DisclosureAudited]:
    stream = hub.gate.child_stream(CHILD)
    return [r for r in hub.audit.for_child(stream) if isinstance(r, DisclosureAudited)]


def test_a_school_dsl_disclosure_records_the_criminal_offence_condition(
    case_hub: Hub,  # noqa: F811
) -> None:
    case_hub.gate.view(CHILD, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    (entry,) = _entries(case_hub)
    # The police domestic abuse notice is criminal offence data; the school's own records and
    # the section 47 status are not special category or criminal offence data by kind.
    assert entry.conditions == {"criminal-offence:safeguarding": ["shire-constabulary/DA-1@1"]}


def test_the_lead_practitioner_sees_health_and_police_records_under_their_conditions(
    case_hub: Hub,  # noqa: F811
) -> None:
    view = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    (entry,) = _entries(case_hub)
    assert entry.conditions is not None
    assert sorted(entry.conditions) == [
        "criminal-offence:safeguarding",
        "special-category:safeguarding",
    ]
    disclosed = {e.ref: e.kind for e in view.entries}
    assert sorted(entry.conditions["special-category:safeguarding"]) == sorted(
        ref for ref, kind in disclosed.items() if kind.startswith("health.")
    )
    assert sorted(entry.conditions["criminal-offence:safeguarding"]) == sorted(
        ref for ref, kind in disclosed.items() if kind.startswith("police.")
    )
    rows = case_hub.audit_queries.who_saw_child("dpo-0001", CHILD).rows
    (row,) = [r for r in rows if r["practitioner"] == "lcpp-0001"]
    assert row["conditions"] == entry.conditions


def test_a_practice_review_relies_on_the_statutory_purposes_condition(
    case_hub: Hub,  # noqa: F811
) -> None:
    case_hub.gate.view(CHILD, "dpo-0001", Purpose.DATA_PROTECTION_AUDIT)
    (entry,) = _entries(case_hub)
    assert entry.conditions is not None
    assert set(entry.conditions) == {
        "criminal-offence:statutory-purposes",
        "special-category:statutory-purposes",
    }
