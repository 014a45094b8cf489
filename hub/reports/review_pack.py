"""The review pack: a practice review's replay (a Rapid Review or a local child safeguarding
practice review, which replaced serious case reviews in 2018), fixed in one document that can be
checked.

A review panel reads the record as it stood at the moments that matter, often months later and
away from the hub. So the pack puts the replay as of each date (held entries, what agencies had
recorded but not shared, latency against expectations, who was shown what, what nobody was
shown, and optionally one practitioner's view then; what the agencies had recorded beside what
the hub held, each agency's joining and backfill, and backfilled entries marked as such rather
than late, in the words of `hub.reports.replay_words`) beside the evidence that those entries are
the ones in the tamper-evident event log: a signed checkpoint of the log and, for every held
entry, an RFC 9162 inclusion proof against it. A partner checks the signature with the public
key they pinned and the proofs with any RFC 6962 implementation, without trusting the hub.

Access is the reviewer's own, decided and audited by `ReplayService` for every date; if the
reviewer may not see the record, the pack says so and holds nothing else. File names are left
to the caller, so nothing here puts personal data in one. (About 400 lines: the pack's model,
its proofs, and its HTML rendering, which the PDF is printed from, tagged for accessibility.)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import jinja2

from hub.domain.canonical_event import ChildRef
from hub.domain.markers import MARKERS, RETRACTED
from hub.integrity import IntegrityService
from hub.replay import ReplayService
from hub.reports import replay_words
from hub.reports.key_facts import details_words
from hub.reports.rendering import readable_label as label
from hub.reports.rendering import tagged_pdf, template_environment

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LOG = "events"
TITLE = "Practice review pack"
SUBTITLE = f"The record as it stood, for {replay_words.REVIEW_TERMS}"
VERIFY_NOTE = (
    "To check an entry, run the algorithm of RFC 9162 section 2.1.3.2 with its leaf hash, leaf "
    "index and proof hashes against the checkpoint's size and root: set fn = leaf index, "
    "sn = size - 1, r = leaf hash; for each proof hash p in order, if fn is odd or fn = sn, set "
    "r = SHA-256(0x01 || p || r) and then, while fn is even and not 0, halve fn and sn; "
    "otherwise set r = SHA-256(0x01 || r || p); then halve fn and sn (rounding down). The entry "
    "is in the log if sn ends at 0 and r equals the root. Any RFC 6962 implementation does "
    "this, and so does `hub verify --event REF` at the hub. Check the checkpoint's Ed25519 "
    'signature over the JSON {"log","root","signer","size","time"} (keys sorted, no spaces) '
    "with the public key you pinned, and run `hub verify --checkpoint YOUR-WITNESS-FILE` to "
    "prove that the log still extends the checkpoint you hold."
)


@dataclass
class ReviewPack:
    """Everything a review panel needs, or only the refusal when access was denied."""

    child: str
    reviewer: str
    generated_at: datetime
    as_of: list[datetime]
    outcome: str
    denied_reasons: list[str] = field(default_factory=list)
    as_practitioner: str | None = None
    replays: list[dict[str, Any]] = field(default_factory=list)  # oldest as-of date first
    checkpoint: dict[str, Any] | None = None  # the events-log checkpoint the proofs are against
    public_key: str | None = None
    proofs: list[dict[str, Any]] = field(default_factory=list)  # held as of the latest date

    @property
    def permitted(self) -> bool:
        return self.outcome in ("disclosed", "partially-disclosed")

    @property
    def agreement_versions(self) -> dict[str, str]:
        return {r["as_of"]: r["agreement_version_in_force"] for r in self.replays}

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": "hub-review-pack-v1",
            "child": self.child,
            "reviewer": self.reviewer,
            "generated_at": self.generated_at.isoformat(),
            "as_of": [moment.isoformat() for moment in self.as_of],
            "outcome": self.outcome,
            "denied_reasons": self.denied_reasons,
            "as_practitioner": self.as_practitioner,
            "agreement_versions": self.agreement_versions,
            "replays": self.replays,
            "checkpoint": self.checkpoint,
            "public_key": self.public_key,
            "inclusion_proofs": self.proofs,
        }


def build_pack(
    replay: ReplayService,
    integrity: IntegrityService,
    child: ChildRef,
    reviewer_id: str,
    as_of_dates: Sequence[datetime],
    as_practitioner: str | None = None,
) -> ReviewPack:
    """Replay the record as of each date (each an audited access), checkpoint the event log
    and prove every entry held as of the latest date against that checkpoint."""
    if not as_of_dates:
        raise ValueError("give at least one as-of date")
    dates = sorted({d if d.tzinfo else d.replace(tzinfo=UTC) for d in as_of_dates})
    pack = ReviewPack(child.identifier, reviewer_id, datetime.now(UTC), dates, "")
    pack.as_practitioner = as_practitioner
    for moment in dates:
        report = replay.replay(child, reviewer_id, moment, as_practitioner=as_practitioner)
        if not report.permitted:  # the refusal, and nothing else
            return ReviewPack(
                child.identifier,
                reviewer_id,
                pack.generated_at,
                dates,
                report.access.outcome,
                list(report.access.denied_reasons),
            )
        pack.outcome = report.access.outcome
        pack.replays.append(report.as_dict())
    pack.checkpoint, pack.public_key, pack.proofs = _prove(integrity, pack.replays[-1]["held"])
    return pack


def _prove(
    integrity: IntegrityService, held: list[dict[str, Any]]
) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """A fresh checkpoint covering every entry, and each held entry's proof against it. If
    another checkpoint lands in between (proofs are made against the latest), do it again."""
    for _ in range(3):
        witness = integrity.checkpoint()
        checkpoint = next(c for c in witness["checkpoints"] if c["log"] == LOG)
        proofs = []
        rows = [(str(UUID(entry["stream"])), int(entry["version"])) for entry in held]
        for entry, proof in zip(held, integrity.inclusions(LOG, rows), strict=True):
            proofs.append(
                {
                    "ref": entry["ref"],
                    "stream": entry["stream"],
                    "version": entry["version"],
                    "leaf_index": proof["leaf_index"],
                    "leaf_hash": proof["leaf_hash"],
                    "tree_size": proof["tree_size"],
                    "proof": proof["proof"],
                }
            )
            if proof["root"] != checkpoint["root"]:
                break
        else:
            return checkpoint, str(witness["public_key"]), proofs
    raise RuntimeError("the event log kept being checkpointed while the pack was made")


def _text(value: Any) -> str:
    """A detail value as plain text; redaction and shielding markers stay as they are."""
    if isinstance(value, dict):
        return "; ".join(f"{label(str(k))}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else str(value)


def _details(entry: dict[str, Any]) -> str:
    said = details_words(entry.get("kind") or "", entry.get("details") or {})
    return "; ".join(f"{label(k)}: {_text(v)}" for k, v in said.items())


def _markers(entry: dict[str, Any]) -> list[str]:
    """What the reader is told about fields they cannot see, and about corrections."""
    if entry.get("kind") == RETRACTED:
        return [
            f"Retracted since by {entry['agency']}: what it said is shown only to its publisher."
        ]
    notes = []
    if entry.get("status") not in (None, "current"):
        by = f" by {entry['replaced_by']}" if entry.get("replaced_by") else ""
        notes.append(f"{label(entry['status'])}{by}; kept as what was believed at the time.")
    fields = ", ".join(label(f.removeprefix("details.")) for f in entry.get("redacted") or [])
    if fields:
        notes.append(f"[redacted] under the agreement for the reviewer's role: {fields}.")
    fields = ", ".join(label(f.removeprefix("details.")) for f in entry.get("shielded") or [])
    if fields:
        notes.append(f"[shielded] by the publisher from everyone: {fields}.")
    return notes


@functools.cache  # compiled once per process, not per pack
def _environment() -> jinja2.Environment:
    env = template_environment(TEMPLATES_DIR)
    env.filters.update(text=_text, details=_details, markers=_markers)
    env.globals.update(words=replay_words, title=TITLE, subtitle=SUBTITLE)
    return env


def render_html(pack: ReviewPack) -> str:
    """A standalone HTML document (styles inline, nothing fetched), to keep or print."""
    template = _environment().get_template("review_pack.html")
    return template.render(pack=pack, verify_note=VERIFY_NOTE, markers=sorted(MARKERS))


def render_pdf(pack: ReviewPack) -> bytes:
    """The HTML pack printed to a tagged, accessible PDF (PDF/UA-1): the same document, so
    the two cannot drift apart, with its headings, lists and tables in the structure tree."""
    return tagged_pdf(render_html(pack))
