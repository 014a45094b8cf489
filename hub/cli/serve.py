"""`hub serve` and `hub token issue`."""

from __future__ import annotations

import argparse
import signal
from datetime import UTC, datetime

from hub.cli.common import EXIT_OK, emit, open_hub


def cmd_serve(args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from hub.api.app import create_app
    from hub.api.http_metrics import install_http_metrics

    hub = open_hub(args, create=True)
    try:
        app = create_app(hub, hub.token_verifier())
        if args.metrics_port is not None:
            install_http_metrics(app)  # counted here, served on the metrics port only
        # Warm the long-lived parts (directory, compiled agreements, audit ledger, projection)
        # and move everything built so far out of the collector's reach: full collections then
        # scan only request garbage, which is what kept chronology p99 high (docs/chronology.md).
        hub.directory.all()
        hub.gate.agreement_in_force(datetime.now(UTC))
        hub.audit_queries  # noqa: B018 - builds the audit ledger and its queries now
        if args.metrics_port is not None:
            from hub.adapters.metrics import Health, VerifyStatusCollector, serve_metrics

            # uvicorn runs the event loop; liveness is the process answering at all.
            health = Health(
                ready_check=lambda: hub.store.recorder.max_notification_id(),
                stall_after_s=float("inf"),
            )
            serve_metrics(
                args.metrics_port,
                health,
                [VerifyStatusCollector(hub.integrity.last_verification)],
            )
        gc.collect()
        gc.freeze()
        # uvicorn stops gracefully on SIGTERM or Ctrl-C, then raises the signal again with the
        # handlers it found: with these, a clean stop is exit 0 (not killed-by-signal) for a
        # supervisor (Kubernetes, compose, systemd) to tell apart from a crash.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: None)
        # uvicorn's own access log prints paths and client addresses; the app logs requests
        # itself (method, route, status, time) with nothing personal in them.
        uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None)
    finally:
        hub.close()
    return EXIT_OK


def cmd_token_issue(args: argparse.Namespace) -> int:
    from hub.adapters.tokens import issue_dev_token

    hub = open_hub(args)
    try:
        if args.agency:
            subject = f"agency:{args.agency}"
        else:
            hub.gate.practitioner(args.practitioner)  # refuse ids not in the directory
            subject = args.practitioner
        token = issue_dev_token(hub.token_key, subject, args.minutes)
    finally:
        hub.close()
    emit(args, {"token": token, "subject": subject, "minutes": args.minutes}, lambda: print(token))
    return EXIT_OK
