"""`hub keys`: KEK rotation, crypto-shredding and retention."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from hub.cli.common import EXIT_OK, emit, open_hub, settings_from
from hub.domain.canonical_event import child_ref
from hub.domain.uk_time import uk_date
from hub.reports.rendering import day_text


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
        "clear_lines_purged": erasure.purged_lines,
    }
    emit(
        args,
        document,
        lambda: print(
            f"erased {len(erasure.streams)} stream(s): {erasure.reason}; "
            f"{erasure.purged_lines} line(s) naming the child overwritten in inbox files under "
            "the data directory"
        ),
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
                last = datetime.fromisoformat(row["last_event"])
                print(f"  {row['child']}  last event {day_text(uk_date(last))}")

    emit(args, document, text)
    return EXIT_OK


KEY_FILES = {
    "kek/current": "key-encryption key (names the current KEK file beside it)",
    "pseudonym.key": "pseudonym key (stream ids, NHS number hashes)",
    "api-token.key": "API development token key",
    "checkpoint-signing.pem": "checkpoint signing key (Ed25519)",
    "discovery-oprf.seed": "discovery key seed (VOPRF; for partner hubs)",
    "federation-encryption.pem": "federation encryption key (X25519; partner hubs encrypt to it)",
}


def cmd_keys_init(args: argparse.Namespace) -> int:
    """Create whichever of the hub's keys are missing under the keys directory; never
    overwrite one. Prints file names only, never key material."""
    from hub.adapters.discovery_oprf import SEED_FILE_NAME, DiscoveryKey
    from hub.adapters.kek import FileKekProvider
    from hub.adapters.message_encryption import KEY_FILE_NAME, MessageKey
    from hub.adapters.secrets import load_or_create_secret
    from hub.adapters.signing import CheckpointSigner

    settings = settings_from(args)
    keys = settings.keys_path
    present = {name for name in KEY_FILES if (keys / name).exists()}
    if not settings.kek:
        FileKekProvider(keys / "kek")
    if not settings.pseudonym_key:
        load_or_create_secret(keys / "pseudonym.key", name="pseudonym key")
    load_or_create_secret(keys / "api-token.key", name="API token key")
    CheckpointSigner.from_file(keys / "checkpoint-signing.pem")
    DiscoveryKey.from_file(keys / SEED_FILE_NAME)
    MessageKey.from_file(keys / KEY_FILE_NAME)
    kek_id = (keys / "kek" / "current").read_text().strip() if not settings.kek else "HUB_KEK"
    document = {
        "keys_dir": str(keys),
        "created": sorted(n for n in KEY_FILES if (keys / n).exists() and n not in present),
        "already_present": sorted(present),
        "current_kek": kek_id,
    }

    def text() -> None:
        for name, description in KEY_FILES.items():
            state = "already present" if name in present else "created"
            if (name == "kek/current" and settings.kek) or (
                name == "pseudonym.key" and settings.pseudonym_key
            ):
                state = "from the environment"
            print(f"{state:<20} {keys / name}  ({description})")
        print(f"current KEK: {kek_id}")

    emit(args, document, text)
    return EXIT_OK
