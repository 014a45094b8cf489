"""Policy-checked, write-ahead-audited chronology on the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.audit_ledger import AuditUnavailableError
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.policies.decision import AccessContext, Action, ItemAttributes
from hub.settings import HubSettings
from tests.factories import VALID_NHS_NUMBER, event_days_ago, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
CHILD = ChildRef(nhs_number=VALID_NHS_NUMBER)
REFUGE = "Kestrel-Refuge-Unit-7"
SHIELDED_SUMMARY = "Moved-to-Heron-Close-secret"
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
ICB = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}


def event(
    agency: dict[str, str], event_id: str, kind: str, days_ago: float, **fields: Any
) -> bytes:
    return event_days_ago(NOW, days_ago, event_id=event_id, agency=agency, kind=kind, **fields)


CASE = {
    "shire-county-council": [
        event(
            LA,
            "ALLOC-1",
            "la.worker-allocated",
            40,
            details={"practitioner_id": "sw-0002", "role": "social-worker"},
        ),
        event(LA, "S47-1", "la.s47-enquiry-started", 10),
        event(
            LA,
            "CONTACT-1",
            "la.contact",
            30,
            summary="Contact from neighbour",
            details={"refuge_address": REFUGE},
            shielded_fields=["details.refuge_address"],
        ),
        event(
            LA, "CONTACT-2", "la.contact", 29, summary=SHIELDED_SUMMARY, shielded_fields=["summary"]
        ),
        event(LA, "CONTACT-3", "la.contact", 28, summary="Contact, first version"),
        event(LA, "CONTACT-3", "la.contact", 28, revision=2, summary="Contact, corrected"),
    ],
    "shire-constabulary": [
        event(
            POLICE,
            "DA-1",
            "police.domestic-abuse-incident",
            20,
            details={"child_present": True, "police_reference": "OE-42", "child_voice": "I hid"},
        ),
        event(
            POLICE,
            "DA-2",
            "police.domestic-abuse-incident",
            15,
            details={"child_present": False, "police_reference": "OE-43"},
            withheld_from=[
                {
                    "role": "school-designated-safeguarding-lead",
                    "reason": "reveals the new address to a parent",
                    "decided_by": "DI Hale",
                    "review_by": (NOW + timedelta(days=90)).date().isoformat(),
                }
            ],
        ),
        event(
            POLICE,
            "DA-3",
            "police.domestic-abuse-incident",
            14,
            sensitivity="sensitive",
            details={"child_present": True, "police_reference": "OE-44"},
        ),
        event(
            POLICE,
            "VISIT-1",
            "police.home-visit",
            12,
            details={"reason": "welfare", "child_seen": True, "child_spoken_to": False},
        ),
    ],
    "shire-icb": [
        event(
            ICB,
            f"WNB-{i}",
            "health.was-not-brought",
            100 - 20 * i,
            details={"service": "paediatrics", "appointment_type": "review"},
        )
        for i in range(3)
    ],
    "school-100001": [
        event(
            SCHOOL,
            "ENROL-1",
            "education.enrolled",
            300,
            details={
                "school_urn": "100001",
                "starts_on": (NOW - timedelta(days=300)).date().isoformat(),
            },
        ),
        event(SCHOOL, "DISC-1", "education.safeguarding-disclosure", 25),
        event(SCHOOL, "DISC-2", "education.safeguarding-disclosure", 24, sensitivity="sensitive"),
    ],
}


@pytest.fixture
def case_hub(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    for agency, values in CASE.items():
        hub.ingest.ingest(
            [InboundMessage(f"inbox:{agency}/case", i + 1, v, agency) for i, v in enumerate(values)]
        )
    yield hub
    hub.close()


def kinds(view: Any) -> list[str]:
    return [e.kind for e in view.entries]


def test_macpt_member_sees_the_whole_multi_agency_picture(case_hub: Hub) -> None:
    view = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert view.outcome == "disclosed"
    assert view.relationship == "macpt-member via shire-county-council/S47-1"
    assert len(view.entries) == 16
    assert {e.agency for e in view.entries} == {
        "shire-county-council",
        "shire-constabulary",
        "shire-icb",
        "school-100001",
    }
    occurred = [e.occurred_at for e in view.entries]
    assert occurred == sorted(occurred)
    statuses = {(e.ref, e.status, e.replaced_by) for e in view.entries if e.kind == "la.contact"}
    assert ("shire-county-council/CONTACT-3@1", "superseded", "CONTACT-3@2") in statuses
    assert ("shire-county-council/CONTACT-3@2", "current", None) in statuses
    assert {f.code for f in view.patterns} >= {
        "repeated-was-not-brought",
        "child-not-seen-on-visit",
    }


def test_school_dsl_sees_a_narrower_view_with_withheld_item_invisible(case_hub: Hub) -> None:
    view = case_hub.gate.view(CHILD, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    assert view.outcome == "partially-disclosed"
    assert view.relationship == "school-dsl via school-100001/ENROL-1"
    assert sorted(e.ref for e in view.entries) == [
        "school-100001/DISC-1@1",
        "school-100001/DISC-2@1",
        "school-100001/ENROL-1@1",
        "shire-constabulary/DA-1@1",
        "shire-county-council/S47-1@1",
    ]
    (da,) = [e for e in view.entries if e.kind == "police.domestic-abuse-incident"]
    assert da.details["police_reference"] == "[redacted]" and da.redacted == [
        "details.police_reference"
    ]
    assert "DA-2" not in json.dumps(view.as_dict())  # withheld: not even a marker
    assert all(e.withheld_from is None for e in view.entries)
    (entry,) = [
        r
        for r in case_hub.audit.for_child(case_hub.gate.child_stream(CHILD))
        if isinstance(r, DisclosureAudited)
    ]
    assert entry.withheld == ["shire-constabulary/DA-2@1"]
    assert entry.redacted == {"shire-constabulary/DA-1@1": ["details.police_reference"]}
    assert entry.denied["default-deny"] == 10  # sensitive disclosure, health, other LA and police


def test_dpo_sees_withheld_items_with_reason_and_decider(case_hub: Hub) -> None:
    view = case_hub.gate.view(CHILD, "dpo-0001", Purpose.DATA_PROTECTION_AUDIT)
    (da2,) = [e for e in view.entries if e.ref == "shire-constabulary/DA-2@1"]
    assert da2.withheld_from == [
        {
            "role": "school-designated-safeguarding-lead",
            "reason": "reveals the new address to a parent",
            "decided_by": "DI Hale",
            "review_by": (NOW + timedelta(days=90)).date().isoformat(),
        }
    ]
    rows = case_hub.audit_queries.withheld("dpo-0001").rows
    assert [(r["ref"], r["withheld_from"][0]["decided_by"]) for r in rows] == [
        ("shire-constabulary/DA-2@1", "DI Hale")
    ]


def test_no_relationship_no_data_and_the_denial_is_audited(case_hub: Hub) -> None:
    view = case_hub.gate.view(CHILD, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert (view.outcome, view.entries) == ("denied", [])
    assert view.denied_reasons == [
        "you have no current legitimate relationship with this child (allocation, MACPT "
        "membership during an enquiry or plan, school enrolment, review commission); "
        "request break-glass access if this is an emergency"
    ]
    (audited,) = [
        r for r in case_hub.audit.for_practitioner("po-0002") if isinstance(r, DisclosureAudited)
    ]
    assert (audited.outcome, audited.disclosed, audited.denied) == (
        "denied",
        [],
        {"no-relationship": 16},
    )


def test_no_purpose_no_data(case_hub: Hub) -> None:
    view = case_hub.gate.view(CHILD, "lcpp-0001", None)
    assert view.outcome == "denied"
    assert view.denied_reasons == [
        "no purpose was declared; every request must say why the information is needed"
    ]


def test_deny_by_default_for_a_purpose_the_agreement_does_not_cover(case_hub: Hub) -> None:
    """No rule shares anything with police for family help, not even their own records."""
    view = case_hub.gate.view(CHILD, "po-0001", Purpose.FAMILY_HELP)
    assert (view.outcome, view.entries) == ("denied", [])
    (audited,) = [
        r for r in case_hub.audit.for_practitioner("po-0001") if isinstance(r, DisclosureAudited)
    ]
    assert audited.denied == {"default-deny": 16}
    decisions = case_hub.decisions.decide(
        case_hub.directory.get("po-0001"),  # type: ignore[arg-type]
        Action.VIEW,
        [
            ItemAttributes(
                "shire-icb",
                "health",
                "health.was-not-brought",
                "standard",
                frozenset(),
                frozenset(),
                frozenset(),
            )
        ],
        AccessContext(Purpose.FAMILY_HELP, None, True, NOW),
    )
    assert decisions[0].reasons == (
        "agreement shire-safeguarding-partnership@2026.1 shares nothing "
        "with a police-officer for family-help",
    )


def test_sensitivity_is_honoured(case_hub: Hub) -> None:
    view = case_hub.gate.view(CHILD, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    assert "shire-constabulary/DA-3@1" not in {e.ref for e in view.entries}  # sensitive
    assert "school-100001/DISC-2@1" in {e.ref for e in view.entries}  # sensitive, but their own
    lcpp = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_PLANNING)
    assert "shire-constabulary/DA-3@1" in {e.ref for e in lcpp.entries}


def test_shielded_fields_never_appear_in_any_output(
    case_hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for practitioner, purpose in [
        ("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY),
        ("dpo-0001", Purpose.DATA_PROTECTION_AUDIT),
    ]:
        view = case_hub.gate.view(CHILD, practitioner, purpose)
        outputs.append(json.dumps(view.as_dict()))
        shielded = {e.ref: (e.summary, e.details) for e in view.entries if e.shielded}
        assert shielded["shire-county-council/CONTACT-1@1"][1] == {"refuge_address": "[shielded]"}
        assert shielded["shire-county-council/CONTACT-2@1"][0] == "[shielded]"
    outputs.append(
        json.dumps(case_hub.audit_queries.subject_access("dpo-0001", CHILD), default=str)
    )
    outputs.append(
        json.dumps(case_hub.audit_queries.who_saw_child("dpo-0001", CHILD).rows, default=str)
    )
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err]
    for text in outputs:
        assert REFUGE not in text and SHIELDED_SUMMARY not in text


def test_break_glass_is_time_limited_marked_and_queued_for_review(case_hub: Hub) -> None:
    view = case_hub.gate.view(
        CHILD,
        "po-0002",
        Purpose.CHILD_PROTECTION_ENQUIRY,
        break_glass_reason="child missing overnight",
    )
    assert view.outcome == "disclosed" and view.relationship is None
    assert view.break_glass is not None and view.break_glass.reason == "child missing overnight"
    assert view.break_glass.expires_at - view.break_glass.timestamp == timedelta(hours=4)
    again = case_hub.gate.view(CHILD, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert again.break_glass is not None and again.outcome == "disclosed"  # within the grant
    (queued,) = case_hub.audit_queries.break_glass("dpo-0001").rows
    assert (queued["practitioner"], queued["reason"], queued["review"]) == (
        "po-0002",
        "child missing overnight",
        None,
    )
    outside = case_hub.audit_queries.outside_relationship("dpo-0001").rows
    assert [(r["practitioner"], r["break_glass_reason"]) for r in outside] == [
        ("po-0002", "child missing overnight")
    ] * 2
    case_hub.audit_queries.review_break_glass(
        "dpo-0001", queued["grant"], "appropriate", "checked with duty inspector"
    )
    assert case_hub.audit_queries.break_glass("dpo-0001").rows == []


def test_an_officer_ends_their_emergency_access_and_is_refused_again(case_hub: Hub) -> None:
    assert case_hub.gate.end_break_glass(CHILD, "po-0002") is False  # none held: nothing to end
    case_hub.gate.view(
        CHILD, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY, break_glass_reason="child missing"
    )
    assert case_hub.gate.end_break_glass(CHILD, "po-0002") is True
    after = case_hub.gate.view(CHILD, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert (after.outcome, after.break_glass, after.entries) == ("denied", None, [])
    assert case_hub.gate.end_break_glass(CHILD, "po-0002") is False
    (queued,) = case_hub.audit_queries.break_glass("dpo-0001").rows
    assert queued["review"] is None and queued["ended_at"] is not None  # still to be reviewed
    assert queued["ended_at"] < queued["expires_at"]


def test_one_no_longer_in_post_is_refused_emergency_access_and_holds_no_grant(
    case_hub: Hub,
) -> None:
    view = case_hub.gate.view(
        CHILD, "sw-0099", Purpose.CHILD_PROTECTION_ENQUIRY, break_glass_reason="child missing"
    )
    assert (view.outcome, view.break_glass, view.entries) == ("denied", None, [])
    assert case_hub.audit_queries.break_glass("dpo-0001").rows == []
    stream = case_hub.gate.child_stream(CHILD)
    assert case_hub.audit.grants(stream).records == []


def test_nothing_is_disclosed_when_the_audit_cannot_be_written(case_hub: Hub) -> None:
    ledger = case_hub.audit

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    ledger.events.put = broken  # type: ignore[method-assign]
    with pytest.raises(AuditUnavailableError, match="nothing is disclosed"):
        case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)


def test_dpo_queries_who_saw_what(case_hub: Hub) -> None:
    case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    case_hub.gate.view(CHILD, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    who = case_hub.audit_queries.who_saw_child("dpo-0001", CHILD).rows
    assert [(r["practitioner"], r["outcome"], len(r["disclosed"])) for r in who] == [
        ("lcpp-0001", "disclosed", 16),
        ("dsl-100001", "partially-disclosed", 5),
    ]
    assert (
        who[0]["lawful_basis"] == "legal-obligation"
        and who[0]["agreement_version"] == "shire-safeguarding-partnership@2026.1"
    )
    seen = case_hub.audit_queries.what_practitioner_saw("dpo-0001", "dsl-100001").rows
    assert [r["purpose"] for r in seen] == ["child-protection-planning"]
    with pytest.raises(PermissionError, match="data protection officers only"):
        case_hub.audit_queries.who_saw_child("lcpp-0001", CHILD)
    assert [
        r["practitioner"]
        for r in case_hub.audit_queries.what_practitioner_saw("dpo-0001", "lcpp-0001").rows
    ] == ["lcpp-0001", "lcpp-0001"]


def test_subject_access_export_redacts_third_parties_and_lists_recipients(case_hub: Hub) -> None:
    case_hub.gate.view(CHILD, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    export = case_hub.audit_queries.subject_access("dpo-0001", CHILD)
    (da1,) = [r for r in export["records"] if r["ref"] == "shire-constabulary/DA-1@1"]
    assert (
        da1["details"]["police_reference"] == "[redacted]"
        and da1["details"]["child_voice"] == "[redacted]"
    )
    (alloc,) = [r for r in export["records"] if r["kind"] == "la.worker-allocated"]
    assert alloc["details"]["practitioner_id"] == "[redacted]"
    assert export["disclosed_to"] == [
        {
            "at": export["disclosed_to"][0]["at"],
            "organisation": "school-100001",
            "role": "school-designated-safeguarding-lead",
            "purpose": "child-protection-planning",
            "lawful_basis": "public-task",
            "items": 5,
        }
    ]


def test_projection_rebuilds_to_the_same_chronology_and_holds_nothing_in_clear(
    case_hub: Hub,
) -> None:
    before = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).as_dict()[
        "entries"
    ]
    seen: list[int] = []
    case_hub.projection.rebuild(lambda progress: seen.append(progress.processed))
    after = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).as_dict()[
        "entries"
    ]
    assert after == before and seen and seen[-1] == 16
    if case_hub.settings.store == "sqlite":
        raw = b"".join(
            p.read_bytes() for p in Path(case_hub.settings.data_dir).glob("chronology.sqlite*")
        )
        raw += b"".join(
            p.read_bytes() for p in Path(case_hub.settings.data_dir).glob("audit.sqlite*")
        )
        for needle in (
            VALID_NHS_NUMBER,
            "Contact from neighbour",
            "domestic-abuse",
            "lcpp-0001",
            "DA-2",
        ):
            assert needle.encode() not in raw, needle


def test_provisional_child_linked_to_nhs_number_keeps_shielding(case_hub: Hub) -> None:
    provisional = IdentityService(case_hub.store, case_hub.pseudonyms).issue_provisional(
        "shire-icb"
    )
    case_hub.ingest.ingest(
        [
            InboundMessage(
                "inbox:shire-icb/prebirth",
                1,
                event(
                    ICB,
                    "PB-1",
                    "health.maternity-pre-birth-concern",
                    200,
                    child={"provisional_id": provisional},
                    summary="Refuge: Wren House",
                    shielded_fields=["summary"],
                ),
                "shire-icb",
            ),
            InboundMessage(
                "inbox:shire-icb/prebirth",
                2,
                event(
                    ICB,
                    "LINK-1",
                    "identity.linked",
                    5,
                    child={"provisional_id": provisional},
                    details={"nhs_number": VALID_NHS_NUMBER},
                ),
                "shire-icb",
            ),
        ]
    )
    view = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    (prebirth,) = [e for e in view.entries if e.kind == "health.maternity-pre-birth-concern"]
    assert prebirth.summary == "[shielded]"
    assert "Wren House" not in json.dumps(view.as_dict())


def test_relationships_expire(case_hub: Hub) -> None:
    """sw-0002's allocation (40 days ago) relates them; sw-0099 left the authority."""
    assert case_hub.gate.view(CHILD, "sw-0002", Purpose.CHILD_PROTECTION_ENQUIRY).relationship == (
        "allocated-worker via shire-county-council/ALLOC-1"
    )
    assert (
        case_hub.gate.view(CHILD, "sw-0099", Purpose.CHILD_PROTECTION_ENQUIRY).outcome == "denied"
    )


def test_siblings_are_grouped_by_household_and_identified_only_to_related_viewers(
    case_hub: Hub,
) -> None:
    from tests.factories import nhs_number

    sibling = nhs_number(7)
    family = {"household_ref": "FAM-77"}
    case_hub.ingest.ingest(
        [
            InboundMessage(
                "inbox:shire-county-council/family",
                1,
                event(LA, "HH-1", "la.contact", 8, **family),
                LA["id"],
            ),
            InboundMessage(
                "inbox:shire-county-council/family",
                2,
                event(LA, "HH-2", "la.contact", 8, child={"nhs_number": sibling}, **family),
                LA["id"],
            ),
        ]
    )
    view = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert view.households == {
        "shire-county-council/FAM-77": {
            "entries": ["shire-county-council/HH-1@1"],
            "siblings": [
                {"child": None, "note": "another child; you have no relationship with them"}
            ],
        }
    }
    case_hub.ingest.ingest(
        [
            InboundMessage(
                "inbox:shire-county-council/family",
                3,
                event(LA, "S47-B", "la.s47-enquiry-started", 7, child={"nhs_number": sibling}),
                LA["id"],
            ),
        ]
    )
    view = case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert view.households["shire-county-council/FAM-77"]["siblings"] == [{"child": sibling}]
    audited = [
        r for r in case_hub.audit.for_practitioner("lcpp-0001") if isinstance(r, DisclosureAudited)
    ]
    assert audited[-1].siblings == [
        case_hub.pseudonyms.child_stream(ChildRef(nhs_number=sibling)).hex
    ]


def test_a_review_commission_relates_the_reviewer_for_the_review_only(case_hub: Hub) -> None:
    before = case_hub.gate.view(CHILD, "rev-0001", Purpose.PRACTICE_REVIEW)
    assert before.outcome == "denied"
    with pytest.raises(ValueError, match="not a practice reviewer"):
        case_hub.audit_queries.commission_review("dpo-0001", CHILD, "sw-0002", "rapid review", 30)
    commission = case_hub.audit_queries.commission_review(
        "dpo-0001", CHILD, "rev-0001", "Rapid Review commissioned by the partnership", 30
    )
    assert commission.ends_at - commission.starts_at == timedelta(days=30)
    after = case_hub.gate.view(CHILD, "rev-0001", Purpose.PRACTICE_REVIEW)
    assert (after.outcome, after.relationship) == (
        "disclosed",
        "review-commission via commission:rev-0001",
    )
    assert len(after.entries) == 16
    casework = case_hub.gate.view(CHILD, "rev-0001", Purpose.CHILD_PROTECTION_PLANNING)
    assert casework.outcome == "denied"  # the commission is for practice review, not casework
    for days in (0, 366, 365_000):  # at most HUB_REVIEW_COMMISSION_MAX_DAYS, a year by default
        with pytest.raises(ValueError, match="1 to 365 days"):
            case_hub.audit_queries.commission_review("dpo-0001", CHILD, "rev-0001", "review", days)
    year = case_hub.audit_queries.commission_review("dpo-0001", CHILD, "rev-0001", "review", 365)
    assert year.ends_at - year.starts_at == timedelta(days=365)


def test_the_longest_review_commission_is_configurable(settings: HubSettings) -> None:
    month = settings.model_copy(
        update={"directory": SAMPLE_DIRECTORY_PATH, "review_commission_max_days": 30}
    )
    hub = bootstrap(month)
    try:
        with pytest.raises(ValueError, match="1 to 30 days"):
            hub.audit_queries.commission_review("dpo-0001", CHILD, "rev-0001", "review", 31)
        hub.audit_queries.commission_review("dpo-0001", CHILD, "rev-0001", "review", 30)
    finally:
        hub.close()


def test_concurrent_requests_are_each_audited_and_none_fails(case_hub: Hub) -> None:
    """Many request threads (an API server) contend for the same practitioner's and child's
    audit streams: every one must be answered and audited, none refused."""
    from concurrent.futures import ThreadPoolExecutor

    def view(_: int) -> str:
        return case_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).outcome

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(view, range(40)))
    assert outcomes == ["disclosed"] * 40
    audited = [
        r for r in case_hub.audit.for_practitioner("lcpp-0001") if isinstance(r, DisclosureAudited)
    ]
    assert len(audited) == 40
