"""Issue 18: which content is special category or criminal offence data (the taxonomy), the
conditions an agreement rule must name, and the record of processing and DPIA generated from
the agreement (hub.reports.governance_documents)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.domain.access import Practitioner, Role
from hub.domain.data_protection import (
    CRIMINAL_OFFENCE_CONDITIONS,
    LAWFUL_BASES,
    SPECIAL_CATEGORY_CONDITIONS,
    ProcessingCondition,
    legal_ground,
)
from hub.domain.taxonomy import (
    CATEGORY_CLASSIFICATION,
    KINDS,
    AgencyType,
    HarmCategory,
    SpecialCategory,
    classify,
)
from hub.policies.agreements import AGREEMENTS_DIR, AgreementError, load_agreement
from hub.reports.governance import DeploymentFacts, render_html, render_markdown
from hub.reports.governance_documents import build_dpia, build_ropa, controllers

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
FACTS = DeploymentFacts(
    store="postgres",
    store_location="postgresql://db:5432/hub schema hub",
    kek_from_secret_store=True,
    keys_dir_explicit=True,
    kafka_security_protocol="SASL_SSL",
    oidc_issuer="https://login.shire.example",
    dev_tokens=False,
    cookie_secure=True,
    break_glass_minutes=240,
    review_commission_max_days=365,
    max_message_bytes=65536,
    retention_years=25,
)
STAFF = [
    Practitioner("sw-1", "Tomasz Brennan", "shire-county-council", AgencyType.LOCAL_AUTHORITY,
                 Role.SOCIAL_WORKER),
    Practitioner("po-1", "Declan Farrow", "shire-constabulary", AgencyType.POLICE,
                 Role.POLICE_OFFICER),
    Practitioner("dpo-0001", "Felicity Garrow", "shire-county-council",
                 AgencyType.LOCAL_AUTHORITY, Role.DATA_PROTECTION_OFFICER),
    Practitioner("hv-1", "Ruth Okafor", "shire-icb", AgencyType.HEALTH,
                 Role.HEALTH_PRACTITIONER),
]  # fmt: skip


def _agreement_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((AGREEMENTS_DIR / "shire-2026.1.yaml").read_text())
    return document


def test_every_harm_category_is_classified_and_the_standard_is_the_article_9_list() -> None:
    assert set(CATEGORY_CLASSIFICATION) == set(HarmCategory)
    assert {c.value for c in SpecialCategory} >= {"health", "sex-life-or-sexual-orientation"}
    assert len(SpecialCategory) == 8  # UK GDPR Article 9(1)


def test_health_kinds_are_health_data_and_police_kinds_criminal_offence_data() -> None:
    for kind, spec in KINDS.items():
        if kind.startswith("health."):
            assert SpecialCategory.HEALTH in spec.classification.special_categories, kind
        if kind.startswith("police."):
            assert spec.classification.criminal_offence, kind
    assert classify("la.contact", []).special_category is False
    disclosure = classify("education.safeguarding-disclosure", ["sexual-abuse"])
    assert disclosure.special_categories == {SpecialCategory.SEX_LIFE_OR_SEXUAL_ORIENTATION}
    assert disclosure.criminal_offence
    assert classify("la.assessment-completed", ["parental-mental-health"]).special_categories == {
        SpecialCategory.HEALTH
    }


def test_every_condition_and_basis_has_its_legal_reference() -> None:
    for condition in ProcessingCondition:
        assert "Article 9" in SPECIAL_CATEGORY_CONDITIONS[condition].reference
        assert "Article 10" in CRIMINAL_OFFENCE_CONDITIONS[condition].reference
    assert "paragraph 36" in legal_ground("criminal-offence:safeguarding").reference
    assert "paragraph 18" in legal_ground("special-category:safeguarding").reference
    assert set(LAWFUL_BASES) == {
        "public-task",
        "legal-obligation",
        "recognised-legitimate-interest-safeguarding",
        "vital-interests",
        "consent",
    }


def test_every_shipped_agreement_names_both_conditions_for_every_rule() -> None:
    for path in sorted(AGREEMENTS_DIR.glob("*.yaml")):
        agreement = load_agreement(path)
        assert agreement.parties, path
        for rule in agreement.rules:
            assert rule.special_category_condition and rule.criminal_offence_condition


@pytest.mark.parametrize("field", ["special_category_condition", "criminal_offence_condition"])
def test_a_rule_that_can_permit_such_data_without_its_condition_is_refused(
    tmp_path: Path, field: str
) -> None:
    document = _agreement_document()
    (school,) = [r for r in document["rules"] if r["id"] == "school-dsl"]
    del school[field]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(AgreementError) as refused:
        load_agreement(path)
    message = str(refused.value)
    assert f"rule school-dsl: {field} is required" in message
    assert school["description"] not in message and "public-task" not in message


def test_an_unknown_condition_is_refused_without_repeating_it(tmp_path: Path) -> None:
    document = _agreement_document()
    document["rules"][0]["criminal_offence_condition"] = "because-we-said-so"
    path = tmp_path / "unknown.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(AgreementError) as refused:
        load_agreement(path)
    assert "criminal_offence_condition" in str(refused.value)
    assert "because-we-said-so" not in str(refused.value)


def _ropa_markdown(path: Path) -> str:
    agreement = load_agreement(path)
    everyone = controllers(agreement, [("shire-constabulary", "police")], STAFF)
    return render_markdown(build_ropa(agreement, everyone, FACTS, NOW, NOW))


def test_the_record_of_processing_follows_the_agreement(tmp_path: Path) -> None:
    document = _agreement_document()
    before = _ropa_markdown(AGREEMENTS_DIR / "shire-2026.1.yaml")
    document["rules"].append(
        {
            "id": "unscheduled-care",
            "description": "Urgent care clinicians see police notices for children they treat.",
            "roles": ["health-practitioner"],
            "purposes": ["family-help"],
            "agency_types": ["police"],
            "kinds": ["police.domestic-abuse-incident"],
            "max_sensitivity": "standard",
            "lawful_basis": "public-task",
            "special_category_condition": "health-or-social-care",
            "criminal_offence_condition": "health-or-social-care",
        }
    )
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(document))
    after = _ropa_markdown(path)
    assert "Urgent care clinicians see police notices" not in before
    assert "Urgent care clinicians see police notices" in after
    constabulary = after.split("### Shire Constabulary")[1].split("### ")[0]
    assert "health practitioner at NHS Shire Integrated Care Board" in constabulary
    assert "Article 9(2)(h)" in constabulary and "Schedule 1 Part 1 paragraph 2" in constabulary


def test_the_record_names_controllers_and_dpos_and_flags_a_non_party() -> None:
    agreement = load_agreement(AGREEMENTS_DIR / "shire-2026.1.yaml")
    outsider = Practitioner(
        "x-1", "Ann Other", "north-academy-trust", AgencyType.EDUCATION, Role.SCHOOL_DSL
    )
    everyone = controllers(agreement, [], [*STAFF, outsider])
    text = render_markdown(build_ropa(agreement, everyone, FACTS, NOW, NOW))
    assert "### Shire Constabulary" in text and "Felicity Garrow (partnership lead)" in text
    assert "### North academy trust" in text and "not a party to" in text
    assert "1 Dec 2026, 12:00 GMT" in text
    assert "Transfers to third countries | none" in text
    assert "25 years after the last event" in text


def test_the_dpia_derives_its_risks_from_the_settings() -> None:
    agreement = load_agreement(AGREEMENTS_DIR / "shire-2026.1.yaml")
    everyone = controllers(agreement, [], STAFF)
    secure = render_markdown(build_dpia(agreement, everyone, FACTS, NOW, NOW))
    assert "development tokens are ALSO accepted" not in secure
    assert "Kafka connections use TLS" in secure
    lax = DeploymentFacts(
        **{**vars(FACTS), "dev_tokens": True, "kafka_security_protocol": "PLAINTEXT"}
    )
    risky = render_markdown(build_dpia(agreement, everyone, lax, NOW, NOW))
    assert "development tokens are ALSO accepted" in risky
    assert "High: turn off development tokens" in risky
    assert "Operation Encompass" in secure  # the rule's description, from the agreement


def test_the_html_is_accessible() -> None:
    agreement = load_agreement(AGREEMENTS_DIR / "shire-2026.1.yaml")
    everyone = controllers(agreement, [], STAFF)
    html = render_html(build_dpia(agreement, everyone, FACTS, NOW, NOW))
    assert '<html lang="en-GB">' in html
    assert html.count("<h1>") == 1 and "<h2>Data flows</h2>" in html
    assert '<th scope="col">Risk</th>' in html and '<th scope="row">' in html
    assert "<caption>" in html and "<script" not in html
