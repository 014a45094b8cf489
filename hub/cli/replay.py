"""`hub replay` (practice reviews: Rapid Reviews, local child safeguarding practice reviews) and
`hub projection rebuild`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from hub.cli.common import EXIT_DENIED, EXIT_OK, emit, open_hub
from hub.domain.canonical_event import child_ref
from hub.domain.uk_time import parse_as_of
from hub.read_models.chronology_snapshot import Progress
from hub.reports.chronology_text import terminal_width
from hub.reports.replay_words import replay_text


def as_of_argument(text: str) -> datetime:
    try:
        return parse_as_of(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_replay(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        child = child_ref(args.child)
        as_of = args.as_of
        if args.format in ("json", "html", "pdf"):
            from hub.reports.review_pack import build_pack, render_html, render_pdf

            pack = build_pack(
                hub.replay, hub.integrity, child, args.by, [as_of], args.as_practitioner
            )
            if args.format == "pdf":
                content = render_pdf(pack)
            elif args.format == "html":
                content = render_html(pack).encode()
            else:
                content = json.dumps(pack.as_dict(), indent=2, default=str).encode()
            if args.out:
                Path(args.out).write_bytes(content)
                print(f"review pack written to {args.out}", file=sys.stderr)
            else:
                sys.stdout.buffer.write(content + (b"\n" if args.format == "json" else b""))
            return EXIT_OK if pack.permitted else EXIT_DENIED
        report = hub.replay.replay(child, args.by, as_of, as_practitioner=args.as_practitioner)
    finally:
        hub.close()

    def text() -> None:
        print(replay_text(report.as_dict(), terminal_width()))

    emit(args, report.as_dict(), text)
    return EXIT_OK if report.permitted else EXIT_DENIED


def cmd_projection_rebuild(args: argparse.Namespace) -> int:
    hub = open_hub(args)

    def progress(p: Progress) -> None:
        print(
            f"rebuilt {p.processed:,} entries (about {p.done:.0%} done), "
            f"{p.rate_per_s:,.0f} entries/s",
            file=sys.stderr,
        )

    try:
        started = datetime.now()
        folded = hub.projection.rebuild(progress)
        seconds = (datetime.now() - started).total_seconds()
    finally:
        hub.close()
    rate = folded / seconds if seconds else 0.0
    emit(
        args,
        {"entries": folded, "seconds": round(seconds, 2), "entries_per_s": round(rate)},
        lambda: print(f"rebuilt the chronology projection: {folded:,} entries in {seconds:.1f} s"),
    )
    return EXIT_OK
