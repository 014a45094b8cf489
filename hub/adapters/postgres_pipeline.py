"""A fix for a hang in psycopg's pipeline mode, which the eventsourcing recorder inserts in.

psycopg (3.3.9, its Python and C implementations alike) sends a pipeline's queued commands
with one `PQflush` after the last of them and stops there even when libpq reports that part of
the output is still unsent (the socket buffer was full). It then waits for results the server
cannot produce, while the server waits for the rest of the statement (`ClientRead`): both wait
for ever. Whether the last flush leaves anything behind depends on how fast the server reads,
so it strikes at random once a batch's bytes outgrow the socket buffers: a single 5 MB row hung
about half the tries, and a batch of 1,000 quarantined 60 KB messages (each within the message
limit) hung every try.

`install()` wraps the pipeline's send step so that it finishes the flush, reading whatever the
server answers meanwhile (so the server is never blocked writing to us). Results read here stay
in libpq's buffer for the fetch that follows, as they would have. Idempotent; applied by
`bootstrap` whenever the store is PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

_MARK = "_hub_finishes_flush"
_SEND_STEP = "pipeline_communicate"  # the name psycopg's pipeline calls its send step by


def install() -> None:
    import psycopg._pipeline_base as pipeline_base  # the optional postgres extra
    from psycopg.generators import READY_R, WAIT_RW

    communicate: Callable[..., Generator[Any, Any, Any]] = getattr(pipeline_base, _SEND_STEP)
    if getattr(communicate, _MARK, False):
        return

    def communicate_then_finish_flush(pgconn: Any, commands: Any) -> Generator[Any, Any, Any]:
        results = yield from communicate(pgconn, commands)
        while pgconn.flush():  # 1: libpq still holds output the socket would not take
            ready = yield WAIT_RW
            if ready & READY_R:
                pgconn.consume_input()
        return results

    setattr(communicate_then_finish_flush, _MARK, True)
    setattr(pipeline_base, _SEND_STEP, communicate_then_finish_flush)
