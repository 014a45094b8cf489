"""Who the child is, at the top of every chronology: a pure function of what the gate released.

The header (name, date of birth and age or "unborn, due ...", NHS number, current status,
allocated worker and team, each involved agency and whom to contact there) is read from the
entries the disclosure gate released to this viewer, and from nothing else: the child's details
come from released `la.child-details` / `health.child-details` entries (a redacted or shielded
field stays its marker), the status from released plan and looked-after events, the worker
from a released `la.worker-allocated`. So each item obeys the policy of the events it comes
from: a viewer who may not see the worker's allocation is not told who the worker is, and a
school DSL, whose agreement redacts the legal status, sees `[redacted]` there.

What is added from outside the release is public to the partnership, never about the child:
agencies' names and contacts from the register, and the worker's name and team from the
directory (only for a worker the release named). No I/O: callers pass the register's records
and a directory look-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Practitioner
from hub.domain.agency_records import AgencyRecord
from hub.domain.markers import REDACTED, RETRACTED, SHIELDED, WITHHELD
from hub.domain.taxonomy import AgencyType
from hub.domain.uk_time import uk_date

MARKERS = frozenset({REDACTED, SHIELDED})
CHILD_DETAILS = ("la.child-details", "health.child-details")
LEGAL_STATUS = {
    "s20": "Accommodated under section 20 of the Children Act 1989 (voluntary)",
    "s31": "Care order (section 31 of the Children Act 1989)",
    "interim-care-order": "Interim care order",
    "police-protection": "In police protection",
    "remand": "Remanded to local authority accommodation",
}
PLAN_CATEGORY = {
    "neglect": "neglect",
    "physical-abuse": "physical abuse",
    "emotional-abuse": "emotional abuse",
    "sexual-abuse": "sexual abuse",
    "multiple": "multiple categories",
}
SEX = {"male": "Male", "female": "Female", "other": "Other", "unknown": "Not known"}
AGENCY_TYPE_ORDER = [t.value for t in AgencyType]


@dataclass(frozen=True)
class AgencyContact:
    """An agency as practitioners know it, and whom they ask about its records."""

    agency: str
    agency_type: str
    name: str
    contact: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class ChildHeader:
    """The header of one viewer's chronology; every value is text a person reads (or a
    `[redacted]` / `[shielded]` marker), None when nothing released says it."""

    identifier: str
    name: str | None = None
    known_as: str | None = None
    date_of_birth: str | None = None  # `2 June 2020`
    age: str | None = None  # `5 years 6 months`, or `unborn, due 3 March 2027`
    sex: str | None = None
    details_from: str | None = None  # which agency's record, and as of when
    statuses: list[str] = field(default_factory=list)
    legal_status: str | None = None
    worker: str | None = None
    team: str | None = None
    agencies: list[AgencyContact] = field(default_factory=list)
    not_shared_by: list[AgencyContact] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["agencies"] = [a.as_dict() for a in self.agencies]
        data["not_shared_by"] = [a.as_dict() for a in self.not_shared_by]
        return data


def day_words(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def age_words(born: date, today: date) -> str:
    """A child's age as people say it: years (and months under 5), months under 2, weeks and
    days for a newborn."""
    months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    if months < 0:
        return "not yet born on this date"
    if months == 0:
        days = (today - born).days
        return f"{days} day{'s' * (days != 1)}" if days < 14 else f"{days // 7} weeks"
    years, rest = divmod(months, 12)
    if years < 2:
        return f"{months} month{'s' * (months != 1)}"
    if years < 5 and rest:
        return f"{years} years {rest} month{'s' * (rest != 1)}"
    return f"{years} years"


def _current(entries: Iterable[ShownEntry]) -> list[ShownEntry]:
    return [e for e in entries if e.status == "current" and e.kind not in (RETRACTED, WITHHELD)]


def _marked(value: Any) -> bool:
    """Whether a released value is a `[redacted]` or `[shielded]` marker."""
    return isinstance(value, str) and value in MARKERS


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value and not _marked(value) else None
    except ValueError:
        return None


def _latest(entries: Sequence[ShownEntry], *kinds: str) -> ShownEntry | None:
    found = [e for e in entries if e.kind in kinds]
    return max(found, key=lambda e: (e.occurred_at, e.recorded_at)) if found else None


def _after(entries: Sequence[ShownEntry], start: ShownEntry, *kinds: str) -> ShownEntry | None:
    later = [e for e in entries if e.kind in kinds and e.occurred_at > start.occurred_at]
    return min(later, key=lambda e: e.occurred_at) if later else None


def _on(moment: datetime) -> str:
    return day_words(uk_date(moment))


def _statuses(entries: Sequence[ShownEntry]) -> tuple[list[str], str | None]:
    """The child's current status lines, and the legal status, from released events."""
    lines: list[str] = []
    legal: str | None = None
    plan = _latest(entries, "la.cp-plan-started")
    if plan is not None:
        ended = _after(entries, plan, "la.cp-plan-ended")
        category = plan.details.get("category")
        said = (
            f", category: {PLAN_CATEGORY.get(category, category)}"
            if category and not _marked(category)
            else (f", category: {category}" if category else "")
        )
        lines.append(
            f"Child protection plan ended on {_on(ended.occurred_at)}"
            if ended
            else f"On a child protection plan since {_on(plan.occurred_at)}{said}"
        )
    need = _latest(entries, "la.child-in-need-plan")
    if need is not None and (plan is None or need.occurred_at > plan.occurred_at):
        lines.append(f"Child in need (plan since {_on(need.occurred_at)})")
    looked = _latest(entries, "la.looked-after")
    if looked is not None:
        left = _after(entries, looked, "la.care-leaver-status")
        ceased = _after(entries, looked, "la.ceased-looked-after")
        status = looked.details.get("legal_status")
        legal = LEGAL_STATUS.get(status, status) if status else None
        if left:
            lines.append(f"Care leaver since {_on(left.occurred_at)}")
        elif ceased:
            lines.append(f"Stopped being looked after on {_on(ceased.occurred_at)}")
        else:
            lines.append(f"Looked after since {_on(looked.occurred_at)}")
        if left or ceased:
            legal = None
    la_details = [
        e for e in entries if e.kind == "la.child-details" and "legal_status" in e.details
    ]
    latest_details = max(la_details, key=lambda e: e.occurred_at) if la_details else None
    if latest_details is not None and (
        looked is None or latest_details.occurred_at >= looked.occurred_at
    ):
        status = latest_details.details["legal_status"]
        legal = LEGAL_STATUS.get(status, status) if status else legal
    return lines, legal


def _contact(agency: str, agency_type: str, register: Mapping[str, AgencyRecord]) -> AgencyContact:
    record = register.get(agency)
    return AgencyContact(
        agency,
        agency_type,
        record.display_name if record else agency,
        record.contact if record else None,
    )


def child_header(
    view: ChronologyView,
    register: Mapping[str, AgencyRecord],
    practitioner: Callable[[str], Practitioner | None],
    today: date,
) -> ChildHeader:
    """The header of this released view. `register`: the agency register by agency id;
    `practitioner`: the directory's look-up, for the allocated worker's name and team;
    `today`: the date in England the age is worked out for."""
    entries = _current(view.entries)
    values: dict[str, Any] = {}
    details = _latest(entries, *CHILD_DETAILS)
    if details is not None:
        d = details.details
        given = d.get("given_names")
        given_text = (
            given if _marked(given) else " ".join(given) if isinstance(given, list) else None
        )
        family = _text(d.get("family_name"))
        values["name"] = " ".join(p for p in (given_text, family) if p) or None
        values["known_as"] = _text(d.get("known_as"))
        born, due = _date(d.get("date_of_birth")), _date(d.get("expected_delivery_date"))
        if born is not None:
            values["date_of_birth"] = day_words(born)
            values["age"] = age_words(born, today)
        elif due is not None:
            values["age"] = f"unborn, due {day_words(due)}"
        elif _marked(d.get("date_of_birth")):
            values["date_of_birth"] = values["age"] = d["date_of_birth"]
        sex = d.get("sex")
        values["sex"] = SEX.get(sex, _text(sex)) if sex else None
        source = register.get(details.agency)
        values["details_from"] = (
            f"{source.display_name if source else details.agency}'s record, "
            f"as of {_on(details.recorded_at)}"
        )
    statuses, legal = _statuses(entries)
    allocation = _latest(entries, "la.worker-allocated")
    if allocation is not None:
        worker_id = allocation.details.get("practitioner_id")
        role = allocation.details.get("role")
        person = practitioner(worker_id) if worker_id and not _marked(worker_id) else None
        role_text = str(role).replace("-", " ") if role and not _marked(role) else None
        if person is not None:
            values["worker"] = f"{person.name} ({role_text or person.role.value.replace('-', ' ')})"
            teams = sorted(person.teams)
            team_agency = register.get(person.organisation)
            values["team"] = ", ".join(_team_words(t, register) for t in teams) or (
                team_agency.display_name if team_agency else person.organisation
            )
        elif worker_id:  # not in the directory, or the id itself is redacted
            values["worker"] = f"{worker_id}" + (f" ({role_text})" if role_text else "")
        if values.get("worker"):
            values["worker"] = f"{values['worker']}, allocated {_on(allocation.occurred_at)}"
    types: dict[str, str] = {}
    for e in view.entries:
        types.setdefault(e.agency, e.agency_type)
    agencies = sorted(
        (_contact(a, t, register) for a, t in types.items()),
        key=lambda c: (
            AGENCY_TYPE_ORDER.index(c.agency_type) if c.agency_type in AGENCY_TYPE_ORDER else 9,
            c.name,
        ),
    )
    not_shared = [
        _contact(a, (register[a].agency_type if a in register else ""), register)
        for a in view.unshared_agencies
    ]
    return ChildHeader(
        identifier=view.child,
        statuses=statuses,
        legal_status=legal,
        agencies=agencies,
        not_shared_by=not_shared,
        **values,
    )


def _team_words(team: str, register: Mapping[str, AgencyRecord]) -> str:
    """`macpt:shire-county-council` as `multi-agency child protection team, Shire County
    Council children's services`."""
    kind, _, agency = team.partition(":")
    words = {
        "macpt": "multi-agency child protection team",
        "front-door": "front door (MASH)",
    }.get(kind, kind.replace("-", " "))
    record = register.get(agency)
    return f"{words}, {record.display_name if record else agency}" if agency else words
