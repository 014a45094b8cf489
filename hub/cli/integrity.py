"""`hub checkpoint` and `hub verify`: tamper evidence for the event log and audit ledger."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.cli.common import EXIT_OK, emit, open_hub

EXIT_TAMPERED = 5


def cmd_checkpoint(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        witness = hub.integrity.checkpoint()
        out = (
            Path(args.out)
            if args.out
            else (
                hub.settings.data_dir / "checkpoints" / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}.json"
            )
        )
    finally:
        hub.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(witness, indent=2) + "\n")
    document = {"witness_file": str(out), **witness}

    def text() -> None:
        for c in witness["checkpoints"]:
            print(f"{c['log']:<7} size {c['size']:>10,}  root {c['root']}")
        print(f"signed by {witness['signer']}; witness file for partners: {out}")

    emit(args, document, text)
    return EXIT_OK


def _resolve(hub: Any, reference: str) -> tuple[str, str, int]:
    """`agency/event_id@revision` for an event, or `audit:<stream>@<version>` for an entry."""
    if reference.startswith("audit:"):
        stream, _, version = reference[len("audit:") :].partition("@")
        return "audit", stream, int(version)
    from hub.domain.records import IngestKeyClaimed

    agency, _, rest = reference.partition("/")
    event_id, _, revision = rest.rpartition("@")
    if not (agency and event_id and revision.isdigit()):
        raise ValueError("an event reference is agency/event_id@revision, e.g. shire-icb/WNB-1@1")
    key = hub.pseudonyms.ingest_key(f"{agency}\x1f{event_id}\x1f{revision}")
    claim = hub.store.first_records([key]).get(key)
    if not isinstance(claim, IngestKeyClaimed):
        raise LookupError(f"no event {reference} is recorded")
    from uuid import UUID

    return "events", str(UUID(claim.child_stream)), claim.child_version


def cmd_verify(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        if args.event:
            log, stream, version = _resolve(hub, args.event)
            proof = hub.integrity.inclusion(log, stream, version)
            verdict = "VERIFIES" if proof["verified"] else "DOES NOT VERIFY"
            emit(
                args,
                proof,
                lambda: print(
                    f"{args.event}: leaf {proof['leaf_index']} of {proof['tree_size']:,} in the "
                    f"{log} log; inclusion proof of {len(proof['proof'])} hashes {verdict} "
                    f"against root {proof['root']}"
                ),
            )
            return EXIT_OK if proof["verified"] else EXIT_TAMPERED
        witness = json.loads(Path(args.checkpoint).read_text()) if args.checkpoint else None
        report = hub.integrity.verify(witness)
    finally:
        hub.close()
    document = {
        "ok": report.ok,
        "logs": [vars(r) for r in report.logs],
        "findings": [vars(f) for f in report.findings],
    }

    def text() -> None:
        for r in report.logs:
            witness_note = ""
            if r.consistent_with_witness is not None:
                agrees = "yes" if r.consistent_with_witness else "NO"
                witness_note = f"; consistent with the witness checkpoint: {agrees}"
            print(
                f"{r.log:<7} checkpoint size {r.checkpoint_size:,}, {r.rows:,} rows, "
                f"{r.pending:,} since the checkpoint{witness_note}"
            )
        for f in report.findings:
            print(f"TAMPERED {f.log}: {f.kind}: {f.detail}")
        print("verified" if report.ok else f"{len(report.findings)} problem(s) found")

    emit(args, document, text)
    return EXIT_OK if report.ok else EXIT_TAMPERED
