"""Information sharing agreements: versioned YAML documents in `hub/policies/agreements/`.

The version in force at a moment is the one with the latest `effective_from` not after it, so
a review can ask which rules applied on any past date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from hub.domain.access import Purpose, Role
from hub.domain.canonical_event import LawfulBasis, Sensitivity, describe_validation_error
from hub.domain.taxonomy import AgencyType, HarmCategory

AGREEMENTS_DIR = Path(__file__).parent / "agreements"
SENSITIVITY_RANK: dict[Sensitivity, int] = {"standard": 0, "sensitive": 1, "restricted": 2}
RuleAction = Literal["view", "export", "search", "receive-notice"]
_READING: tuple[RuleAction, ...] = ("view", "export", "search")


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
    redact: list[str] = Field(default_factory=list, description="'summary' or 'details.<field>'")
    actions: list[RuleAction] = Field(
        default_factory=lambda: list(_READING),
        min_length=1,
        description="what the rule permits: reading (view, export, search) or receiving a notice",
    )


class Agreement(_Strict):
    agreement: str
    version: str
    effective_from: AwareDatetime
    rules: list[SharingRule] = Field(min_length=1)
    subject_access_redact: list[str] = Field(default_factory=list)
    lead_data_protection_officers: list[str] = Field(
        default_factory=list,
        description="practitioner ids of the partnership's lead data protection officers, who "
        "act for the whole partnership; every other DPO acts for their own organisation",
    )
    format: Literal[1] = 1

    @property
    def label(self) -> str:
        return f"{self.agreement}@{self.version}"

    def rule(self, rule_id: str) -> SharingRule:
        return next(r for r in self.rules if r.id == rule_id)


def load_agreement(path: Path) -> Agreement:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise AgreementError(f"{path}: cannot read agreement ({type(error).__name__})") from None
    try:
        agreement = Agreement.model_validate(document)
    except ValidationError as error:
        raise AgreementError(f"{path}: {describe_validation_error(error)}") from None
    ids = [r.id for r in agreement.rules]
    if len(set(ids)) != len(ids):
        raise AgreementError(f"{path}: rule ids must be unique")
    return agreement


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
