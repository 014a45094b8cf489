"""The statutory clock of a subject access request (UK GDPR Article 12(3)): one month from
receipt (or from when the requester's identity was confirmed), by the ICO's rule for counting
it, extendable once by up to two further months when the requester is told within the first
month. Pure; the request and its decisions are `hub.domain.subject_access`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from hub.domain.subject_access import MAX_EXTENSION_MONTHS, SubjectAccessError
from hub.domain.uk_time import add_months
from hub.domain.working_days import is_working_day, next_working_day

CLOCK_SOURCE = (
    "UK GDPR Article 12(3); ICO, 'Right of access: how long do we have to comply?': from the "
    "day of receipt to the corresponding calendar date in the next month (the last day of that "
    "month if it has no such date), or the next working day if that date is a weekend or a bank "
    "holiday"
)


def months_after(day: date, months: int) -> date:
    """The corresponding calendar date `months` later, or that month's last day if it has no
    such date (31 January + 1 month is 28 or 29 February), moved to the next working day in
    England if it falls on a weekend or a bank holiday."""
    due = add_months(day, months)
    return due if is_working_day(due) else next_working_day(due)


def one_month_after(day: date) -> date:
    return months_after(day, 1)


class CaseStatus(StrEnum):
    OPEN = "open"
    EXTENDED = "extended"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Extension:
    months: int
    reason: str
    requester_told: date


def check_extension(
    received: date, starts: date, extension: Extension, *, already: bool, today: date
) -> None:
    """An extension is recorded once, by one or two months, with its reason, and only if the
    requester was told within the first month (on or before the first due date)."""
    if already:
        raise SubjectAccessError("months: this request has already been extended once")
    if not 1 <= extension.months <= MAX_EXTENSION_MONTHS:
        raise SubjectAccessError(
            f"months: a request may be extended by 1 or {MAX_EXTENSION_MONTHS} further months"
        )
    if not extension.reason.strip():
        raise SubjectAccessError("reason: say why (complexity or the number of requests)")
    first_due = one_month_after(starts)
    if extension.requester_told < received or extension.requester_told > today:
        raise SubjectAccessError(
            "requester-told: the date the requester was told, between receipt and today"
        )
    if extension.requester_told > first_due:
        raise SubjectAccessError(
            "requester-told: the requester must be told of an extension within the first month "
            f"(by {first_due:%-d %B %Y}); it cannot be extended now"
        )


@dataclass(frozen=True)
class Clock:
    """Where a request stands against its statutory time limit."""

    received: date
    starts: date  # receipt, or the later day the requester's identity was confirmed
    first_due: date
    due: date  # the first due date, or the extended one
    status: CaseStatus
    days_left: int  # calendar days from today to the due date (negative: overdue)
    overdue: bool  # not completed and the due date has passed
    completed_on: date | None = None

    @property
    def on_time(self) -> bool | None:
        return None if self.completed_on is None else self.completed_on <= self.due

    @property
    def text(self) -> str:
        """Where it stands, in words."""
        due = f"{self.due:%-d %B %Y}"
        if self.completed_on is not None:
            late = "on time" if self.on_time else "late"
            return f"completed on {self.completed_on:%-d %B %Y} ({late}; due {due})"
        if self.overdue:
            days = -self.days_left
            return f"overdue by {days} day{'s' if days != 1 else ''} (due {due})"
        if self.days_left == 0:
            return f"due today ({due})"
        days = self.days_left
        return f"due {due}: {days} day{'s' if days != 1 else ''} left"


def clock(
    received: date,
    today: date,
    *,
    identity_confirmed_on: date | None = None,
    extension_months: int = 0,
    completed_on: date | None = None,
) -> Clock:
    starts = max(received, identity_confirmed_on or received)
    first_due = one_month_after(starts)
    due = months_after(starts, 1 + extension_months) if extension_months else first_due
    status = (
        CaseStatus.COMPLETED
        if completed_on is not None
        else CaseStatus.EXTENDED
        if extension_months
        else CaseStatus.OPEN
    )
    left = (due - today).days
    return Clock(
        received,
        starts,
        first_due,
        due,
        status,
        left,
        completed_on is None and today > due,
        completed_on,
    )
