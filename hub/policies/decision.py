"""The one decision point: may this practitioner see this item, for this purpose, now?

Cedar (`cedarpy`) evaluates it, in process: each agreement version is compiled once into a
Cedar policy set (`cedar_policies.py`), forbid overrides permit, and Cedar says which policies
decided, so the hub can answer "why can't I see this?". Items with the same decision-relevant
attributes are decided once per request, which keeps a 1,000-event chronology to a handful of
Cedar evaluations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import cedarpy

from hub.domain.access import Practitioner, Purpose, RelationshipGrant, Role
from hub.domain.data_protection import condition_code
from hub.domain.taxonomy import classify
from hub.policies.agreements import SENSITIVITY_RANK, Agreement, AgreementRegistry, SharingRule
from hub.policies.cedar_policies import (
    GUARDS,
    OWN_RECORDS,
    OWN_RECORDS_DESCRIPTION,
    CompiledAgreement,
    compile_agreement,
)


class Action(StrEnum):
    VIEW = "view"
    EXPORT = "export"
    SEARCH = "search"
    NOTIFY = "notify"
    """Told that an item was recorded (its kind and publisher), not shown it."""
    RECEIVE_NOTICE = "receive-notice"


class Effect(StrEnum):
    PERMIT = "permit"
    PERMIT_WITH_REDACTIONS = "permit-with-redactions"
    DENY = "deny"


@dataclass(frozen=True)
class AccessContext:
    purpose: Purpose | None
    relationship: RelationshipGrant | None
    break_glass: bool
    at: datetime


@dataclass(frozen=True)
class ItemAttributes:
    """What the policy may look at about one event (never its content). The withholdings are
    the ones in force for the item: its own and its record's latest revision's (the gate works
    them out, `hub.policies.redaction.restrictions`)."""

    publisher: str
    agency_type: str
    kind: str
    sensitivity: str
    categories: frozenset[str]
    withheld_roles: frozenset[str]
    withheld_agency_types: frozenset[str]
    # Hashed once: a chronology's items are grouped by attributes on every request.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_hash",
            hash(
                (
                    self.publisher,
                    self.agency_type,
                    self.kind,
                    self.sensitivity,
                    self.categories,
                    self.withheld_roles,
                    self.withheld_agency_types,
                )
            ),
        )

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True)
class Decision:
    effect: Effect
    reasons: tuple[str, ...]
    policies: tuple[str, ...]  # the rule or guard ids that decided
    redact: frozenset[str]
    lawful_basis: str | None
    agreement_version: str
    # The permitting rule's Article 9 / Article 10 conditions that this item needs
    # (`special-category:safeguarding`, ...): none for ordinary personal data, a denial, or an
    # agency's own records (no sharing, so no rule of the agreement is relied on).
    conditions: tuple[str, ...] = ()

    @property
    def permitted(self) -> bool:
        return self.effect is not Effect.DENY

    @property
    def withheld(self) -> bool:
        return "withheld" in self.policies


def acts_for_partnership(practitioner: Practitioner, agreement: Agreement) -> bool:
    """Whether a data protection officer is one of the partnership's lead DPOs, named in the
    agreement, who act for the whole partnership; every other DPO acts for their own
    organisation (`hub.policies.dpo_scope`)."""
    return (
        practitioner.role is Role.DATA_PROTECTION_OFFICER
        and practitioner.id in agreement.lead_data_protection_officers
    )


class DecisionPoint(Protocol):
    def agreement_in_force(self, at: datetime) -> str:
        """The label (`agreement@version`) of the information sharing agreement in force."""
        ...

    def acts_for_partnership(self, practitioner: Practitioner, at: datetime) -> bool:
        """Whether the practitioner is a lead data protection officer of the partnership under
        the agreement in force at `at`."""
        ...

    def decide(
        self,
        practitioner: Practitioner,
        action: Action,
        items: Sequence[ItemAttributes],
        context: AccessContext,
    ) -> list[Decision]: ...


class CedarDecisionPoint:
    def __init__(self, agreements: AgreementRegistry) -> None:
        self._agreements = agreements
        self._compiled: dict[str, CompiledAgreement] = {}

    @property
    def agreements(self) -> AgreementRegistry:
        return self._agreements

    def agreement_in_force(self, at: datetime) -> str:
        return self._agreements.in_force(at).label

    def acts_for_partnership(self, practitioner: Practitioner, at: datetime) -> bool:
        return acts_for_partnership(practitioner, self._agreements.in_force(at))

    def _compile(self, agreement: Agreement) -> CompiledAgreement:
        compiled = self._compiled.get(agreement.label)
        if compiled is None:
            compiled = self._compiled[agreement.label] = compile_agreement(agreement)
        return compiled

    def decide(
        self,
        practitioner: Practitioner,
        action: Action,
        items: Sequence[ItemAttributes],
        context: AccessContext,
    ) -> list[Decision]:
        agreement = self._agreements.in_force(context.at)
        compiled = self._compile(agreement)
        distinct = list(dict.fromkeys(items))
        purpose_in_scope = any(
            practitioner.role in rule.roles and context.purpose in rule.purposes
            for rule in agreement.rules
        )
        entities: list[dict[str, Any]] = [
            {
                "uid": {"type": "Practitioner", "id": practitioner.id},
                "attrs": {
                    "role": practitioner.role.value,
                    "agency_type": practitioner.agency_type.value,
                    "organisation": practitioner.organisation,
                    "active": practitioner.in_post_at(context.at),
                    "lead_dpo": acts_for_partnership(practitioner, agreement),
                },
                "parents": [],
            }
        ]
        requests = []
        for index, item in enumerate(distinct):
            entities.append(
                {
                    "uid": {"type": "Item", "id": str(index)},
                    "attrs": {
                        "publisher": item.publisher,
                        "agency_type": item.agency_type,
                        "kind": item.kind,
                        "sensitivity_rank": SENSITIVITY_RANK[item.sensitivity],  # type: ignore[index]
                        "categories": sorted(item.categories),
                        "withheld_roles": sorted(item.withheld_roles),
                        "withheld_agency_types": sorted(item.withheld_agency_types),
                    },
                    "parents": [],
                }
            )
            requests.append(
                {
                    "principal": f'Practitioner::"{practitioner.id}"',
                    "action": f'Action::"{action.value}"',
                    "resource": f'Item::"{index}"',
                    "context": {
                        "purpose_in_scope": purpose_in_scope,
                        "purpose": context.purpose.value if context.purpose else "",
                        "related": context.relationship is not None,
                        "break_glass": context.break_glass,
                    },
                }
            )
        results = cedarpy.is_authorized_batch(
            requests, compiled.policy_set, cedarpy.Entities.from_json_str(json.dumps(entities))
        )
        by_item: dict[ItemAttributes, Decision] = {}
        for item, result in zip(distinct, results, strict=True):
            if result.diagnostics.errors:
                raise PolicyEvaluationError(
                    f"policy evaluation failed: {result.diagnostics.errors}"
                )
            decided = tuple(compiled.ids[p] for p in result.diagnostics.reasons)
            by_item[item] = self._decision(
                agreement, practitioner, item, context, result.allowed, decided
            )
        return [by_item[item] for item in items]

    def _decision(
        self,
        agreement: Agreement,
        practitioner: Practitioner,
        item: ItemAttributes,
        context: AccessContext,
        allowed: bool,
        decided: tuple[str, ...],
    ) -> Decision:
        if allowed:
            rules = [agreement.rule(rule_id) for rule_id in decided if rule_id != OWN_RECORDS]
            redactions = [frozenset(r.redact) for r in rules]
            if OWN_RECORDS in decided:
                redactions.append(frozenset())
            redact = frozenset.intersection(*redactions)
            reasons = [f"permitted by rule {r.id}: {r.description}" for r in rules]
            if OWN_RECORDS in decided:
                reasons.append(f"permitted: {OWN_RECORDS_DESCRIPTION}")
            return Decision(
                Effect.PERMIT_WITH_REDACTIONS if redact else Effect.PERMIT,
                tuple(reasons),
                decided,
                redact,
                rules[0].lawful_basis if rules else "public-task",
                agreement.label,
                _conditions(rules[0], item) if rules else (),
            )
        denials = tuple(GUARDS[g].explanation for g in decided if g in GUARDS) or (
            _why_no_rule(agreement, practitioner.role, item, context.purpose),
        )
        return Decision(
            Effect.DENY, denials, decided or ("default-deny",), frozenset(), None, agreement.label
        )


def _conditions(rule: SharingRule, item: ItemAttributes) -> tuple[str, ...]:
    """The Article 9 / Article 10 conditions the permitting rule names that this item needs."""
    needed = rule.conditions(classify(item.kind, item.categories))
    return tuple(condition_code(kind, condition) for kind, condition in needed.items())


class PolicyEvaluationError(RuntimeError):
    """Cedar could not evaluate a request (a defect in a compiled agreement): nothing is shown."""


def _why_no_rule(
    agreement: Agreement, role: Role, item: ItemAttributes, purpose: Purpose | None
) -> str:
    if purpose is None:
        return "no purpose was declared; every request must say why the information is needed"
    rules = [r for r in agreement.rules if role in r.roles and purpose in r.purposes]
    if not rules:
        return f"agreement {agreement.label} shares nothing with a {role} for {purpose}"
    for rule in rules:
        if item.agency_type in rule.agency_types and any(
            item.kind == k or (k.endswith("*") and item.kind.startswith(k[:-1])) for k in rule.kinds
        ):
            return (
                f"the item is {item.sensitivity}; under agreement {agreement.label} a {role} "
                f"may see up to {rule.max_sensitivity} for {purpose}"
            )
    return (
        f"agreement {agreement.label} does not share {item.kind} from {item.agency_type} "
        f"agencies with a {role} for {purpose}"
    )
