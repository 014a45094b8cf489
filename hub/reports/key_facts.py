"""The one or two facts that matter for each kind of entry, defined once, in plain English.

A compact chronology shows one line per entry: when, which agency, what happened, the summary,
and these facts ("Child seen: yes; spoken to: no"), so the key fact is not buried under the
details. They are read from the entry's released details only: a redacted or shielded value
is shown as its marker, and a field the release left out gives no fact. Codes are written as
words (a plan category, a legal status, a decision), and a practitioner id as the person's name
when the caller can name them (the directory).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from hub.domain.details import ACCOMMODATION_TYPES, ACTIVITIES, REASONS_CEASED
from hub.domain.markers import REDACTED, SHIELDED

MARKERS = frozenset({REDACTED, SHIELDED})
Namer = Callable[[str], str | None]

# kind -> ((label, detail field), ...): the facts that matter, in order.
KEY_FACTS: dict[str, tuple[tuple[str, str], ...]] = {
    "police.home-visit": (("Child seen", "child_seen"), ("Spoken to", "child_spoken_to")),
    "police.domestic-abuse-incident": (
        ("Child present", "child_present"),
        ("Child's voice recorded", "child_voice"),
    ),
    "police.missing-episode": (("Returned", "returned"),),
    "health.was-not-brought": (("Appointment", "appointment_type"), ("Service", "service")),
    "la.referral": (("Outcome", "outcome"), ("Referred by", "referral_source")),
    "la.s47-enquiry-outcome": (("Outcome", "outcome"),),
    "la.initial-cp-conference": (("Decision", "decision"),),
    "la.review-cp-conference": (("Decision", "decision"),),
    "la.cp-plan-started": (("Category", "category"),),
    "la.looked-after": (("Legal status", "legal_status"),),
    "la.ceased-looked-after": (("Reason", "reason"), ("Ceased", "ceased_on")),
    "la.care-leaver-accommodation": (("Accommodation", "accommodation"), ("Suitable", "suitable")),
    "la.care-leaver-activity": (
        ("Activity", "activity"),
        ("In education, employment or training", "in_education_employment_or_training"),
    ),
    "la.moved-out-of-area": (("Moved", "moved_on"), ("Moved to", "receiving_authority")),
    "la.core-group-meeting": (("Held", "held_on"),),
    "health.looked-after-health-assessment": (("Completed", "completed_on"),),
    "health.looked-after-dental-check": (("Completed", "completed_on"),),
    "education.elective-home-education-ended": (("Ended", "ended_on"), ("Reason", "reason")),
    "education.compulsory-school-age-ended": (("On", "on"),),
    "la.decision": (("Decision", "decision"), ("Decided by", "decided_by")),
    "la.worker-allocated": (("Worker", "practitioner_id"), ("Role", "role")),
    "education.attendance-concern": (("Attendance", "attendance_percent"), ("Period", "period")),
    "education.suspension-or-exclusion": (("Kind", "kind"), ("Days", "days")),
    "education.elective-home-education-notice": (
        ("Council consent needed", "la_consent_required"),
    ),
    "la.child-details": (("Date of birth", "date_of_birth"), ("Due", "expected_delivery_date")),
    "health.child-details": (
        ("Date of birth", "date_of_birth"),
        ("Due", "expected_delivery_date"),
    ),
}
_CODES = {
    "s20": "section 20 (voluntary)",
    "s31": "care order (section 31)",
    "interim-care-order": "interim care order",
    "cp-plan": "child protection plan",
    "no-plan": "no plan",
    "continue-plan": "continue the plan",
    "end-plan": "end the plan",
}
_CODE = re.compile(r"[a-z]+(?:-[a-z]+)+")  # a code such as `no-further-action`
_PEOPLE = frozenset({"practitioner_id", "decided_by"})
_DATES = frozenset(
    {
        "date_of_birth",
        "expected_delivery_date",
        "ceased_on",
        "completed_on",
        "recorded_on",
        "ended_on",
        "on",
        "moved_on",
        "held_on",
    }
)
# SSDA903 codes (a reason a child ceased to be looked after, a care leaver's accommodation or
# activity) in the return's words, by the field that carries them.
_FIELD_CODES: dict[str, Mapping[str, str]] = {
    "reason": REASONS_CEASED,
    "accommodation": ACCOMMODATION_TYPES,
    "activity": {code: label for code, (label, _) in ACTIVITIES.items()},
}
_FREE_TEXT = frozenset({"child_voice", "reason", "rationale", "reason_given", "summary"})


def _words(field: str, value: Any, name: Namer | None) -> str:
    if isinstance(value, str) and value in MARKERS:
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "child_voice":
        return "yes" if value else "no"
    if field == "attendance_percent":
        return f"{value:g}%"
    if field in _DATES:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return f"{day.day} {day:%B %Y}"
    if field in _PEOPLE and name is not None:
        return name(str(value)) or str(value)
    text = str(value)
    if text in _FIELD_CODES.get(field, {}):
        return _FIELD_CODES[field][text]
    return _CODES.get(text, text.replace("-", " ") if _CODE.fullmatch(text) else text)


def detail_words(field: str, value: Any, name: Namer | None = None) -> Any:
    """A released detail's value as a person reads it: a code in words, a person by name, a
    date as people in England write it; a marker, a list or a mapping as it is (the page
    renders those)."""
    if isinstance(value, Mapping | list | tuple) or value is None or field in _FREE_TEXT:
        return value
    if isinstance(value, str) and value in MARKERS:
        return value
    return _words(field, value, name)


def key_facts(
    kind: str, details: Mapping[str, Any], name: Namer | None = None
) -> list[tuple[str, str]]:
    """The facts that matter for an entry of this kind, as (label, words), from its released
    details; none for a kind without any, or for fields the release left out."""
    facts = []
    for label, field in KEY_FACTS.get(kind, ()):
        if field not in details or details[field] is None:
            continue
        facts.append((label, _words(field, details[field], name)))
    return facts


def key_facts_text(kind: str, details: Mapping[str, Any], name: Namer | None = None) -> str:
    """`Child seen: yes; spoken to: no`."""
    facts = key_facts(kind, details, name)
    return "; ".join(
        f"{label if i == 0 else label[0].lower() + label[1:]}: {words}"
        for i, (label, words) in enumerate(facts)
    )
