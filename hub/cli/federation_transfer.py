"""`hub federation transfer --child NHS [--to PARTNER] [--move REF]`: offer a partner hub the
record of a child who moved to an area it covers (docs/federation.md, "Transfer: sending")."""

from __future__ import annotations

import argparse
import sys

from hub.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit, open_hub
from hub.domain.canonical_event import child_ref
from hub.federation_transfer import TransferRefusedError


def cmd_federation_transfer(args: argparse.Namespace) -> int:
    try:
        child = child_ref(args.child)
    except ValueError as error:
        print(f"--child: {error}", file=sys.stderr)
        return EXIT_USAGE
    hub = open_hub(args)
    try:
        try:
            receipt = hub.federation_transfer.offer(child, args.to, move_ref=args.move)
        except TransferRefusedError as error:
            print(f"Not sent: {error}", file=sys.stderr)
            return EXIT_FAILED
    finally:
        hub.close()

    def text() -> None:
        messages = len(receipt.messages)
        print(
            f"Sent {receipt.events} records to {receipt.partner_name} in {messages} "
            f"message{'s' if messages != 1 else ''}, under inter-partnership agreement "
            f"{receipt.agreement_version} (transfer {receipt.transfer_id})."
        )
        print(f"Why: {receipt.reason}.")
        for reason, count in sorted(receipt.left_out.items()):
            print(f"Not sent: {count} record{'s' if count != 1 else ''} {reason}.")
        print(f"Audited as {receipt.audit_ref}.")

    emit(args, receipt.as_dict(), text)
    return EXIT_OK


def add_transfer_command(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    parents: list[argparse.ArgumentParser],
) -> None:
    transfer = commands.add_parser(
        "transfer",
        parents=parents,
        help="offer a partner hub the record of a child who moved to its area",
    )
    transfer.add_argument("--child", required=True, help="the child's NHS number")
    transfer.add_argument(
        "--to", default=None, help="the partner hub id (checked against the move's authority)"
    )
    transfer.add_argument(
        "--move", default=None, help="the move's reference (default: the latest move)"
    )
    transfer.set_defaults(handler=cmd_federation_transfer)
