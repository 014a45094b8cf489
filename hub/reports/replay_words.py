"""The words a replay is read in, the same on the page, in the review pack (HTML and PDF) and on
the command line: what the agencies had recorded by the moment beside what the hub held, when
each agency joined the hub and whether its history arrived in a backfill, and how long each
entry took to be shared, in hours or working days (`hub.domain.latency`), with backfilled
entries marked as such rather than late. Times are UK time with the zone, dates as people in
England write them."""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any

from hub.domain.uk_time import UK, uk_date
from hub.reports.rendering import day_text, kind_text, readable_label, when_text

REVIEW_TERMS = "a Rapid Review or a local child safeguarding practice review"


def _moment(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _uk_day(value: datetime | str) -> str:
    return day_text(uk_date(_moment(value)))


def _plural_items(count: int) -> str:
    return f"{count:,} item{'' if count == 1 else 's'}"


def _entries(count: int) -> str:
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def recorded_and_held(report: dict[str, Any]) -> str:
    """`By 7 Mar 2024, 08:30 GMT the agencies had recorded 12 entries about this child; the hub
    held 3 of them.` (a replay's `as_dict()`)."""
    as_of, recorded = when_text(report["as_of"]), report["recorded_by_agencies"]
    held = report["held_by_hub"]
    text = (
        f"By {as_of} the agencies had recorded {_entries(recorded)} about this child; "
        f"the hub held {held:,} of {'it' if recorded == 1 else 'them'}."
    )
    if recorded and not held:
        waiting = report["known_not_shared"]
        if waiting and all(e.get("backfilled") for e in waiting):
            text += (
                " The hub held nothing about this child then: the agencies' records of that "
                "time reached it only later, in a backfill when each agency joined the hub."
            )
        else:
            text += " The hub held nothing about this child then."
    return text


def agency_sentence(row: dict[str, Any], as_of: datetime | str) -> str:
    """One agency's joining and backfill, as of the replay's moment (a row of `agencies`)."""
    agency, joined = row.get("name") or row["agency"], row["joined_hub_at"]
    if joined is None:
        return (
            f"{agency} is not in the hub's agency register, so when it joined the hub is not "
            "known and none of its entries is treated as backfilled."
        )
    joined_on = _uk_day(joined)
    if not row["backfilled"]:
        if not row["joined_by_as_of"]:
            return f"{agency} joined the hub on {joined_on}, after this moment."
        return f"{agency} has shared through the hub since it joined on {joined_on}."
    first, last = _uk_day(row["backfill_from"]), _uk_day(row["backfill_to"])
    arrived = f"on {first}" if first == last else f"between {first} and {last}"
    text = (
        f"{agency} joined the hub on {joined_on}. The {_entries(row['backfilled'])} about this "
        f"child that it had recorded before then reached the hub in a backfill {arrived}: "
        f"{'it is' if row['backfilled'] == 1 else 'they are'} marked backfilled, not late."
    )
    if not row["backfill_held_by_as_of"]:
        moment = _moment(as_of)
        started = _moment(row["backfill_from"]) <= moment
        text += (
            f" As of {when_text(moment)} "
            f"{'only part of that backfill had' if started else 'that backfill had not yet'} "
            "arrived."
        )
    return text


def sharing_text(row: dict[str, Any]) -> str:
    """How long an entry took to reach the hub (a row of `latency`): `3 hours`,
    `2 working days (4 calendar days)`, or `backfilled on 6 December 2026`."""
    if row.get("backfilled"):
        return f"backfilled on {_uk_day(row['received_at'])}"
    return str(row["sharing_text"])


def lateness_text(row: dict[str, Any]) -> str:
    """`Late`, `On time`, or `Backfilled (not late)`."""
    if row.get("backfilled"):
        return "Backfilled (not late)"
    return "Late" if row["late"] else "On time"


def not_held_text(entry: dict[str, Any]) -> str:
    """Why an entry recorded by the moment was not yet held by the hub."""
    received = when_text(entry["received_at"])
    if entry.get("backfilled"):
        return (
            f"recorded before {entry['agency']} joined the hub; it arrived in the backfill "
            f"on {received}"
        )
    return f"not yet shared; it reached the hub on {received}"


def agency_figures(summary: dict[str, Any]) -> str:
    """A row of `latency_by_agency` in words."""
    parts = [_entries(int(summary["events"]))]
    if summary["backfilled"]:
        parts.append(f"{summary['backfilled']:,} backfilled")
    if summary["shared_through_hub"]:
        parts += [
            f"typically shared in {summary['median_sharing_text']}",
            f"longest {summary['longest_sharing_text']}",
            f"{summary['late']:,} late",
        ]
    else:
        parts.append("none shared through the hub yet")
    return ", ".join(parts)


def _on(value: datetime | str) -> str:
    """`3 December 2026 at 10:15 GMT`: a moment in England, with the zone."""
    moment = _moment(value).astimezone(UK)
    return f"{day_text(moment.date())} at {moment:%H:%M %Z}"


def _role(role: str) -> str:
    return readable_label(role).lower()


def sent_sentence(row: dict[str, Any]) -> str:
    """A transfer this hub sent (a row of `crossed_the_boundary.sent`): `Sent to Wessex
    Safeguarding Children Partnership on 3 December 2026 at 10:15 GMT: 12 entries, because the
    family moved to Westvale Borough Council's area (inter-partnership agreement
    shire-wessex-2026.1)`."""
    reason = row["reason"]
    because = reason if reason.startswith("for ") else f"because {reason}"
    agreement = (
        f" (inter-partnership agreement {row['agreement_version']})"
        if row.get("agreement_version")
        else ""
    )
    return (
        f"Sent to {row['partnership']} on {_on(row['at'])}: {_entries(row['entries'])}, "
        f"{because}{agreement}"
    )


def seen_text(person: dict[str, Any]) -> str:
    """`Sam Patel (social worker) on 4 December 2026 at 09:02 GMT`, and how often after."""
    text = f"{person['name']} ({_role(person['role'])}) on {_on(person['first_seen_at'])}"
    more = int(person["times"]) - 1
    if more:
        text += f" and {more} more time{'' if more == 1 else 's'}"
    return text


def received_sentence(row: dict[str, Any]) -> str:
    """A transfer this hub received (a row of `crossed_the_boundary.received`): `Received from
    Shire Safeguarding Children Partnership on 4 December 2026 at 08:40 GMT: 12 entries
    (inter-partnership agreement shire-wessex-2026.1); seen by Sam Patel (social worker) on
    4 December 2026 at 09:02 GMT`, or `; not shown to anyone here by then`."""
    agreement = (
        f" (inter-partnership agreement {row['agreement_version']})"
        if row.get("agreement_version")
        else ""
    )
    seen = row.get("seen_by") or []
    who = (
        "seen by " + "; ".join(seen_text(person) for person in seen)
        if seen
        else "not shown to anyone at this hub by then"
    )
    return (
        f"Received from {row['partnership']} on {_on(row['at'])}: "
        f"{_entries(row['entries'])}{agreement}; {who}"
    )


def _agreement(row: dict[str, Any]) -> str:
    version = row.get("agreement_version")
    return f" (inter-partnership agreement {version})" if version else ""


def _in_place(corrected: list[dict[str, str]]) -> str:
    return ", ".join(f"{c['by']} in place of {c['ref']}" for c in corrected)


def _changes(row: dict[str, Any]) -> str:
    """`withdrew x/A@1; sent x/C@2 in place of x/C@1` (a correction's row, either way)."""
    changes = []
    if row["withdrawn"]:
        changes.append("withdrew " + ", ".join(row["withdrawn"]))
    if row["corrected"]:
        changes.append("sent " + _in_place(row["corrected"]))
    return "; ".join(changes)


def correction_sent_sentence(row: dict[str, Any]) -> str:
    """A correction of what this hub sent (a row of `crossed_the_boundary.corrections_sent`):
    a correction told to the partner (audited before it was sent), `Told Wessex Safeguarding
    Children Partnership on 5 December 2026 at 11:00 GMT, by correction c-1 of transfer t-1
    (inter-partnership agreement shire-wessex-2026.1): withdrew x/A@1; sent x/C@2 in place of
    x/C@1`; a corrected revision released to the partner that no correction names (recorded
    before corrections were audited), `Sent Wessex Safeguarding Children Partnership a
    corrected revision on ...: x/C@2 in place of x/C@1 (...)`; or an entry sent that was
    withdrawn here since, with no correction telling the partner recorded by then."""
    partnership = row["partnership"]
    if row.get("correction_id"):
        transfers = ", ".join(row.get("transfer_ids") or [])
        of = f" of transfer{'' if len(row.get('transfer_ids') or []) == 1 else 's'} {transfers}"
        return (
            f"Told {partnership} on {_on(row['at'])}, by correction {row['correction_id']}"
            f"{of if transfers else ''}{_agreement(row)}: {_changes(row)}"
        )
    if row.get("audited"):
        revisions = "a corrected revision" if len(row["corrected"]) == 1 else "corrected revisions"
        return (
            f"Sent {partnership} {revisions} on {_on(row['at'])}: "
            f"{_in_place(row['corrected'])}{_agreement(row)}"
        )
    how = "retracted"
    if row.get("how") == "superseded":
        how = f"superseded by {row['by']}" if row.get("by") else "superseded"
        how += ", not sent to them by then"
    (ref,) = row["withdrawn"]
    return (
        f"Withdrawn here on {_on(row['at'])} ({how}): {ref}, sent to {partnership} on "
        f"{_on(row['sent_at'])}{_agreement(row)}; no correction telling them is recorded "
        "by then"
    )


def correction_received_sentence(row: dict[str, Any]) -> str:
    """A partner's correction received (a row of `crossed_the_boundary.corrections_received`):
    `Correction received from Shire Safeguarding Children Partnership on 5 December 2026 at
    11:02 GMT (inter-partnership agreement shire-wessex-2026.1): withdrew shire:x/A@1; sent
    shire:x/C@2 in place of shire:x/C@1; shown here before by Sam Patel (social worker) on ...`,
    or `; not shown to anyone at this hub before`."""
    seen = row.get("seen_by") or []
    who = (
        "shown here before by " + "; ".join(seen_text(person) for person in seen)
        if seen
        else "not shown to anyone at this hub before"
    )
    return (
        f"Correction received from {row['partnership']} on {_on(row['at'])}{_agreement(row)}: "
        f"{_changes(row) or 'nothing this hub held'}; {who}"
    )


def boundary_summary(report: dict[str, Any]) -> str:
    """Whether anything crossed the boundary with another partnership by the moment."""
    crossed = report.get("crossed_the_boundary") or {}
    sent, received = crossed.get("sent") or [], crossed.get("received") or []
    corrected = crossed.get("corrections_sent") or []
    correcting = crossed.get("corrections_received") or []
    if not sent and not received and not corrected and not correcting:
        return (
            f"By {when_text(report['as_of'])} nothing about this child had crossed the "
            "boundary with another partnership: no transfer sent or received."
        )
    text = (
        f"By {when_text(report['as_of'])} this hub had sent "
        f"{len(sent)} transfer{'' if len(sent) == 1 else 's'} about this child to other "
        f"partnerships and received {len(received)} from them."
    )
    if corrected or correcting:
        text += (
            f" Corrections: {len(corrected)} of what was sent (corrections told to partner "
            "hubs, and entries sent that were withdrawn here since) and "
            f"{len(correcting)} received."
        )
    return text


def _wrap(text: str, width: int, indent: str = "", hanging: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=hanging or indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _entry_line(entry: dict[str, Any]) -> str:
    marks = [] if entry.get("status") in (None, "current") else [readable_label(entry["status"])]
    marks += ["backfilled"] if entry.get("backfilled") else []
    mark = f" [{'; '.join(marks)}]" if marks else ""
    return (
        f"{when_text(entry['occurred_at'])}  {entry['agency']}  {kind_text(entry['kind'])}: "
        f"{entry.get('summary') or '(no summary shared)'}{mark}"
    )


def replay_text(report: dict[str, Any], width: int = 100) -> str:
    """A replay (`ReplayReport.as_dict()`) for a terminal, every line within `width` but for a
    single word longer than that: times in UK time with the zone, kinds in plain words."""
    lines = [
        f"Replay as of {when_text(report['as_of'])}, for {REVIEW_TERMS} "
        f"({report['agreement_version_in_force']} in force then)"
    ]
    lines = _wrap(lines[0], width)
    if report["outcome"] not in ("disclosed", "partially-disclosed"):
        lines += _wrap(f"outcome: {readable_label(report['outcome'])}", width)
        for reason in report["denied_reasons"]:
            lines += _wrap(f"denied: {reason}", width, "  ", "    ")
        return "\n".join(lines)
    lines += _wrap(recorded_and_held(report), width)
    for row in report["agencies"]:
        text = (
            f"{row.get('name') or row['agency']}: {row['recorded']:,} recorded, "
            f"{row['held']:,} held by the hub. "
            f"{agency_sentence(row, report['as_of'])}"
        )
        lines += _wrap(text, width, "  ", "    ")
    counts = (
        f"held by the hub: {report['held_by_hub']}; recorded but not yet held: "
        f"{len(report['known_not_shared'])}; never shown to anyone: {len(report['never_shown'])}"
    )
    lines += _wrap(counts, width, "", "  ")
    for entry in report["held"]:
        lines += _wrap(_entry_line(entry), width, "  ", "      ")
    if report["known_not_shared"]:
        lines += _wrap("recorded by the agencies by then but not yet held by the hub:", width)
    for entry in report["known_not_shared"]:
        text = (
            f"{when_text(entry['recorded_at'])}  {entry['agency']}  {kind_text(entry['kind'])}: "
            f"{not_held_text(entry)}"
        )
        lines += _wrap(text, width, "  ", "      ")
    if report["latency_by_agency"]:
        lines += _wrap("sharing latency by agency:", width)
    for agency, summary in report["latency_by_agency"].items():
        lines += _wrap(f"{agency}: {agency_figures(summary)}", width, "  ", "    ")
    late = [row for row in report["latency"] if row["late"]]
    for row in late:
        text = (
            f"late: {row['ref']} ({kind_text(row['kind'])}) reached the hub "
            f"{sharing_text(row)} after recording; expected {row['expectation']}"
        )
        lines += _wrap(text, width, "  ", "    ")
    if report["disclosures"]:
        lines += _wrap("shown to practitioners by then:", width)
    for row in report["disclosures"]:
        text = (
            f"{when_text(row['at'])}  {row['practitioner']} ({readable_label(row['role'])}, "
            f"{row['organisation']}): {_plural_items(len(row['shown']))}"
        )
        lines += _wrap(text, width, "  ", "    ")
    lines += _wrap("crossed the boundary with other partnerships:", width)
    lines += _wrap(boundary_summary(report), width, "  ", "    ")
    crossed = report.get("crossed_the_boundary") or {}
    for row in crossed.get("sent") or []:
        lines += _wrap(sent_sentence(row), width, "  ", "    ")
    for row in crossed.get("received") or []:
        lines += _wrap(received_sentence(row), width, "  ", "    ")
    for row in crossed.get("corrections_sent") or []:
        lines += _wrap(correction_sent_sentence(row), width, "  ", "    ")
    for row in crossed.get("corrections_received") or []:
        lines += _wrap(correction_received_sentence(row), width, "  ", "    ")
    return "\n".join(lines)
