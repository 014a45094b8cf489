"""An inbox item in plain English (`consumers.inbox.listing.ShownItem.as_dict()`), for the
page, the CLI and anything else a person reads: what arrived and from whom, the pattern in
the flag's own words, or who looked at the child, from where and why, in UK time."""

from __future__ import annotations

from typing import Any

from hub.reports.rendering import kind_text, readable_label, when_text

NO_LONGER_SHARED = "This item is no longer shared with you (withheld or removed since)."
TYPE_NAMES = {
    "change": "New record",
    "pattern": "Pattern to look at",
    "access": "Someone looked at this child's record",
    "correction": "A record you saw was withdrawn or corrected",
    "transfer": "Records arrived from another partnership",
}
# Working Together to Safeguard Children 2023: a child on a plan who moves in is the receiving
# local authority's to confer on (a transfer-in child protection conference).
TRANSFER_IN_PLAN = (
    "A child protection plan was open where the child lived before: the local authority here "
    "holds a transfer-in child protection conference (Working Together to Safeguard Children "
    "2023: within 15 working days of being told of the move)."
)


def item_title(item: dict[str, Any]) -> str:
    """One line saying what the item is about, never a record's content."""
    if not item["shared"]:
        return NO_LONGER_SHARED
    if item["type"] == "pattern" and item.get("flag"):
        return str(item["flag"]["description"])
    if item["type"] == "access" and item.get("access"):
        return access_sentence(item["access"])
    what = item.get("what") or []
    if item["type"] == "correction":
        return correction_sentence(what)
    if item["type"] == "transfer" and item.get("transfer"):
        return transfer_sentence(item["transfer"], what)
    if len(what) == 1:
        return f"New from {what[0]['agency_name']}: {kind_text(what[0]['kind'])}"
    agencies = sorted({w["agency_name"] for w in what})
    return f"{len(what)} new records from {_and(agencies)}"


def item_lines(item: dict[str, Any]) -> list[str]:
    """The records a change item names, one per line (kind and agency); for records arrived
    from another partnership, whom to ask there and, for a child on a plan, what is due."""
    if not item["shared"]:
        return []
    if item["type"] == "transfer" and item.get("transfer"):
        lines = [f"Contact there: {item['transfer']['contact']}."]
        kinds = {w["kind"] for w in item.get("what") or []}
        if "la.cp-plan-started" in kinds and "la.cp-plan-ended" not in kinds:
            lines.append(TRANSFER_IN_PLAN)
        return lines
    if item["type"] != "change" or len(item.get("what") or []) < 2:
        return []
    return [f"{kind_text(w['kind'])} ({w['agency_name']})" for w in item["what"]]


def transfer_sentence(transfer: dict[str, Any], what: list[dict[str, Any]]) -> str:
    """Records about a child received from another partnership's hub (the child moved into
    this area), in words: how many shared with the reader, from which partnership, when."""
    count = f"{len(what)} {'record' if len(what) == 1 else 'records'}"
    return (
        f"{count} about this child arrived from {transfer['partnership']}'s hub on "
        f"{when_text(transfer['received_at'])}: the child has moved into this area."
    )


def correction_sentence(what: list[dict[str, Any]]) -> str:
    """Records a practitioner saw, received from another partnership, that its hub withdrew
    (a retraction, or another child's) or replaced with a corrected revision."""
    withdrawn = sum(1 for w in what if w["kind"] == "record.retracted")
    corrected = len(what) - withdrawn
    counts = [
        f"{n} {'record' if n == 1 else 'records'} {done}"
        for n, done in ((withdrawn, "withdrawn"), (corrected, "corrected"))
        if n
    ]
    return (
        f"Another partnership's hub changed what you saw: {_and(counts)} "
        "(open the record to see which)."
    )


def access_sentence(looked: dict[str, Any]) -> str:
    role = readable_label(looked.get("role") or "").lower()
    purposes = _and([readable_label(p).lower() for p in looked.get("purposes") or []])
    purposes = purposes or "no stated purpose"
    times = looked.get("times", 1)
    when = when_text(looked.get("last_at") or looked.get("first_at"))
    how_often = "once" if times == 1 else f"{times} times"
    sentence = (
        f"{looked.get('viewer_name') or looked['viewer']} ({role}, "
        f"{looked.get('organisation_name') or looked['organisation']}) looked at this child's "
        f"record for {purposes}, {how_often}, last at {when}"
    )
    if looked.get("break_glass"):
        sentence += ", using emergency access (break-glass)"
    return sentence + "."


def _and(words: list[str]) -> str:
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
