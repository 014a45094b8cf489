"""Information sharing agreements: versioned YAML documents in `hub/policies/agreements/`.

The version in force at a moment is the one with the latest `effective_from` not after it, so
a review can ask which rules applied on any past date.

Each rule names its UK GDPR Article 6 lawful basis and the conditions it relies on for special
category data (Article 9, `special_category_condition`) and criminal offence data (Article 10,
`criminal_offence_condition`), from `hub.domain.data_protection`. A rule that could permit such
content (by the taxonomy's classification of its kinds and of the harm categories) without
naming the condition is refused when the agreement loads, naming the rule and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from hub.domain.access import Purpose, Role
from hub.domain.canonical_event import LawfulBasis, Sensitivity
from hub.domain.data_protection import ConditionKind, ProcessingCondition
from hub.domain.taxonomy import (
    ANY_CATEGORY,
    KINDS,
    AgencyType,
    DataClassification,
    HarmCategory,
)

AGREEMENTS_DIR = Path(__file__).parent / "agreements"
SENSITIVITY_RANK: dict[Sensitivity, int] = {"standard": 0, "sensitive": 1, "restricted": 2}
RuleAction = Literal["view", "export", "search", "notify", "receive-notice"]
# Reading, and being notified that something was recorded (its kind and publisher, never its
# content): whoever may read an item may be told it arrived.
_READING: tuple[RuleAction, ...] = ("view", "export", "search", "notify")


class AgreementError(ValueError):
    """An agreement file is missing or malformed; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SharingRule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    description: str
    roles: list[Role] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    agency_types: list[AgencyType] = Field(min_length=1)
    kinds: list[str] = Field(min_length=1, description="kind names or prefixes ending in '*'")
    categories: list[HarmCategory] = Field(default_factory=list, description="any of; empty = any")
    max_sensitivity: Sensitivity
    lawful_basis: LawfulBasis
    special_category_condition: ProcessingCondition | None = Field(
        default=None,
        description="the UK GDPR Article 9 / DPA 2018 Schedule 1 condition for special "
        "category data the rule permits",
    )
    criminal_offence_condition: ProcessingCondition | None = Field(
        default=None,
        description="the UK GDPR Article 10 / DPA 2018 Schedule 1 condition for criminal "
        "offence data the rule permits",
    )
    redact: list[str] = Field(default_factory=list, description="'summary' or 'details.<field>'")
    actions: list[RuleAction] = Field(
        default_factory=lambda: list(_READING),
        min_length=1,
        description="what the rule permits: reading (view, export, search) or receiving a notice",
    )

    def covers_kind(self, kind: str) -> bool:
        return any(kind == k or (k.endswith("*") and kind.startswith(k[:-1])) for k in self.kinds)

    @property
    def reachable(self) -> DataClassification:
        """The special category and criminal offence data this rule could permit: what its
        kinds are, and whatever the harm categories add (a category filter cannot exclude
        them: an item with one of the rule's categories may carry others)."""
        found = ANY_CATEGORY
        for kind, spec in KINDS.items():
            if spec.publishers & set(self.agency_types) and self.covers_kind(kind):
                found |= spec.classification
        return found

    def conditions(self, content: DataClassification) -> dict[ConditionKind, ProcessingCondition]:
        """The conditions this rule relies on for content so classified (none for ordinary
        personal data)."""
        relied: dict[ConditionKind, ProcessingCondition] = {}
        if content.special_category and self.special_category_condition:
            relied[ConditionKind.SPECIAL_CATEGORY] = self.special_category_condition
        if content.criminal_offence and self.criminal_offence_condition:
            relied[ConditionKind.CRIMINAL_OFFENCE] = self.criminal_offence_condition
        return relied

    def missing_conditions(self) -> list[str]:
        reachable = self.reachable
        missing = []
        if reachable.special_category and self.special_category_condition is None:
            missing.append("special_category_condition")
        if reachable.criminal_offence and self.criminal_offence_condition is None:
            missing.append("criminal_offence_condition")
        return missing


class Party(_Strict):
    """An organisation that signed the agreement: a controller of what it publishes."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="its hub agency id")
    name: str = Field(min_length=1)
    agency_type: AgencyType


class NotificationRule(_Strict):
    """Who is told, in their inbox, that something new arrived for a child they have a current
    relationship with: which roles, about which kinds (names or prefixes ending in '*'), and
    whether also when a multi-agency pattern flag starts to hold. `purpose` is what the
    notification is released for: the disclosure gate still decides, item by item, under the
    sharing rules (action `notify`), so nobody is told of what they could not read."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    description: str
    roles: list[Role] = Field(min_length=1)
    purpose: Purpose
    kinds: list[str] = Field(
        default_factory=lambda: ["*"], description="kind names or prefixes ending in '*'"
    )
    patterns: bool = Field(default=False, description="also when a pattern flag starts to hold")

    def covers_kind(self, kind: str) -> bool:
        return any(kind == k or (k.endswith("*") and kind.startswith(k[:-1])) for k in self.kinds)


class Agreement(_Strict):
    agreement: str
    version: str
    effective_from: AwareDatetime
    rules: list[SharingRule] = Field(min_length=1)
    parties: list[Party] = Field(
        default_factory=list,
        description="the organisations that signed the agreement, with their names",
    )
    subject_access_redact: list[str] = Field(default_factory=list)
    lead_data_protection_officers: list[str] = Field(
        default_factory=list,
        description="practitioner ids of the partnership's lead data protection officers, who "
        "act for the whole partnership; every other DPO acts for their own organisation",
    )
    notifications: list[NotificationRule] = Field(
        default_factory=list,
        description="who is told when something new arrives for a child (none if absent)",
    )
    format: Literal[1] = 1

    @property
    def label(self) -> str:
        return f"{self.agreement}@{self.version}"

    def rule(self, rule_id: str) -> SharingRule:
        return next(r for r in self.rules if r.id == rule_id)

    def party(self, agency_id: str) -> Party | None:
        return next((p for p in self.parties if p.id == agency_id), None)

    def notification_rule(self, role: Role, kind: str | None = None) -> NotificationRule | None:
        """The first notification rule for this role (and this kind, if given), or None."""
        return next(
            (
                r
                for r in self.notifications
                if role in r.roles and (kind is None or r.covers_kind(kind))
            ),
            None,
        )


def load_agreement(path: Path) -> Agreement:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise AgreementError(f"{path}: cannot read agreement ({type(error).__name__})") from None
    try:
        agreement = Agreement.model_validate(document)
    except ValidationError as error:
        raise AgreementError(f"{path}: {_describe(error, document)}") from None
    ids = [r.id for r in agreement.rules]
    if len(set(ids)) != len(ids):
        raise AgreementError(f"{path}: rule ids must be unique")
    parties = [p.id for p in agreement.parties]
    if len(set(parties)) != len(parties):
        raise AgreementError(f"{path}: party ids must be unique")
    missing = [
        f"rule {rule.id}: {field} is required (the rule can permit "
        f"{'special category' if field.startswith('special') else 'criminal offence'} data, so "
        "it must name the condition it relies on)"
        for rule in agreement.rules
        for field in rule.missing_conditions()
    ]
    if missing:
        raise AgreementError(f"{path}: {'; '.join(missing)}")
    return agreement


def _describe(error: ValidationError, document: object) -> str:
    """`rule <id>: <field>: <problem>` for each problem, never the value given (an agreement
    holds no personal data, but a message should say where to look, not echo the file)."""
    rules = document.get("rules") if isinstance(document, dict) else None
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        loc = list(item["loc"])
        where = [str(part) for part in loc]
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
            rule_id = rule.get("id") if isinstance(rule, dict) else None
            name = rule_id if isinstance(rule_id, str) else f"number {loc[1] + 1}"
            where = [f"rule {name}", *where[2:]]
        problems.append(f"{': '.join(where) or '(agreement)'}: {item['msg']}")
    return "; ".join(problems)


class AgreementRegistry:
    """Every version of the partnership's agreement, to find the one in force at a moment."""

    def __init__(self, agreements: Sequence[Agreement]) -> None:
        if not agreements:
            raise AgreementError("no information sharing agreement is configured")
        self._agreements = sorted(agreements, key=lambda a: a.effective_from)

    @classmethod
    def from_directory(cls, directory: Path = AGREEMENTS_DIR) -> AgreementRegistry:
        return cls([load_agreement(p) for p in sorted(directory.glob("*.yaml"))])

    def in_force(self, at: datetime) -> Agreement:
        candidates = [a for a in self._agreements if a.effective_from <= at]
        if not candidates:
            raise AgreementError(f"no agreement was in force at {at.isoformat()}")
        return candidates[-1]

    @property
    def versions(self) -> list[str]:
        return [a.label for a in self._agreements]
