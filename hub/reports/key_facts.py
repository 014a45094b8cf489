"""The one or two facts that matter for each kind of entry, defined once, in plain English.

A compact chronology shows one line per entry: when, which agency, what happened, the summary,
and these facts ("Child seen: yes; spoken to: no"), so the key fact is not buried under the
details. They are read from the entry's released details only: a redacted or shielded value
is shown as its marker, and a field the release left out gives no fact. Codes are written as
words (a plan category, a legal status, a decision), and a practitioner id as the person's name
when the caller can name them (the directory).

The same words are used wherever a person reads an entry's details (`details_words`: the
chronology page and its exports, the replay page and review pack, the subject access pages and
pack). What a coded field means depends on the kind: `reason` is an SSDA903 code when a child
ceases to be looked after, one of the hub's reasons when home education ends, and free text on
a police visit. An SSDA903 code is written in the return's words with the code after them in
brackets ("Adopted - application for an adoption order unopposed (E11)"): the words are what a
practitioner reads, and the code is what the case management system and the children looked
after return show, so a data officer can match the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from hub.domain.details import (
    ACCOMMODATION_TYPES,
    ACTIVITIES,
    HOME_EDUCATION_END_REASONS,
    REASONS_CEASED,
)
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
# activity) in the return's words, by the kind and the field that carry them: written as the
# words with the code in brackets.
_SSDA903_CODES: dict[tuple[str, str], Mapping[str, str]] = {
    ("la.ceased-looked-after", "reason"): REASONS_CEASED,
    ("la.care-leaver-accommodation", "accommodation"): ACCOMMODATION_TYPES,
    ("la.care-leaver-activity", "activity"): {code: said for code, (said, _) in ACTIVITIES.items()},
}
# The hub's own codes with a label of their own, by kind and field: written as the label.
_LABELLED_CODES: dict[tuple[str, str], Mapping[str, str]] = {
    ("education.elective-home-education-ended", "reason"): HOME_EDUCATION_END_REASONS,
}
_FREE_TEXT = frozenset({"child_voice", "reason", "rationale", "reason_given", "summary"})


def _coded(kind: str, field: str, value: Any) -> str | None:
    """A coded value of this kind's field in words, or None when the field carries no code."""
    text = str(value)
    if text in (ssda903 := _SSDA903_CODES.get((kind, field), {})):
        return f"{ssda903[text]} ({text})"
    if text in (labelled := _LABELLED_CODES.get((kind, field), {})):
        return labelled[text]
    return None


def _words(kind: str, field: str, value: Any, name: Namer | None) -> str:
    if isinstance(value, str) and value in MARKERS:
        return value
    coded = _coded(kind, field, value)
    if coded is not None:
        return coded
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
    return _CODES.get(text, text.replace("-", " ") if _CODE.fullmatch(text) else text)


def detail_words(kind: str, field: str, value: Any, name: Namer | None = None) -> Any:
    """A released detail of an entry of this kind as a person reads it: a code in words, a
    person by name, a date as people in England write it, yes or no; free text, a marker, a
    list or a mapping as it is (the page renders those)."""
    if isinstance(value, Mapping | list | tuple) or value is None:
        return value
    if isinstance(value, str) and value in MARKERS:
        return value
    coded = _coded(kind, field, value)
    if coded is not None:
        return coded
    if field in _FREE_TEXT:
        return value
    return _words(kind, field, value, name)


def details_words(
    kind: str, details: Mapping[str, Any], name: Namer | None = None
) -> dict[str, Any]:
    """Every released detail of an entry of this kind in words (`detail_words`), in order."""
    return {field: detail_words(kind, field, value, name) for field, value in details.items()}


def key_facts(
    kind: str, details: Mapping[str, Any], name: Namer | None = None
) -> list[tuple[str, str]]:
    """The facts that matter for an entry of this kind, as (label, words), from its released
    details; none for a kind without any, or for fields the release left out."""
    facts = []
    for label, field in KEY_FACTS.get(kind, ()):
        if field not in details or details[field] is None:
            continue
        facts.append((label, _words(kind, field, details[field], name)))
    return facts


def key_facts_text(kind: str, details: Mapping[str, Any], name: Namer | None = None) -> str:
    """`Child seen: yes; spoken to: no`."""
    facts = key_facts(kind, details, name)
    return "; ".join(
        f"{label if i == 0 else label[0].lower() + label[1:]}: {words}"
        for i, (label, words) in enumerate(facts)
    )
