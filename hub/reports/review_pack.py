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
its proofs, and its HTML and PDF renderings of the same sections.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import jinja2
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hub.domain.canonical_event import ChildRef
from hub.domain.markers import MARKERS, RETRACTED
from hub.integrity import IntegrityService
from hub.replay import ReplayService
from hub.reports import replay_words
from hub.reports.rendering import kind_text, latin1, template_environment
from hub.reports.rendering import readable_label as label
from hub.reports.rendering import when_text as when

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
    return "; ".join(f"{label(k)}: {_text(v)}" for k, v in (entry.get("details") or {}).items())


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


def _environment() -> jinja2.Environment:
    env = template_environment(TEMPLATES_DIR)
    env.filters.update(text=_text, details=_details, markers=_markers)
    env.globals.update(words=replay_words, title=TITLE, subtitle=SUBTITLE)
    return env


def render_html(pack: ReviewPack) -> str:
    """A standalone HTML document (styles inline, nothing fetched), to keep or print."""
    template = _environment().get_template("review_pack.html")
    return template.render(pack=pack, verify_note=VERIFY_NOTE, markers=sorted(MARKERS))


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"{TITLE} - page {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str, level: int = 1) -> None:
        self.ln(4 if level == 1 else 2)
        self.para(text, style="B", size={1: 15, 2: 12}.get(level, 10.5))

    def para(
        self, text: Any, *, style: str = "", size: float = 9.5, font: str = "Helvetica"
    ) -> None:
        self.set_font(font, style, size)
        self.multi_cell(self.epw, size * 0.5, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def facts(self, rows: Sequence[tuple[str, Any]]) -> None:
        for key, value in rows:
            self.para(f"{key}: {_text(value) or '-'}")

    def hashes(self, heading: str, values: Sequence[str]) -> None:
        """Hex strings in a fixed-width font, cut into 64-character lines so none overflows."""
        self.para(heading, style="B", size=8.5)
        for value in values:
            for start in range(0, max(len(value), 1), 64):
                self.para(value[start : start + 64], size=8, font="Courier")


def render_pdf(pack: ReviewPack) -> bytes:
    """The same sections as the HTML pack, in a plain layout of text lines."""
    pdf = _Pdf(format="A4")
    pdf.set_title(TITLE)
    pdf.set_creator("safeguarding hub")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.heading(TITLE)
    pdf.para(SUBTITLE, style="I")
    pdf.facts(
        [
            ("Child", pack.child),
            ("Reviewer", pack.reviewer),
            ("Generated", when(pack.generated_at)),
            ("As of", "; ".join(when(m) for m in pack.as_of)),
            ("Outcome of the reviewer's access", label(pack.outcome)),
        ]
    )
    if not pack.permitted:
        pdf.heading("Access denied", 2)
        for reason in pack.denied_reasons:
            pdf.para(f"- {reason}")
        pdf.para("This refusal is recorded in the audit ledger; the pack holds nothing else.")
        return bytes(pdf.output())
    for moment, version in pack.agreement_versions.items():
        pdf.para(f"Agreement in force on {when(moment)}: {version}")
    for replay in pack.replays:
        _pdf_replay(pdf, replay)
    _pdf_appendix(pdf, pack)
    return bytes(pdf.output())


def _pdf_entry(pdf: _Pdf, entry: dict[str, Any]) -> None:
    pdf.para(
        f"{when(entry['occurred_at'])} - {entry['agency']} ({label(entry['agency_type'])})"
        f" - {kind_text(entry['kind'])}",
        style="B",
    )
    backfilled = " (backfilled)" if entry.get("backfilled") else ""
    pdf.para(
        f"Recorded {when(entry['recorded_at'])}; received by the hub "
        f"{when(entry['received_at'])}{backfilled}; "
        f"status {label(entry.get('status'))}; ref {entry['ref']}",
        size=8.5,
    )
    pdf.para(f"Summary: {entry['summary']}")
    if entry.get("details"):
        pdf.para(f"Details: {_details(entry)}", size=8.5)
    for note in _markers(entry):
        pdf.para(note, style="I", size=8.5)
    pdf.ln(1)


def _shared(row: dict[str, Any]) -> str:
    if row.get("backfilled"):
        return replay_words.sharing_text(row)
    return f"shared {replay_words.sharing_text(row)} after recording"


def _pdf_replay(pdf: _Pdf, replay: dict[str, Any]) -> None:
    pdf.add_page()
    pdf.heading(f"As of {when(replay['as_of'])}")
    pdf.facts(
        [
            ("Agreement in force then", replay["agreement_version_in_force"]),
            ("Reviewer's access (audited)", replay["audit_ref"]),
        ]
    )
    pdf.heading("Recorded by the agencies, held by the hub", 2)
    pdf.para(replay_words.recorded_and_held(replay))
    for row in replay["agencies"]:
        pdf.para(
            f"{row['name']} ({row['agency']}): {row['recorded']} recorded, {row['held']} held "
            "by the hub. "
            f"{replay_words.agency_sentence(row, replay['as_of'])}"
        )
    pdf.heading(f"Chronology held by the hub ({len(replay['held'])} entries)", 2)
    for entry in replay["held"]:
        _pdf_entry(pdf, entry)
    if not replay["held"]:
        pdf.para("The hub held nothing about this child that the reviewer may see.")
    waiting = replay["known_not_shared"]
    pdf.heading(f"Recorded by the agencies but not yet held by the hub ({len(waiting)})", 2)
    for entry in waiting:
        pdf.para(
            f"{entry['ref']} ({kind_text(entry['kind'])}): recorded "
            f"{when(entry['recorded_at'])}; {replay_words.not_held_text(entry)}"
        )
    pdf.heading("Disclosures by then", 2)
    if not replay["disclosures"]:
        pdf.para("Nobody had been shown anything.")
    for row in replay["disclosures"]:
        glass = f"; break-glass: {row['break_glass_reason']}" if row["break_glass_reason"] else ""
        pdf.para(
            f"{when(row['at'])}: {row['practitioner']} ({label(row['role'])}, "
            f"{row['organisation']}), {label(row['purpose'])}, {label(row['outcome'])}, "
            f"{len(row['shown'])} items: {', '.join(row['shown'])}{glass}"
        )
    pdf.heading("Sharing latency", 2)
    for row in replay["latency"]:
        flag = "BACKFILLED - " if row.get("backfilled") else "LATE - " if row["late"] else ""
        pdf.para(
            f"{flag}{row['ref']}: occurred {when(row['occurred_at'])}, recorded after "
            f"{row['recording_text']}, {_shared(row)} (expected {row['expectation']})"
        )
    for agency, summary in replay["latency_by_agency"].items():
        pdf.para(f"{agency}: {replay_words.agency_figures(summary)}", style="B")
    pdf.heading("Held but never shown to anyone", 2)
    pdf.para(", ".join(replay["never_shown"]) or "Every held entry had been shown to someone.")
    then = replay.get("as_practitioner")
    if then:
        who = then["practitioner"]
        pdf.heading(f"What {who['id']} ({label(who['role'])}) would have been shown", 2)
        pdf.facts(
            [
                ("Outcome", label(then["outcome"])),
                ("Purpose", label(then["purpose"])),
                ("Relationship", then["relationship"] or "none"),
                ("Agreement", then["agreement_version"]),
            ]
        )
        for reason in then["denied_reasons"]:
            pdf.para(f"- {reason}")
        for entry in then["entries"]:
            _pdf_entry(pdf, entry)


def _pdf_appendix(pdf: _Pdf, pack: ReviewPack) -> None:
    assert pack.checkpoint is not None
    assert pack.public_key is not None
    pdf.add_page()
    pdf.heading("Appendix: checking this pack")
    cp = pack.checkpoint
    pdf.facts([("Log", cp["log"]), ("Size", cp["size"]), ("Time", when(cp["time"]))])
    pdf.facts([("Time as signed", cp["time"])])
    pdf.facts([("Signer", cp["signer"])])
    pdf.hashes("Root", [cp["root"]])
    pdf.hashes("Signature", [cp["signature"]])
    pdf.hashes("Public key", [pack.public_key])
    pdf.para(VERIFY_NOTE, size=8.5)
    for proof in pack.proofs:
        pdf.heading(proof["ref"], 3)
        pdf.para(f"Leaf index {proof['leaf_index']} of {proof['tree_size']}", size=8.5)
        pdf.hashes("Leaf hash", [proof["leaf_hash"]])
        pdf.hashes("Proof hashes, in order", proof["proof"])
