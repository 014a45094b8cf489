"""`hub federation identity` and `hub federation partners`: this hub's identity toward partner
hubs (what a partnership gives another when they join) and the partner register in force;
`hub federation receive`: read what partner hubs sent (transfers and corrections);
`hub federation answer`: deal with partners' questions and holdings. Both run until stopped
(SIGTERM or Ctrl-C, after the batch in hand) or, with --once, until idle; --metrics-port
serves /metrics, /healthz and /readyz as the other long-running commands do."""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.cli.common import EXIT_DENIED, EXIT_OK, EXIT_USAGE, emit, open_hub
from hub.disclosure_gate import UnknownPractitionerError
from hub.domain.canonical_event import child_ref
from hub.federation_discovery import discovery_positions, serve
from hub.federation_ingest import ReceiveOutcome
from hub.transports.federation_kafka import FederationReceiver, Received

if TYPE_CHECKING:
    from hub.adapters.metrics import Health


def fingerprint(public_key_hex: str) -> str:
    """The key's SHA-256 in groups of four hex digits, to read aloud and compare on a call."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def cmd_federation_identity(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        signer = hub.signer
        this = hub.federation.register.this_hub if hub.settings.federation_register else None
        discovery_public_key = hub.discovery_key.public_key_hex
        encryption_public_key = hub.message_key.public_key_hex
    finally:
        hub.close()
    document = {
        "hub": None if this is None else this.model_dump(mode="json"),
        "key_id": signer.key_id,
        "public_key": signer.public_key_hex,
        "fingerprint": fingerprint(signer.public_key_hex),
        "discovery_public_key": discovery_public_key,
        "encryption_public_key": encryption_public_key,
    }

    def text() -> None:
        if this is None:
            print("No partner register is set (HUB_FEDERATION_REGISTER): this hub has no partners.")
        else:
            print(f"{this.name} (hub id {this.id})")
            print(f"Contact for practitioners elsewhere: {this.contact}")
            print(f"Inbound topic: {this.kafka.topic} on {', '.join(this.kafka.bootstrap)}")
        print(f"Public key: {signer.public_key_hex}")
        print(f"Fingerprint (read it to the partner's lead): {document['fingerprint']}")
        print(f"Discovery public key (discovery_public_key): {discovery_public_key}")
        print(f"Encryption public key (encryption_public_key): {encryption_public_key}")

    emit(args, document, text)
    return EXIT_OK


def cmd_federation_partners(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        register = hub.federation.register
    finally:
        hub.close()
    today = datetime.now(UTC).date()
    partners = [
        {
            **p.model_dump(mode="json"),
            "active": p.active_on(today),
            "fingerprint": fingerprint(p.public_key),
        }
        for p in register.partners
    ]

    def text() -> None:
        if not partners:
            print("The register lists no partner hubs.")
        for p in partners:
            state = "active" if p["active"] else "not active today"
            print(f"{p['name']} (hub id {p['id']}), {state}")
            print(f"  agreement {p['agreement_version']}, from {p['active_from']}")
            print(f"  contact: {p['contact']}")
            print(f"  key fingerprint: {p['fingerprint']}")
            print(
                "  messages to and from it are encrypted"
                if p["encryption_public_key"]
                else "  messages are signed, not encrypted (no encryption_public_key listed)"
            )

    emit(args, {"this_hub": register.this_hub.model_dump(mode="json"), "partners": partners}, text)
    return EXIT_OK


def add_run_options(command: argparse.ArgumentParser) -> None:
    """The options of the two commands that read the inbound topic (receive and answer)."""
    command.add_argument(
        "--once", action="store_true", help="stop when nothing new arrives (tests, cron)"
    )
    command.add_argument(
        "--idle-s", type=float, default=5.0, help="with --once: how long nothing new means done"
    )
    command.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz, /readyz")


def stop_on_signals() -> threading.Event:
    """An event SIGTERM or Ctrl-C sets: the loop finishes the batch in hand, then stops cleanly
    (its positions commit with what it records, so nothing is lost or repeated)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def serve_health(hub: Any, port: int | None) -> Health | None:
    """With --metrics-port: /metrics, /healthz (the read loop beats at every poll) and /readyz
    (the store answers) on that port."""
    if port is None:
        return None
    from hub.adapters.metrics import Health, serve_metrics

    health = Health(ready_check=lambda: hub.store.recorder.max_notification_id())
    serve_metrics(port, health)
    return health


def read_inbound(
    receiver: FederationReceiver,
    handle: Callable[[list[Received]], None],
    *,
    once: bool,
    idle_s: float,
    stop: threading.Event,
    health: Health | None = None,
) -> None:
    """Hand each batch read from the inbound topic to `handle` until `stop` is set (checked
    between batches, so the batch in hand is always finished) or, with `once`, until nothing
    new arrives for `idle_s` seconds. Until stopped, a poll waits at most a second, so a stop
    is seen within a second and /healthz hears from the loop."""
    timeout_ms = int(idle_s * 1000) if once else STOP_CHECK_MS
    while not stop.is_set():
        batch = receiver.poll(timeout_ms=timeout_ms)
        if health is not None:
            health.beat()
        if batch:
            handle(batch)
        elif once:
            return


STOP_CHECK_MS = 1000


def run_receive(
    hub: Any,
    *,
    once: bool,
    idle_s: float,
    stop: threading.Event,
    health: Health | None = None,
) -> ReceiveOutcome:
    """`hub federation receive`'s loop: transfers and corrections recorded once and audited,
    anything else quarantined; returns the totals."""
    from hub.adapters.metrics import record_federation_receive

    receiving = hub.federation_ingest
    receiver = FederationReceiver(
        hub.federation.register.this_hub.kafka,
        receiving.positions(),
        hub.settings.kafka_client_options(),
    )
    total = ReceiveOutcome()

    def handle(batch: list[Received]) -> None:
        outcome = receiving.receive(batch)
        total.recorded += outcome.recorded
        total.duplicates += outcome.duplicates
        total.transfers += outcome.transfers
        total.quarantined.update(outcome.quarantined)
        total.skipped_already_recorded += outcome.skipped_already_recorded
        record_federation_receive(
            len(batch), outcome.recorded, outcome.duplicates, dict(outcome.quarantined)
        )

    try:
        read_inbound(receiver, handle, once=once, idle_s=idle_s, stop=stop, health=health)
    finally:
        receiver.close()
    return total


def cmd_federation_receive(args: argparse.Namespace) -> int:
    """Read this hub's inbound federation topic from where it last committed until stopped
    (SIGTERM or Ctrl-C) or, with --once, until nothing new arrives for --idle-s seconds."""
    stop = stop_on_signals()
    hub = open_hub(args)
    try:
        health = serve_health(hub, args.metrics_port)
        total = run_receive(hub, once=args.once, idle_s=args.idle_s, stop=stop, health=health)
    finally:
        hub.close()
    document = {
        "recorded": total.recorded,
        "duplicates": total.duplicates,
        "transfers": total.transfers,
        "quarantined": dict(total.quarantined),
    }

    def text() -> None:
        print(
            f"Recorded {total.recorded} events from {total.transfers} transfer messages; "
            f"{total.duplicates} already held."
        )
        for name, count in sorted(total.quarantined.items()):
            print(f"Quarantined {count} message(s): {name} failed (see the quarantine).")

    emit(args, document, text)
    return EXIT_OK


def cmd_federation_ask(args: argparse.Namespace) -> int:
    """Ask every partner hub whether it holds records about the child (docs/federation.md)."""
    hub = open_hub(args)
    try:
        try:
            child = child_ref(args.child)
        except ValueError as error:
            print(f"--child: {error}", file=sys.stderr)
            return EXIT_USAGE
        try:
            result = hub.discovery.ask(child, args.practitioner)
        except UnknownPractitionerError as error:
            print(f"--practitioner: {error}", file=sys.stderr)
            return EXIT_DENIED
    finally:
        hub.close()
    document = {
        "refused": result.refused or None,
        "answers": [
            {"partnership": a.name, "contact": a.contact, "outcome": a.outcome, "detail": a.detail}
            for a in result.answers
        ],
        "words": result.lines(),
    }
    emit(args, document, lambda: print("\n".join(result.lines())))
    return EXIT_DENIED if result.refused else EXIT_OK


def cmd_federation_publish_holdings(args: argparse.Namespace) -> int:
    """Send this hub's holdings (digests under its discovery key) to one or every partner."""
    hub = open_hub(args)
    try:
        sent = hub.discovery.publish_holdings(args.to)
    finally:
        hub.close()

    def text() -> None:
        if not sent:
            print("No active partner hub to send holdings to.")
        for partner, children in sent.items():
            print(f"Sent holdings of {children} children to {partner}.")

    emit(args, {"sent": sent}, text)
    return EXIT_OK


def run_answer(
    hub: Any,
    *,
    once: bool,
    idle_s: float,
    stop: threading.Event,
    health: Health | None = None,
) -> Counter[str]:
    """`hub federation answer`'s loop: partners' questions answered, their holdings kept;
    returns what was done, counted as `serve` counts it."""
    from hub.adapters.metrics import record_federation_answer

    receiver = FederationReceiver(
        hub.federation.register.this_hub.kafka,
        discovery_positions(hub.store),
        hub.settings.kafka_client_options(),
    )
    done: Counter[str] = Counter()

    def handle(batch: list[Received]) -> None:
        dealt_with = serve(hub.discovery, hub.federation, batch)
        done.update(dealt_with)
        record_federation_answer(len(batch), dealt_with)

    try:
        read_inbound(receiver, handle, once=once, idle_s=idle_s, stop=stop, health=health)
    finally:
        receiver.close()
    return done


def cmd_federation_answer(args: argparse.Namespace) -> int:
    """Read this hub's inbound topic for partners' questions and holdings and deal with them
    until stopped (SIGTERM or Ctrl-C) or, with --once, until nothing new arrives for --idle-s
    seconds."""
    stop = stop_on_signals()
    hub = open_hub(args)
    try:
        health = serve_health(hub, args.metrics_port)
        done = run_answer(hub, once=args.once, idle_s=args.idle_s, stop=stop, health=health)
    finally:
        hub.close()

    def text() -> None:
        if not done:
            print("No questions or holdings from partner hubs.")
        for what, count in sorted(done.items()):
            print(f"{what}: {count}")

    emit(args, dict(done), text)
    return EXIT_OK
