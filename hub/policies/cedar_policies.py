"""Compiling an information sharing agreement into Cedar policies.

Each agreement rule becomes one `permit`; the hub's fixed guards become `forbid`s, which in
Cedar override any permit: no legitimate relationship (and no break-glass), an item the
publisher withheld from the viewer's role or agency type, and an inactive practitioner. Data
protection officers acting for a data protection audit are exempt from the first, because
auditing out-of-relationship access is their job, and from the second only for what their own
organisation published or when they are a partnership lead DPO (named in the agreement): a
DPO of another organisation never sees what was withheld from their organisation's agency type
or role (the gate shows them that an item was withheld, by whom, when and until when).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import cedarpy

from hub.policies.agreements import SENSITIVITY_RANK, Agreement, SharingRule

_DPO_AUDIT = (
    'principal.role == "data-protection-officer" && context.purpose == "data-protection-audit"'
)
_DPO_AUDIT_OF_WITHHELD = (
    f"{_DPO_AUDIT} && (principal.lead_dpo || resource.publisher == principal.organisation)"
)


@dataclass(frozen=True)
class Guard:
    id: str
    cedar: str
    explanation: str


GUARDS: dict[str, Guard] = {
    g.id: g
    for g in (
        Guard(
            "no-relationship",
            "forbid(principal, action, resource) "
            "when { !context.related && !context.break_glass } "
            f"unless {{ {_DPO_AUDIT} }};",
            "you have no current legitimate relationship with this child (allocation, MACPT "
            "membership during an enquiry or plan, school enrolment, review commission); "
            "request break-glass access if this is an emergency",
        ),
        Guard(
            "withheld",
            "forbid(principal, action, resource) "
            "when { resource.withheld_roles.contains(principal.role) || "
            "resource.withheld_agency_types.contains(principal.agency_type) } "
            f"unless {{ {_DPO_AUDIT_OF_WITHHELD} }};",
            "the publisher withheld this item from your role or agency because sharing it "
            "would be more detrimental to the child",
        ),
        Guard(
            "inactive-practitioner",
            "forbid(principal, action, resource) when { !principal.active };",
            "your account is not active in the practitioner directory",
        ),
    )
}


@dataclass(frozen=True)
class CompiledAgreement:
    policy_set: cedarpy.PolicySet
    ids: dict[str, str]  # Cedar's policy id (policy0, ...) -> rule or guard id
    text: str


def _set(values: list[str]) -> str:
    return json.dumps(sorted(values))


def _kinds(rule: SharingRule) -> str:
    clauses = [
        f"resource.kind like {json.dumps(k)}"
        if k.endswith("*")
        else f"resource.kind == {json.dumps(k)}"
        for k in rule.kinds
    ]
    return "(" + " || ".join(clauses) + ")"


def _permit(rule: SharingRule) -> str:
    conditions = [
        f"{_set(list(rule.roles))}.contains(principal.role)",
        f"{_set(list(rule.purposes))}.contains(context.purpose)",
        f"{_set(list(rule.agency_types))}.contains(resource.agency_type)",
        _kinds(rule),
        f"resource.sensitivity_rank <= {SENSITIVITY_RANK[rule.max_sensitivity]}",
    ]
    if rule.categories:
        conditions.append(f"resource.categories.containsAny({_set(list(rule.categories))})")
    actions = ", ".join(f"Action::{json.dumps(a)}" for a in rule.actions)
    return (
        f"permit(principal, action in [{actions}], resource) when {{ "
        + " && ".join(conditions)
        + " };"
    )


# Beyond the agreement's rules: an organisation may see what it published itself, when the
# practitioner acts for a purpose the agreement recognises for their role (still only with a
# relationship, and never what it withheld from its own staff's role).
OWN_RECORDS = "own-organisation"
OWN_RECORDS_DESCRIPTION = "an organisation sees the records it published itself"
_OWN_RECORDS_CEDAR = (
    'permit(principal, action in [Action::"view", Action::"export", Action::"search", '
    'Action::"notify"], resource) '
    "when { resource.publisher == principal.organisation && context.purpose_in_scope };"
)


def compile_agreement(agreement: Agreement) -> CompiledAgreement:
    statements = [(rule.id, _permit(rule)) for rule in agreement.rules]
    statements.append((OWN_RECORDS, _OWN_RECORDS_CEDAR))
    statements += [(guard.id, guard.cedar) for guard in GUARDS.values()]
    text = "\n".join(f"// {ident}\n{cedar}" for ident, cedar in statements)
    return CompiledAgreement(
        cedarpy.PolicySet.from_str(text),
        {f"policy{i}": ident for i, (ident, _) in enumerate(statements)},
        text,
    )
