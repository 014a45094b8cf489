"""The data protection vocabulary the agreements, the audit and the governance documents share:
the UK GDPR Article 6 lawful bases, and the conditions for processing special category data
(UK GDPR Article 9 with DPA 2018 Schedule 1) and criminal offence data (UK GDPR Article 10
with DPA 2018 section 10(5) and Schedule 1), each a stable code with its legal reference and a
plain-English label. Which content *is* special category or criminal offence data is the
taxonomy's (`hub.domain.taxonomy.classify`).

An agreement rule names one condition of each kind (`special_category_condition`,
`criminal_offence_condition`); the same plain code means the Article 9 provision in the first
field and the Article 10 one in the second, because DPA 2018 Schedule 1 gives criminal offence
data its own route to the same safeguarding ground:

- `safeguarding`: Schedule 1 Part 2 paragraph 18 (safeguarding of children and of individuals at
  risk). For special category data it is an Article 9(2)(g) substantial public interest
  condition (DPA 2018 s.10(3)); for criminal offence data Article 10 is met through s.10(5), with
  Part 3 paragraph 36 lifting paragraph 18's express requirement that the processing be
  necessary for reasons of substantial public interest.
- `statutory-purposes`: Schedule 1 Part 2 paragraph 6 (statutory and government purposes), e.g.
  practice reviews the safeguarding partners must arrange, a DPO's statutory tasks; extended to
  criminal offence data the same way by paragraph 36.
- `health-or-social-care`: Schedule 1 Part 1 paragraph 2 (health or social care purposes),
  Article 9(2)(h); for criminal offence data through s.10(5) directly.
- `vital-interests`: Article 9(2)(c); for criminal offence data Schedule 1 Part 3 paragraph 30.
- `legal-claims`: Article 9(2)(f); for criminal offence data Schedule 1 Part 3 paragraph 33.

Police processing for the law enforcement purposes (DPA 2018 Part 3: sensitive processing under
s.35(5) and Schedule 8, e.g. paragraph 4, safeguarding of children and individuals at risk) is
the force's own processing in its own systems. What the hub does is share with safeguarding
partners for the agreement's safeguarding purposes, which is general processing under the UK
GDPR, so the hub records the UK GDPR / Schedule 1 conditions; docs/governance.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# `hub keys retention` erases a child's record this many years after its last event unless told
# otherwise; the records of processing and the DPIA state the same rule.
RETENTION_YEARS_AFTER_LAST_EVENT = 25


@dataclass(frozen=True)
class LegalGround:
    reference: str  # where it is in the law
    label: str  # what it means, in plain English

    @property
    def text(self) -> str:
        return f"{self.reference} ({self.label})"


LAWFUL_BASES: dict[str, LegalGround] = {
    "public-task": LegalGround(
        "UK GDPR Article 6(1)(e)",
        "public task: a task in the public interest or in the exercise of official authority",
    ),
    "legal-obligation": LegalGround(
        "UK GDPR Article 6(1)(c)", "legal obligation: the statutory duty to share"
    ),
    "recognised-legitimate-interest-safeguarding": LegalGround(
        "UK GDPR Article 6(1)(ea) and Annex 1 (Data (Use and Access) Act 2025)",
        "recognised legitimate interest: safeguarding vulnerable individuals",
    ),
    "vital-interests": LegalGround(
        "UK GDPR Article 6(1)(d)", "vital interests: protecting someone's life"
    ),
    "consent": LegalGround("UK GDPR Article 6(1)(a)", "consent"),
}


class ProcessingCondition(StrEnum):
    """A condition an agreement rule relies on, as written in the agreement."""

    SAFEGUARDING = "safeguarding"
    STATUTORY_PURPOSES = "statutory-purposes"
    HEALTH_OR_SOCIAL_CARE = "health-or-social-care"
    VITAL_INTERESTS = "vital-interests"
    LEGAL_CLAIMS = "legal-claims"


class ConditionKind(StrEnum):
    SPECIAL_CATEGORY = "special-category"
    CRIMINAL_OFFENCE = "criminal-offence"


CONDITION_KIND_LABELS: dict[ConditionKind, str] = {
    ConditionKind.SPECIAL_CATEGORY: "special category data",
    ConditionKind.CRIMINAL_OFFENCE: "criminal offence data",
}

SPECIAL_CATEGORY_CONDITIONS: dict[ProcessingCondition, LegalGround] = {
    ProcessingCondition.SAFEGUARDING: LegalGround(
        "UK GDPR Article 9(2)(g); DPA 2018 Schedule 1 Part 2 paragraph 18",
        "substantial public interest: safeguarding of children and of individuals at risk",
    ),
    ProcessingCondition.STATUTORY_PURPOSES: LegalGround(
        "UK GDPR Article 9(2)(g); DPA 2018 Schedule 1 Part 2 paragraph 6",
        "substantial public interest: statutory and government purposes",
    ),
    ProcessingCondition.HEALTH_OR_SOCIAL_CARE: LegalGround(
        "UK GDPR Article 9(2)(h); DPA 2018 Schedule 1 Part 1 paragraph 2",
        "health or social care purposes",
    ),
    ProcessingCondition.VITAL_INTERESTS: LegalGround(
        "UK GDPR Article 9(2)(c)",
        "vital interests of someone who cannot give consent",
    ),
    ProcessingCondition.LEGAL_CLAIMS: LegalGround(
        "UK GDPR Article 9(2)(f)", "legal claims and courts acting in their judicial capacity"
    ),
}

CRIMINAL_OFFENCE_CONDITIONS: dict[ProcessingCondition, LegalGround] = {
    ProcessingCondition.SAFEGUARDING: LegalGround(
        "UK GDPR Article 10; DPA 2018 s.10(5), Schedule 1 Part 2 paragraph 18 as extended by "
        "Part 3 paragraph 36",
        "safeguarding of children and of individuals at risk",
    ),
    ProcessingCondition.STATUTORY_PURPOSES: LegalGround(
        "UK GDPR Article 10; DPA 2018 s.10(5), Schedule 1 Part 2 paragraph 6 as extended by "
        "Part 3 paragraph 36",
        "statutory and government purposes",
    ),
    ProcessingCondition.HEALTH_OR_SOCIAL_CARE: LegalGround(
        "UK GDPR Article 10; DPA 2018 s.10(5), Schedule 1 Part 1 paragraph 2",
        "health or social care purposes",
    ),
    ProcessingCondition.VITAL_INTERESTS: LegalGround(
        "UK GDPR Article 10; DPA 2018 s.10(5), Schedule 1 Part 3 paragraph 30",
        "protecting someone's vital interests",
    ),
    ProcessingCondition.LEGAL_CLAIMS: LegalGround(
        "UK GDPR Article 10; DPA 2018 s.10(5), Schedule 1 Part 3 paragraph 33",
        "legal claims",
    ),
}

_BY_KIND: dict[ConditionKind, dict[ProcessingCondition, LegalGround]] = {
    ConditionKind.SPECIAL_CATEGORY: SPECIAL_CATEGORY_CONDITIONS,
    ConditionKind.CRIMINAL_OFFENCE: CRIMINAL_OFFENCE_CONDITIONS,
}


def condition_code(kind: ConditionKind, condition: ProcessingCondition) -> str:
    """The code the audit records (`special-category:safeguarding`), unambiguous on its own."""
    return f"{kind.value}:{condition.value}"


def legal_ground(code: str) -> LegalGround:
    """The legal reference and label of an audited condition code; KeyError if unknown."""
    kind, _, condition = code.partition(":")
    return _BY_KIND[ConditionKind(kind)][ProcessingCondition(condition)]


def lawful_basis_text(basis: str) -> str:
    ground = LAWFUL_BASES.get(basis)
    return ground.text if ground else basis
