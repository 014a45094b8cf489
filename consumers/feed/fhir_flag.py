"""A CP-IS-style FHIR R4 `Flag` for a feed message (recipients with `fhir_flags: true`): the
child protection plan or looked-after status of the child, built only from what the gate
released to the recipient (the message) and from what it released to it before (the plan's
start, kept with the items the recipient holds).

Mapping (docs/feed.md, "FHIR Flag"):
- `la.cp-plan-started`: status `active`, `period.start` when the plan started;
- `la.cp-plan-ended`: status `inactive`, `period.end` when it ended, and the start and Flag id
  of the plan it ends when the recipient was sent that plan's start (so the recipient updates
  one Flag); otherwise a Flag of its own with only `period.end`;
- `la.looked-after`: status `active`, `period.start`. No kind in the taxonomy says a child has
  stopped being looked after (`la.placement-ended` ends a placement, not the status), so no
  looked-after Flag becomes inactive.

`subject` names the child by this recipient's pseudonym, never by NHS number: the feed's rule
is that no child identifier leaves (the gate leaves out, for a system, every value carrying
one), and a Flag does not change that. `author` is the responsible local authority by its
registered agency id (the agency register holds no display names).
"""

from __future__ import annotations

import copy
from typing import Any

CP_PLAN_STARTED = "la.cp-plan-started"
CP_PLAN_ENDED = "la.cp-plan-ended"
LOOKED_AFTER = "la.looked-after"
FLAG_KINDS = frozenset({CP_PLAN_STARTED, CP_PLAN_ENDED, LOOKED_AFTER})

FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
SNOMED_CT = "http://snomed.info/sct"
# The hub's own namespace, as in the health adapter and the audit export.
HUB_FLAG_CODES = "https://safeguarding-hub.example/fhir/CodeSystem/child-status-flag"
FEED_CHILD_SYSTEM = "https://safeguarding-hub.example/Id/feed-child"
FEED_ITEM_SYSTEM = "https://safeguarding-hub.example/Id/feed-item"
ORGANISATION_SYSTEM = "https://safeguarding-hub.example/Id/organisation"

CP_PLAN = "child-protection-plan"
LOOKED_AFTER_CODE = "looked-after"
# UK edition concept, as listed by the RCGP's safeguarding coding guidance: 342191000000101
# |Subject to child protection plan (finding)|. No looked-after concept could be checked, so
# that status carries the hub's code alone.
_CODES: dict[str, dict[str, Any]] = {
    CP_PLAN: {
        "coding": [
            {"system": HUB_FLAG_CODES, "code": CP_PLAN, "display": "Child protection plan"},
            {
                "system": SNOMED_CT,
                "code": "342191000000101",
                "display": "Subject to child protection plan",
            },
        ],
        "text": "Child protection plan",
    },
    LOOKED_AFTER_CODE: {
        "coding": [
            {"system": HUB_FLAG_CODES, "code": LOOKED_AFTER_CODE, "display": "Looked after child"}
        ],
        "text": "Looked after child",
    },
}
_CATEGORY = [{"coding": [{"system": FLAG_CATEGORY, "code": "safety", "display": "Safety"}]}]


def flag_code(kind: str) -> str | None:
    """Which status a kind opens or closes, if it is one a Flag carries."""
    if kind in (CP_PLAN_STARTED, CP_PLAN_ENDED):
        return CP_PLAN
    if kind == LOOKED_AFTER:
        return LOOKED_AFTER_CODE
    return None


def open_status(held: dict[str, Any], code: str, agency: str, ending: str) -> str | None:
    """The held item whose Flag `ending` (an end-of-plan record) closes: the one it closed
    before (a later revision of the same end), else the latest still open plan of the same
    authority. `held` maps the items the recipient holds to what the feed kept of them."""
    candidates = []
    for item, kept in held.items():
        flag = (kept or {}).get("flag")
        if not flag or flag["code"] != code or not item.startswith(f"{agency}/"):
            continue
        if flag.get("ended_by") == ending:
            return item
        if flag.get("end") is None:
            candidates.append((flag["start"], item))
    return max(candidates)[1] if candidates else None


def fhir_flag(
    message: dict[str, Any],
    code: str,
    *,
    flag_id: str,
    start: str | None,
    end: str | None,
) -> dict[str, Any]:
    """The Flag resource for one released event message (`message`: the feed's own value)."""
    agency = message["agency"]
    period = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return {
        "resourceType": "Flag",
        "id": flag_id[:64],
        "identifier": [{"system": FEED_ITEM_SYSTEM, "value": flag_id}],
        "status": "inactive" if end is not None else "active",
        "category": copy.deepcopy(_CATEGORY),
        "code": copy.deepcopy(_CODES[code]),
        "subject": {
            "type": "Patient",
            "identifier": {"system": FEED_CHILD_SYSTEM, "value": message["child"]},
        },
        "period": period,
        "author": {
            "type": "Organization",
            "identifier": {"system": ORGANISATION_SYSTEM, "value": agency["id"]},
            "display": f"{agency['id']} ({str(agency['type']).replace('-', ' ')})",
        },
    }
