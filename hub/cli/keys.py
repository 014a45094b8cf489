"""`hub keys`: KEK rotation, crypto-shredding and retention."""

from __future__ import annotations

import argparse
from typing import Any

from hub.cli.common import EXIT_OK, child_ref, emit, open_hub


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from hub.key_rotation import rotate_kek

    hub = open_hub(args)
    try:
        report = rotate_kek(hub.keyring)
    finally:
        hub.close()
    document = {
        "new_kek": report.new_kek,
        "retired": report.retired,
        "rewrapped_data_keys": report.rewrapped,
        "seconds": round(report.seconds, 3),
    }
    emit(
        args,
        document,
        lambda: print(
            f"rewrapped {report.rewrapped:,} data keys under {report.new_kek} in "
            f"{report.seconds:.1f} s; retired {', '.join(report.retired) or 'none'}"
        ),
    )
    return EXIT_OK


def cmd_keys_shred(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        erasure = hub.erasure.erase_child(args.as_practitioner, child_ref(args.child), args.reason)
    finally:
        hub.close()
    document = {
        "erased_streams": erasure.streams,
        "reason": erasure.reason,
        "at": erasure.at.isoformat(),
    }
    emit(
        args, document, lambda: print(f"erased {len(erasure.streams)} stream(s): {erasure.reason}")
    )
    return EXIT_OK


def cmd_keys_retention(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        if args.apply:
            if not args.as_practitioner:
                raise ValueError("--apply needs --as, the data protection officer applying it")
            erased = hub.erasure.apply_retention(args.as_practitioner, args.years)
            document: dict[str, Any] = {"applied": True, "erased": [e.child_stream for e in erased]}
        else:
            due = hub.erasure.retention_due(args.years)
            document = {
                "applied": False,
                "due": [{"child": c.child_stream, "last_event": c.last_occurred_at} for c in due],
            }
    finally:
        hub.close()

    def text() -> None:
        if args.apply:
            print(f"erased {len(document['erased'])} children's records under the retention rule")
        else:
            print(f"dry run: {len(document['due'])} children's records are due for erasure")
            for row in document["due"]:
                print(f"  {row['child']}  last event {row['last_event'][:10]}")

    emit(args, document, text)
    return EXIT_OK
