"""The policies on their own: the agreement in force compiled to Cedar and asked in process, with
practitioners from the sample directory and item attributes built here (no store, no database).
Each test is a rule a DPIA relies on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.adapters.directory import YamlPractitionerDirectory, load_directory
from hub.domain.access import Purpose, RelationshipBasis, RelationshipGrant
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import (
    AccessContext,
    Action,
    CedarDecisionPoint,
    Decision,
    ItemAttributes,
)

DIRECTORY = Path(__file__).resolve().parents[2] / "hub" / "samples" / "practitioners.yaml"
NOW = datetime.now(UTC)
RELATED = RelationshipGrant(
    basis=RelationshipBasis.MACPT_MEMBER,
    valid_from=datetime(2020, 1, 1, tzinfo=UTC),
    valid_to=None,
    source_event_id="S47-1",
    team=None,
)


def incident(
    sensitivity: str = "standard", withheld_roles: frozenset[str] = frozenset()
) -> ItemAttributes:
    return ItemAttributes(
        publisher="shire-constabulary",
        agency_type="police",
        kind="police.domestic-abuse-incident",
        sensitivity=sensitivity,
        categories=frozenset({"domestic-abuse"}),
        withheld_roles=withheld_roles,
        withheld_agency_types=frozenset(),
    )


@pytest.fixture(scope="module")
def decisions() -> CedarDecisionPoint:
    return CedarDecisionPoint(AgreementRegistry.from_directory())


@pytest.fixture(scope="module")
def directory() -> YamlPractitionerDirectory:
    return load_directory(DIRECTORY)


def decide(
    decisions: CedarDecisionPoint,
    directory: YamlPractitionerDirectory,
    practitioner_id: str,
    item: ItemAttributes,
    purpose: Purpose = Purpose.CHILD_PROTECTION_ENQUIRY,
    relationship: RelationshipGrant | None = RELATED,
    break_glass: bool = False,
) -> Decision:
    practitioner = directory.get(practitioner_id)
    assert practitioner is not None
    context = AccessContext(purpose, relationship, break_glass, NOW)
    (decision,) = decisions.decide(practitioner, Action.VIEW, [item], context)
    return decision


def test_a_related_macpt_member_sees_the_item_under_a_stated_lawful_basis(
    decisions: CedarDecisionPoint, directory: YamlPractitionerDirectory
) -> None:
    decision = decide(decisions, directory, "lcpp-0001", incident("sensitive"))
    assert decision.permitted and decision.lawful_basis == "legal-obligation"
    assert decision.policies == ("macpt-child-protection",)


def test_no_relationship_is_refused_and_told_how_to_ask_in_an_emergency(
    decisions: CedarDecisionPoint, directory: YamlPractitionerDirectory
) -> None:
    decision = decide(decisions, directory, "lcpp-0001", incident(), relationship=None)
    assert not decision.permitted and decision.policies == ("no-relationship",)
    assert "break-glass" in decision.reasons[0]


def test_break_glass_stands_in_for_a_relationship(
    decisions: CedarDecisionPoint, directory: YamlPractitionerDirectory
) -> None:
    decision = decide(
        decisions, directory, "po-0002", incident(), relationship=None, break_glass=True
    )
    assert decision.permitted


def test_a_school_dsl_sees_standard_items_redacted_and_never_sensitive_ones(
    decisions: CedarDecisionPoint, directory: YamlPractitionerDirectory
) -> None:
    planning = Purpose.CHILD_PROTECTION_PLANNING
    standard = decide(decisions, directory, "dsl-100001", incident(), planning)
    assert standard.permitted and "details.police_reference" in standard.redact
    sensitive = decide(decisions, directory, "dsl-100001", incident("sensitive"), planning)
    assert not sensitive.permitted and sensitive.policies == ("default-deny",)


def test_a_withholding_refuses_the_role_it_names_whatever_the_rules_allow(
    decisions: CedarDecisionPoint, directory: YamlPractitionerDirectory
) -> None:
    item = incident(withheld_roles=frozenset({"school-designated-safeguarding-lead"}))
    dsl = decide(decisions, directory, "dsl-100001", item, Purpose.CHILD_PROTECTION_PLANNING)
    assert dsl.withheld and not dsl.permitted
    assert decide(decisions, directory, "lcpp-0001", item).permitted  # not named: unaffected


def test_one_no_longer_in_post_is_refused_even_with_a_relationship(
    decisions: CedarDecisionPoint, directory: YamlPractitionerDirectory
) -> None:
    decision = decide(decisions, directory, "sw-0099", incident())
    assert not decision.permitted and decision.policies == ("inactive-practitioner",)
