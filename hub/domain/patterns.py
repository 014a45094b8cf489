"""Multi-agency patterns in one child's chronology that are worth a human look.

Serious case reviews keep finding signals that were each recorded by one agency and never put
together: repeated missed health appointments, a police visit where the children were not
spoken to, a switch to home education soon after a disclosure, concerns from several agencies
within weeks (seeds 003:851-867). Each rule here turns one such signal into a `PatternFlag`
that names the entries behind it, so a practitioner can read them; a flag is a prompt, never a
conclusion, and the thresholds are data (`PatternRules`) so a partnership can tune them.

Only current entries count: a superseded revision is replaced by its correction, and a
retracted record is not evidence. Descriptions go to screens and may reach logs, so they hold
counts, kinds of event, agency types and dates, never a summary or a detail's free text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hub.domain.chronology import ChronologyEntry, EntryStatus, PatternFlag
from hub.domain.taxonomy import ROUTINE_KINDS, AgencyType
from hub.domain.uk_time import UK

REPEATED_WAS_NOT_BROUGHT = "repeated-was-not-brought"
CHILD_NOT_SEEN_ON_VISIT = "child-not-seen-on-visit"
SUDDEN_HOME_EDUCATION = "sudden-home-education"
MULTI_AGENCY_CONCERNS = "multi-agency-concerns"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_WAS_NOT_BROUGHT = "health.was-not-brought"
_HOME_VISIT = "police.home-visit"
_HOME_EDUCATION = "education.elective-home-education-notice"

# What a social worker would call each concern that makes home education "sudden".
SAFEGUARDING_CONCERNS: dict[str, str] = {
    "education.safeguarding-disclosure": "safeguarding disclosure at school",
    "la.referral": "referral to children's social care",
    "la.s47-enquiry-started": "section 47 enquiry",
    "la.cp-plan-started": "child protection plan",
    "police.domestic-abuse-incident": "domestic abuse incident",
    "health.non-mobile-infant-injury": "injury in a non-mobile infant",
}
_AGENCY_TYPE_NAMES = {
    AgencyType.LOCAL_AUTHORITY: "local authority",
    AgencyType.POLICE: "police",
    AgencyType.HEALTH: "health",
    AgencyType.EDUCATION: "education",
}


@dataclass(frozen=True)
class PatternRules:
    """The thresholds of each rule. The defaults follow practice-review findings; a
    partnership may agree others, which is why they are not constants in the rules."""

    was_not_brought_count: int = 3
    was_not_brought_within: timedelta = timedelta(days=365)
    home_education_lookback: timedelta = timedelta(days=180)
    home_education_concerns: frozenset[str] = frozenset(SAFEGUARDING_CONCERNS)
    multi_agency_types: int = 3
    multi_agency_within: timedelta = timedelta(days=30)
    # Kinds the multi-agency concerns rule does not count: by default those the taxonomy marks
    # routine (`KindSpec.routine`: case administration, routine checks, the record itself),
    # which do not by themselves say a child may be at risk.
    not_concerns: frozenset[str] = ROUTINE_KINDS


def detect_patterns(
    entries: Sequence[ChronologyEntry], rules: PatternRules = PatternRules()
) -> list[PatternFlag]:
    """Every flag the rules raise on the current entries, sorted by window start, then code."""
    current = [e for e in entries if e.status is EntryStatus.CURRENT]
    occurred = [e.event.occurred_at for e in current]
    if any(a >= b for a, b in pairwise(occurred)):
        # Not strictly in occurred-at order already (a chronology is): order it fully.
        current.sort(key=lambda e: (e.event.occurred_at, e.event.recorded_at, e.received_at, e.ref))
    flags = [
        *_repeated_was_not_brought(current, rules),
        *_child_not_seen_on_visit(current),
        *_sudden_home_education(current, rules),
        *_multi_agency_concerns(current, rules),
    ]
    return sorted(flags, key=lambda f: (f.window_start, f.code, f.refs))


def _day(moment: datetime) -> str:
    """A date as a UK reader would write it, on the UK calendar day."""
    local = moment.astimezone(UK)
    return f"{local.day} {local:%B %Y}"


def _period(first: datetime, last: datetime) -> str:
    if _day(first) == _day(last):
        return f"on {_day(first)}"
    return f"between {_day(first)} and {_day(last)}"


def _plural(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _days(span: timedelta) -> str:
    return _plural(span.days, "day")


def _flag(code: str, description: str, window: Sequence[ChronologyEntry]) -> PatternFlag:
    return PatternFlag(
        code=code,
        description=description,
        refs=tuple(e.ref for e in window),
        window_start=window[0].event.occurred_at,
        window_end=window[-1].event.occurred_at,
    )


def _maximal_windows(
    entries: Sequence[ChronologyEntry],
    within: timedelta,
    qualifies: Callable[[int, int], bool],
) -> list[list[ChronologyEntry]]:
    """Maximal runs of time-ordered entries covered by qualifying windows.

    A window starts at each entry and holds every entry up to `within` later; windows that
    qualify and share an entry are merged, so one pattern gives one flag however many ways
    its entries could be grouped, and two episodes far apart give two. `qualifies(start,
    end)` says whether the window `entries[start:end]` qualifies (in constant time, so the
    scan stays linear in the number of entries).
    """
    runs: list[list[ChronologyEntry]] = []
    # Exact integer microseconds: comparing aware datetimes with distinct tzinfo objects
    # (as parsed) costs an offset look-up each time.
    occurred = [(e.event.occurred_at - _EPOCH) // _MICROSECOND for e in entries]
    span = within // _MICROSECOND
    count = len(entries)
    end = 0  # one past the last entry of the window starting at `start`
    run_end = -1  # one past the last entry of the run being built
    for start in range(count):
        end = max(end, start)
        limit = occurred[start] + span
        while end < count and occurred[end] <= limit:
            end += 1
        if not qualifies(start, end):
            continue
        if runs and start < run_end:
            runs[-1].extend(entries[run_end:end])
        else:
            runs.append(list(entries[start:end]))
        run_end = max(run_end, end)
    return runs


def _repeated_was_not_brought(
    entries: Sequence[ChronologyEntry], rules: PatternRules
) -> list[PatternFlag]:
    missed = [e for e in entries if e.event.kind == _WAS_NOT_BROUGHT]
    runs = _maximal_windows(
        missed,
        rules.was_not_brought_within,
        lambda start, end: end - start >= rules.was_not_brought_count,
    )
    return [
        _flag(
            REPEATED_WAS_NOT_BROUGHT,
            f"The child was not brought to {len(run)} health appointments "
            f"{_period(run[0].event.occurred_at, run[-1].event.occurred_at)} "
            f"(at least {rules.was_not_brought_count} within "
            f"{_days(rules.was_not_brought_within)}).",
            run,
        )
        for run in runs
    ]


def _child_not_seen_on_visit(entries: Sequence[ChronologyEntry]) -> list[PatternFlag]:
    flags = []
    for entry in entries:
        if entry.event.kind != _HOME_VISIT:
            continue
        not_seen = entry.event.details.get("child_seen") is False
        not_spoken_to = entry.event.details.get("child_spoken_to") is False
        if not_seen and not_spoken_to:
            what = "the child was neither seen nor spoken to"
        elif not_seen:
            what = "the child was not seen"
        elif not_spoken_to:
            what = "the child was seen but not spoken to"
        else:
            continue
        when = _day(entry.event.occurred_at)
        flags.append(
            _flag(CHILD_NOT_SEEN_ON_VISIT, f"Police visited the home on {when}: {what}.", [entry])
        )
    return flags


def _sudden_home_education(
    entries: Sequence[ChronologyEntry], rules: PatternRules
) -> list[PatternFlag]:
    flags = []
    for notice in entries:
        if notice.event.kind != _HOME_EDUCATION:
            continue
        at = notice.event.occurred_at
        concerns = [
            e
            for e in entries
            if e.event.kind in rules.home_education_concerns
            and at - rules.home_education_lookback <= e.event.occurred_at <= at
        ]
        consent = notice.event.details.get("la_consent_required") is True
        if not concerns and not consent:
            continue
        reasons = []
        if concerns:
            kinds = Counter(SAFEGUARDING_CONCERNS.get(e.event.kind, e.event.kind) for e in concerns)
            listed = _and([_plural(n, kind) for kind, n in sorted(kinds.items())])
            reasons.append(
                f"{_plural(len(concerns), 'safeguarding concern')} in the "
                f"{_days(rules.home_education_lookback)} before it ({listed})"
            )
        if consent:
            reasons.append("the notice says home education needs the local authority's consent")
        flags.append(
            _flag(
                SUDDEN_HOME_EDUCATION,
                f"Elective home education notice on {_day(at)}: {'; '.join(reasons)}.",
                [*concerns, notice],
            )
        )
    return flags


def _multi_agency_concerns(
    entries: Sequence[ChronologyEntry], rules: PatternRules
) -> list[PatternFlag]:
    concerns = [e for e in entries if e.event.kind not in rules.not_concerns]

    def types(window: Sequence[ChronologyEntry]) -> set[AgencyType]:
        return {e.event.agency.type for e in window}

    # How many concerns of each agency type precede each position, so that the number of
    # agency types in any window is a few subtractions.
    before: dict[AgencyType, list[int]] = {t: [0] * (len(concerns) + 1) for t in AgencyType}
    for index, entry in enumerate(concerns):
        kind = entry.event.agency.type
        for agency_type, counts in before.items():
            counts[index + 1] = counts[index] + (agency_type is kind)
    prefixes = list(before.values())

    def enough_types(start: int, end: int) -> bool:
        present = sum(1 for counts in prefixes if counts[end] > counts[start])
        return present >= rules.multi_agency_types

    runs = _maximal_windows(concerns, rules.multi_agency_within, enough_types)
    flags = []
    for run in runs:
        named = _and([_AGENCY_TYPE_NAMES[t] for t in AgencyType if t in types(run)])
        period = _period(run[0].event.occurred_at, run[-1].event.occurred_at)
        flags.append(
            _flag(
                MULTI_AGENCY_CONCERNS,
                f"Concerns from {len(types(run))} agency types ({named}) {period}: "
                f"{_plural(len(run), 'entry', 'entries')}, with at least "
                f"{rules.multi_agency_types} agency types within "
                f"{_days(rules.multi_agency_within)}.",
                run,
            )
        )
    return flags
