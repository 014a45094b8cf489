"""The synthetic partnership: every native row goes through its real adapter, the counts
match the manifest, a seed always gives the same files, and the sibling case reads in order."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.adapters.agencies.base import AdapterResult
from hub.adapters.agencies.registry import get_adapter
from hub.demo.population import SIBLING_HOUSEHOLDS, PartnershipManifest, generate_partnership
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.identity import validate_provisional_id
from hub.domain.taxonomy import CHILD_DETAILS_KINDS as DETAILS_KINDS


@pytest.fixture(scope="module")
def partnership(tmp_path_factory: pytest.TempPathFactory) -> PartnershipManifest:
    return generate_partnership(tmp_path_factory.mktemp("partnership"))


@pytest.fixture(scope="module")
def results(partnership: PartnershipManifest) -> dict[str, AdapterResult]:
    return {
        export.agency_id: get_adapter(export.adapter).read(export.path, export.agency_id)
        for export in partnership.agencies
    }


@pytest.fixture(scope="module")
def events(results: dict[str, AdapterResult]) -> list[CanonicalEvent]:
    return [event for result in results.values() for event in result.events]


def test_manifest_lists_the_seven_agencies_in_their_native_formats(
    partnership: PartnershipManifest,
) -> None:
    assert [
        (a.agency_id, a.agency_type.value, a.adapter, a.path.name) for a in partnership.agencies
    ] == [
        ("shire-county-council", "local-authority", "la-csv", "shire-county-council.csv"),
        ("shire-constabulary", "police", "police-json", "shire-constabulary.json"),
        ("shire-icb", "health", "health-fhir", "shire-icb.json"),
        ("school-100001", "education", "school-csv", "school-100001.csv"),
        ("school-100002", "education", "school-csv", "school-100002.csv"),
        ("school-100003", "education", "school-csv", "school-100003.csv"),
        ("school-100004", "education", "school-csv", "school-100004.csv"),
    ]
    assert (partnership.seed, partnership.children) == (7, 400)
    assert list(partnership.sibling_nhs_numbers) == ["Jackson", "Madison", "Jayden"]


_CHECK_DIGIT = (
    "not a valid NHS number: the Modulus 11 check digit does not match "
    "(check for a mistyped or transposed digit)"
)
_SEE_DOCS = "; see docs/adapters.md for the codes"
_RESOURCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9.-]+: ")
BAD_ROW_REASONS = {
    "la-csv": {
        f"column nhs_number: {_CHECK_DIGIT}",
        f"column event_type: unknown code 'CIN_CLOSE'{_SEE_DOCS}",
    },
    "police-json": {
        f"subjects[1].nhs_number: {_CHECK_DIGIT}",
        f"incident_type: unknown code 'ASB'{_SEE_DOCS}",
    },
    "health-fhir": {
        f"subject.identifier.value: {_CHECK_DIGIT}",
        f"code.coding.code: unknown code 'HV-REVIEW'{_SEE_DOCS}",
    },
    "school-csv": {
        f"column nhs_number: {_CHECK_DIGIT}",
        f"column incident_type: unknown code 'BULLYING'{_SEE_DOCS}",
    },
}


def test_every_row_maps_except_the_deliberately_bad_ones(
    partnership: PartnershipManifest, results: dict[str, AdapterResult]
) -> None:
    for export in partnership.agencies:
        result = results[export.agency_id]
        assert export.bad_rows == 2
        assert len(result.problems) == export.bad_rows
        assert len(result.events) == export.events_expected
        assert {event.agency.id for event in result.events} == {export.agency_id}
        assert {problem.file for problem in result.problems} == {str(export.path)}
        # The health adapter names the FHIR resource (`Observation/sg-...: `) before the reason.
        reasons = {_RESOURCE.sub("", problem.reason) for problem in result.problems}
        assert reasons == BAD_ROW_REASONS[export.adapter]


def test_counts_per_agency_match_the_manifest_exactly(partnership: PartnershipManifest) -> None:
    counts = {
        a.agency_id: (a.rows_written, a.bad_rows, a.events_expected) for a in partnership.agencies
    }
    assert counts == {
        # the council's and the ICB's records of who each child they know is, the council's
        # updated for the 5 children who became looked after
        "shire-county-council": (787, 2, 785),
        # one incident names all three siblings: three events from one row
        "shire-constabulary": (274, 2, 274),
        "shire-icb": (916, 2, 914),
        "school-100001": (150, 2, 148),
        "school-100002": (112, 2, 110),
        "school-100003": (56, 2, 54),
        "school-100004": (63, 2, 61),
    }


def test_problem_reasons_name_no_child(results: dict[str, AdapterResult]) -> None:
    for result in results.values():
        for problem in result.problems:
            assert re.search(r"[0-9]{10}", problem.reason) is None
            assert "Deliberately" not in problem.reason


def test_dates_are_within_1990_and_the_end_of_2025(events: list[CanonicalEvent]) -> None:
    assert min(e.occurred_at for e in events) >= datetime(2021, 1, 1, tzinfo=UTC)
    assert max(e.recorded_at for e in events) < datetime(2026, 1, 1, tzinfo=UTC)
    assert all(e.occurred_at <= e.recorded_at for e in events)


def test_event_counts_per_child_are_heavy_tailed(events: list[CanonicalEvent]) -> None:
    per_child = Counter(e.child.identifier for e in events)
    counts = sorted(per_child.values())
    assert len(per_child) == 401  # 400 NHS numbers and the provisional id
    assert sum(1 for c in counts if c <= 5) / len(counts) > 0.8
    assert sum(1 for c in counts if c >= 100) >= 2
    assert counts[-1] >= 300


def test_corrections_retraction_and_provisional_link_are_present(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    corrected = sorted(
        e.agency.type.value for e in events if e.revision == 2 and e.kind not in DETAILS_KINDS
    )
    assert corrected == ["education", "health", "local-authority", "police"]
    retractions = [e for e in events if e.kind == "record.retracted"]
    assert len(retractions) == 1
    assert retractions[0].supersedes is not None
    retracted_id = retractions[0].supersedes.event_id
    assert [e.kind for e in events if e.event_id == retracted_id] == ["la.contact"]

    provisional = validate_provisional_id(partnership.provisional_id)
    before_birth = sorted(
        (e for e in events if e.child.provisional_id == provisional), key=lambda e: e.occurred_at
    )
    assert [e.kind for e in before_birth] == [
        "health.maternity-pre-birth-concern",
        "health.child-details",  # unborn: an expected date of delivery, no name yet
        "la.child-details",
        "la.assessment-started",
        "identity.linked",
    ]
    assert before_birth[-1].details == {"nhs_number": partnership.provisional_linked_nhs_number}


SIBLING_KINDS = {
    "Jackson": [
        "education.enrolled",
        "education.safeguarding-disclosure",
        "la.child-details",  # a few minutes before the council's first record of him
        "la.referral",
        "la.worker-allocated",
        "la.assessment-started",
        "la.assessment-completed",
        "la.child-in-need-plan",
        "la.worker-allocated",
        "la.family-help-episode",
        "la.fgdm",
        "education.safeguarding-disclosure",
        "la.decision",
        "police.home-visit",
        "la.contact",
        "la.decision",
        "education.safeguarding-disclosure",
        "la.referral",
        "la.strategy-discussion",
        "la.s47-enquiry-started",
        "la.s47-enquiry-outcome",
        "la.initial-cp-conference",
        "la.cp-plan-started",
        "la.looked-after",
        "la.placement-started",
        "la.child-details",  # revision 2: looked after, the carers' address shielded
        "health.looked-after-health-assessment",
        "health.child-details",  # the ICB's Patient, as at its lastUpdated
    ],
    "Madison": [
        "health.was-not-brought",
        "health.child-details",
        "health.was-not-brought",
        "health.was-not-brought",
        "la.child-details",
        "la.referral",
        "la.worker-allocated",
        "la.assessment-started",
        "la.assessment-completed",
        "la.child-in-need-plan",
        "la.worker-allocated",
        "la.family-help-episode",
        "la.fgdm",
        "police.home-visit",
        "la.contact",
        "la.decision",
        "education.enrolled",
        "education.safeguarding-disclosure",
        "education.elective-home-education-notice",
        "education.enrolled",
        "education.safeguarding-disclosure",
        "la.referral",
        "la.strategy-discussion",
        "la.s47-enquiry-started",
        "la.s47-enquiry-outcome",
        "la.initial-cp-conference",
        "la.cp-plan-started",
        "la.looked-after",
        "la.placement-started",
        "la.child-details",
        "health.looked-after-health-assessment",
    ],
    "Jayden": [
        "health.health-visitor-concern",
        "health.child-details",
        "la.child-details",
        "la.worker-allocated",
        "la.assessment-started",
        "la.assessment-completed",
        "la.child-in-need-plan",
        "health.health-visitor-concern",
        "health.was-not-brought",
        "la.worker-allocated",
        "health.was-not-brought",
        "la.family-help-episode",
        "la.fgdm",
        "police.home-visit",
        "health.parental-mental-health-crisis",
        "la.contact",
        "la.decision",
        "health.was-not-brought",
        "la.referral",
        "la.strategy-discussion",
        "la.s47-enquiry-started",
        "la.s47-enquiry-outcome",
        "la.initial-cp-conference",
        "la.cp-plan-started",
        "la.looked-after",
        "la.placement-started",
        "la.child-details",
        "health.looked-after-health-assessment",
    ],
}


def test_sibling_case_reads_in_time_order_over_four_years(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    for label, nhs_number in partnership.sibling_nhs_numbers.items():
        own = [e for e in events if e.child.nhs_number == nhs_number]
        chronology = sorted(own, key=lambda e: e.occurred_at)
        assert [e.kind for e in chronology] == SIBLING_KINDS[label], label
        assert len({e.occurred_at for e in own}) == len(own), "no two steps at the same moment"
        assert chronology[-1].occurred_at.year - chronology[0].occurred_at.year >= 3
    madison = partnership.sibling_nhs_numbers["Madison"]
    first = min(e.occurred_at for e in events if e.child.nhs_number == madison)
    last = max(e.occurred_at for e in events if e.child.nhs_number == madison)
    assert (last - first).days >= 4 * 365


def test_sibling_case_shows_what_no_single_agency_saw(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    siblings = set(partnership.sibling_nhs_numbers.values())
    visits = [e for e in events if e.kind == "police.home-visit" and e.child.nhs_number in siblings]
    assert len({e.event_id.split("/")[0] for e in visits}) == 1  # one incident, three children
    assert [(e.details["child_seen"], e.details["child_spoken_to"]) for e in visits] == [
        (True, False)
    ] * 3
    home_education = [e for e in events if e.kind == "education.elective-home-education-notice"]
    assert [e.child.nhs_number for e in home_education] == [
        partnership.sibling_nhs_numbers["Madison"]
    ]
    assert home_education[0].details == {
        "la_consent_required": False,
        "reason_given": "Parents wish to educate at home",
    }
    placements = [
        e for e in events if e.kind == "la.placement-started" and e.child.nhs_number in siblings
    ]
    assert {tuple(e.shielded_fields) for e in placements} == {("details.placement_address",)}


def test_sibling_events_carry_each_agencys_household_reference(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    siblings = set(partnership.sibling_nhs_numbers.values())
    theirs = [e for e in events if e.child.nhs_number in siblings and e.kind not in DETAILS_KINDS]
    by_agency: dict[str, set[str | None]] = {}
    for event in theirs:
        by_agency.setdefault(event.agency.id, set()).add(event.household_ref)
    (visit,) = {e.event_id.split("/")[0] for e in theirs if e.kind == "police.home-visit"}
    assert by_agency == {
        "shire-county-council": {"FAM-0007001"},
        "shire-constabulary": {visit},  # the one incident naming all three children
        "school-100001": {"SF-0042"},
        "shire-icb": {None},
    }
    assert SIBLING_HOUSEHOLDS == {"LA": "FAM-0007001", "SCHOOL": "SF-0042"}
    council = [e for e in theirs if e.agency.id == "shire-county-council"]
    per_child = Counter(e.child.nhs_number for e in council)
    assert [per_child[n] for n in partnership.sibling_nhs_numbers.values()] == [19, 18, 17]
    # Nobody outside the sibling case shares their references.
    others = [e for e in events if e.child.nhs_number not in siblings]
    assert {e.household_ref for e in others} == {None}


def test_sibling_case_allocations_plans_and_enrolments(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    names = {number: label for label, number in partnership.sibling_nhs_numbers.items()}
    theirs = sorted((e for e in events if e.child.nhs_number in names), key=lambda e: e.occurred_at)

    def steps(kind: str) -> list[tuple[str, str, str]]:
        return [
            (names[e.child.nhs_number or ""], e.agency.id, e.occurred_at.date().isoformat())
            for e in theirs
            if e.kind == kind
        ]

    allocations = [(e.occurred_at.date().isoformat(), e.details) for e in theirs
                   if e.kind == "la.worker-allocated"]  # fmt: skip
    first = {"practitioner_id": "sw-0001", "role": "social-worker"}
    handover = {"practitioner_id": "sw-0002", "role": "social-worker"}
    assert allocations == [("2022-10-06", first)] * 3 + [("2023-06-15", handover)] * 3
    council = "shire-county-council"
    assert steps("la.s47-enquiry-started") == [
        (name, council, "2025-06-18") for name in ("Jackson", "Madison", "Jayden")
    ]
    assert steps("la.cp-plan-started") == [
        (name, council, "2025-07-09") for name in ("Jackson", "Madison", "Jayden")
    ]
    assert {e.details["category"] for e in theirs if e.kind == "la.cp-plan-started"} == {"multiple"}
    assert steps("la.looked-after") == [
        (name, council, "2025-07-18") for name in ("Jackson", "Madison", "Jayden")
    ]
    enrolments = [
        (names[e.child.nhs_number or ""], e.agency.id, e.details)
        for e in theirs
        if e.kind == "education.enrolled"
    ]
    assert enrolments == [
        ("Jackson", "school-100001", {"school_urn": "100001", "starts_on": "2022-09-05"}),
        ("Madison", "school-100001", {"school_urn": "100001", "starts_on": "2024-09-04"}),
        ("Madison", "school-100001", {"school_urn": "100001", "starts_on": "2025-05-06"}),
    ]


def test_every_child_the_council_or_the_icb_knows_has_their_details_from_it(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    for agency, kind in (("shire-county-council", "la.child-details"),
                         ("shire-icb", "health.child-details")):  # fmt: skip
        known = {e.child.identifier for e in events if e.agency.id == agency}
        described = [e for e in events if e.kind == kind]
        assert {e.child.identifier for e in described} == known
        assert len({e.event_id for e in described}) == len(known)  # one record per child
        for event in described:
            first = min(e.occurred_at for e in events
                        if e.agency.id == agency and e.child == event.child)  # fmt: skip
            if event.revision == 1 and kind == "la.child-details":
                assert event.occurred_at == first  # just before the council's first record
    unborn = [e for e in events if e.child.provisional_id and e.kind.endswith("child-details")]
    assert {e.details["expected_delivery_date"] for e in unborn} == {"2025-01-24"}
    baby = partnership.provisional_linked_nhs_number
    born = [e for e in events if e.child.nhs_number == baby and e.kind.endswith("child-details")]
    assert {e.details["date_of_birth"] for e in born} == {"2025-01-20"}
    assert {e.details["family_name"] for e in [*unborn, *born]} == {born[0].details["family_name"]}


def test_the_siblings_details_and_their_update_when_looked_after(
    partnership: PartnershipManifest, events: list[CanonicalEvent]
) -> None:
    details = {
        label: [e for e in events if e.child.nhs_number == nhs and e.kind == "la.child-details"]
        for label, nhs in partnership.sibling_nhs_numbers.items()
    }
    births = {"Jackson": "2018-03-14", "Madison": "2020-06-02", "Jayden": "2022-02-19"}
    sexes = {"Jackson": "male", "Madison": "female", "Jayden": "male"}
    family = {e.details["family_name"] for records in details.values() for e in records}
    assert len(family) == 1  # one family
    for label, (first, update) in details.items():
        assert (first.revision, update.revision, first.event_id) == (1, 2, update.event_id)
        assert first.details["given_names"] == [label]
        assert (first.details["date_of_birth"], first.details["sex"]) == (
            births[label],
            sexes[label],
        )
        assert first.household_ref is None and update.household_ref is None
        assert "legal_status" not in first.details and first.shielded_fields == []
        assert update.details["legal_status"] == "interim-care-order"
        assert update.details["address"] == {"lines": ["3 Example Row (fictional)"]}
        assert update.shielded_fields == ["details.address"]


def test_child_details_are_fictional_and_drawn_apart_from_the_rest(tmp_path: Path) -> None:
    """Names and addresses come from their own random stream: the other rows are the same as
    they would be without them, and a seed always gives the same children."""
    first = generate_partnership(tmp_path / "a", seed=11, children=60)
    other = generate_partnership(tmp_path / "b", seed=12, children=60)

    def rows(manifest: PartnershipManifest) -> tuple[list[str], list[str]]:
        lines = manifest.agencies[0].path.read_text(encoding="utf-8").splitlines()
        return ([r for r in lines if ",CHILD_DETAILS," not in r],
                [r for r in lines if ",CHILD_DETAILS," in r])  # fmt: skip

    (events_a, details_a), (_, details_b) = rows(first), rows(other)
    assert details_a and details_b and details_a != details_b
    assert all("(fictional)" in row for row in details_a)  # every address says so
    # Every other council row keeps the record id it had before the details were added: the
    # details' ids come after them all.
    ids = [row.split(",")[0] for row in events_a[1:]]
    assert max(ids) < min(row.split(",")[0] for row in details_a)


def test_every_allocation_names_one_of_the_two_demo_social_workers(
    events: list[CanonicalEvent],
) -> None:
    allocations = [e for e in events if e.kind == "la.worker-allocated"]
    assert len(allocations) > 6  # the random population allocates too
    assert {str(e.details["practitioner_id"]) for e in allocations} == {"sw-0001", "sw-0002"}
    assert {e.details["role"] for e in allocations} == {"social-worker"}


def test_sibling_names_are_only_in_the_records_of_who_they_are(
    partnership: PartnershipManifest,
) -> None:
    """The council's CHILD_DETAILS rows and the ICB's Patients name the children; no other
    row or resource does, and the police and schools' exports never."""
    for export in partnership.agencies:
        if export.adapter == "la-csv":
            rows = export.path.read_text(encoding="utf-8").splitlines()
            texts = [row for row in rows if ",CHILD_DETAILS," not in row]
        elif export.adapter == "health-fhir":
            bundle = json.loads(export.path.read_text(encoding="utf-8"))
            resources = [entry["resource"] for entry in bundle["entry"]]
            texts = [json.dumps(r) for r in resources if r["resourceType"] != "Patient"]
        else:
            texts = [export.path.read_text(encoding="utf-8")]
        for name in partnership.sibling_nhs_numbers:
            assert not any(name in text for text in texts), (export.agency_id, name)


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    first = generate_partnership(tmp_path / "a", seed=11, children=60)
    again = generate_partnership(tmp_path / "b", seed=11, children=60)
    other = generate_partnership(tmp_path / "c", seed=12, children=60)
    for x, y in zip(first.agencies, again.agencies, strict=True):
        assert x.path.read_bytes() == y.path.read_bytes()
        assert (x.rows_written, x.events_expected) == (y.rows_written, y.events_expected)
    assert first.sibling_nhs_numbers == again.sibling_nhs_numbers
    assert first.provisional_id == again.provisional_id
    assert first.sibling_nhs_numbers != other.sibling_nhs_numbers
    assert first.agencies[0].path.read_bytes() != other.agencies[0].path.read_bytes()


def test_small_partnerships_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 10 children"):
        generate_partnership(tmp_path, children=9)
