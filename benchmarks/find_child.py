"""Benchmark: finding a child by family name and date of birth over >= 1M blind-index entries.

    python -m benchmarks.find_child [--entries 1000000] [--reads 300]
        [--store sqlite|postgres] [--postgres-dsn DSN] [--data-dir DIR] [--json-out PATH]
        [--quick]

Builds (once per data directory on SQLite; reused when it already holds enough) a blind index
of `--entries` entries: children with fictional family names and dates of birth, three
entries each (the normalised family name, its Metaphone and NYSIIS codes, each bound to the date
of birth), written as ingest writes them (`BlindIndexed` rows named by the keyed hash of their
token, each sealed with a data key of its own) but many per transaction. Then ten target
children are published through the real ingest (an s47 enquiry and their details from the
council), so the disclosure gate has their records to decide on.

Timed, in the same run:

- **find a child**: `ChildSearch.find` by the front door's social worker with a misspelt family
  name, the date of birth and a given name: everything a request does (checking the terms,
  the blind index look-ups, opening the entries, the gate's decision and release for each
  candidate, its audit entry written first, ranking);
- **blind index look-up**: `ChildSearch.candidates` alone (the keyed hashes, one indexed query
  per token, opening the entries);
- **baseline**: an exact-match indexed lookup: the raw eventsourcing recorder's
  `select_events` of one stream id (the primary key), as an exact NHS number look-up is.

With `--store postgres` the store is a fresh schema (dropped afterwards) and built each run.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import Figure, add_common_args, refuse, write_result
from benchmarks.workload import nhs_numbers, register_workload_agencies
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.envelope import seal
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.name_matching import family_tokens
from hub.domain.records import BlindIndexed, HubRecord, blind_index_context, blind_index_scope
from hub.ingest import InboundMessage
from hub.settings import HubSettings

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 5000  # children per transaction (three rows each)
TARGETS = 10
TARGET_FAMILY = "Greenhalgh"
MISSPELT = "Greenhalg"
TARGET_BORN = date(2020, 6, 2)
SEARCHER = "mash-0001"  # the front door: every candidate's names are released to them
_SYLLABLES = ("ash", "bel", "car", "den", "ford", "gill", "ham", "ley", "mor", "ton", "wick")


def percentiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}


def background_child(rng: random.Random) -> tuple[str, date]:
    family = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).title()
    return family, date(2008, 1, 1) + timedelta(days=rng.randrange(18 * 365))


def build(hub: Hub, entries: int) -> tuple[float, int]:
    """Write about `entries` blind index entries for background children; (rows/s, rows)."""
    rng = random.Random(19)
    store, keyring, pseudonyms = hub.store, hub.keyring, hub.pseudonyms
    now = datetime.now(UTC)
    written = 0
    started = time.perf_counter()
    while written < entries:
        pending = []
        for _ in range(BATCH):
            child = uuid.UUID(int=rng.getrandbits(128)).hex
            family, born = background_child(rng)
            payload = orjson.dumps(
                {"child": child, "given": [f"{rng.getrandbits(64):016x}"], "ref": "bench/1@1"}
            )
            for match, token in family_tokens(family, born):
                stream = pseudonyms.blind_stream(f"{token}\x1f{child}")  # one child per stream
                pending.append((stream, match.value, payload))
        keyring.ensure(blind_index_scope(stream, 1) for stream, _, _ in pending)  # one each
        records: list[HubRecord] = [
            BlindIndexed(
                originator_id=stream,
                originator_version=1,
                timestamp=now,
                match=match,
                sealed=base64.b64encode(
                    seal(
                        keyring,
                        blind_index_scope(stream, 1),
                        payload,
                        blind_index_context(stream, 1),
                    )
                ).decode(),
            )
            for stream, match, payload in pending
        ]
        store.recorder.insert_events([store.mapper.to_stored_event(r) for r in records])
        written += len(records)
    return written / (time.perf_counter() - started), written


def publish_targets(hub: Hub) -> list[str]:
    """The target children through the real ingest: an s47 enquiry and their details."""
    now = datetime.now(UTC).replace(microsecond=0)
    agency = {"id": "shire-county-council", "type": "local-authority"}
    given = ["Madison", "Jackson", "Jayden", "Amber", "Noah", "Isla", "Leo", "Poppy", "Kai", "Zara"]
    lines = []
    numbers = nhs_numbers(TARGETS + 5)[5:]
    for index, number in enumerate(numbers):
        for event_id, kind, details in (
            (f"S47-{index}", "la.s47-enquiry-started", {}),
            (
                f"CHILD-{index}",
                "la.child-details",
                {
                    "given_names": [given[index % len(given)]],
                    "family_name": TARGET_FAMILY,
                    "date_of_birth": TARGET_BORN.isoformat(),
                    "sex": "female" if index % 2 else "male",
                },
            ),
        ):
            lines.append(
                orjson.dumps(
                    {
                        "schema_version": 1,
                        "event_id": event_id,
                        "revision": 1,
                        "agency": agency,
                        "child": {"nhs_number": number},
                        "kind": kind,
                        "occurred_at": (now - timedelta(days=3)).isoformat(),
                        "recorded_at": (now - timedelta(days=2)).isoformat(),
                        "summary": "benchmark",
                        "details": details,
                        "sensitivity": "standard",
                        "lawful_basis": "public-task",
                    }
                )
            )
    position = (hub.store.position("bench:targets") or 0) + 1
    messages = [
        InboundMessage("bench:targets", position + i, line, agency["id"])
        for i, line in enumerate(lines)
    ]
    outcome = hub.ingest.ingest(messages)
    assert outcome.accepted + outcome.duplicates == len(lines), outcome
    return numbers


def settings_for(args: argparse.Namespace, root: Path) -> tuple[HubSettings, str | None]:
    if args.store == "sqlite":
        return HubSettings(data_dir=root, directory=SAMPLE_DIRECTORY_PATH), None
    import psycopg

    schema = f"hub_bench_{uuid.uuid4().hex[:12]}"
    try:
        db = psycopg.connect(args.postgres_dsn, autocommit=True)
    except psycopg.OperationalError as error:
        refuse(
            f"no PostgreSQL at {args.postgres_dsn} ({str(error).strip()[:200]}): start one, or "
            "pass --postgres-dsn, or measure SQLite with --store sqlite"
        )
    with db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    settings = HubSettings(
        data_dir=root,
        directory=SAMPLE_DIRECTORY_PATH,
        store="postgres",
        postgres_dsn=args.postgres_dsn,
        postgres_schema=schema,
    )
    return settings, schema


def drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def timed(call: Any, reads: int) -> list[float]:
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def run(args: argparse.Namespace) -> None:
    base = args.data_dir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    root = base / f"find-child-{args.store}"
    root.mkdir(parents=True, exist_ok=True)
    settings, schema = settings_for(args, root)
    try:
        hub = bootstrap(settings)
        register_workload_agencies(hub)
        rows_before = hub.store.recorder.max_notification_id() or 0
        build_rate, built = None, 0
        if rows_before < args.entries:
            if rows_before:
                refuse(
                    f"{root} holds a smaller store ({rows_before:,} rows) than --entries "
                    f"{args.entries:,}: give a new --data-dir (this module builds its store "
                    f"there), or pass --entries {rows_before} to measure this one"
                )
            build_rate, built = build(hub, args.entries)
        targets = publish_targets(hub)
        index_rows = sum(1 for _ in hub.store.notifications(BlindIndexed))

        search = hub.child_search
        terms = (MISSPELT, TARGET_BORN.isoformat(), "Maddison", Purpose.CHILD_PROTECTION_ENQUIRY)
        first = search.find(SEARCHER, *terms)  # warm: caches, the projection caught up
        assert [r.given_names for r in first.results] == [["Madison"]], first.results
        everyone = search.find(SEARCHER, TARGET_FAMILY, TARGET_BORN, None, terms[3])
        assert len(everyone.results) == TARGETS
        from hub.child_search import search_terms

        parsed = search_terms(MISSPELT, TARGET_BORN, "Maddison")
        exact_stream = hub.pseudonyms.blind_stream(family_tokens(TARGET_FAMILY, TARGET_BORN)[0][1])

        finds = timed(lambda: search.find(SEARCHER, *terms), args.reads)
        broad = timed(
            lambda: search.find(SEARCHER, TARGET_FAMILY, TARGET_BORN, None, terms[3]), args.reads
        )
        lookups = timed(lambda: search.candidates(parsed), args.reads)
        baseline = timed(lambda: hub.store.recorder.select_events(exact_stream), args.reads)
        hub.close()
    finally:
        if schema is not None:
            drop_schema(args.postgres_dsn, schema)

    find_p, broad_p = percentiles(finds), percentiles(broad)
    lookup_p, base_p = percentiles(lookups), percentiles(baseline)
    raw = "exact-match indexed lookup: raw recorder select_events of one stream id"
    size = f"{index_rows:,} index entries, {args.store}"
    figures = []
    for name in ("p50", "p99"):
        figures += [
            Figure(
                f"find a child (misspelt, given name: 1 result; {size}), {name}",
                round(find_p[name], 2), "ms", raw, round(base_p[name], 3),
                target={"max": 100.0} if name == "p99" else {}, better="lower",
            ),
            Figure(
                f"find a child ({TARGETS} results released; {size}), {name}",
                round(broad_p[name], 2), "ms", raw, round(base_p[name], 3), better="lower",
            ),
            Figure(
                f"blind index look-up alone ({size}), {name}",
                round(lookup_p[name], 3), "ms", raw, round(base_p[name], 3), better="lower",
            ),
        ]  # fmt: skip
    write_result(
        args,
        f"find_child_{args.store}",
        figures,
        store=args.store,
        params={"entries": args.entries, "reads": args.reads, "targets": TARGETS},
        notes=[
            "each find writes one audit entry per candidate released (write-ahead), as in "
            "service; the gate's release of each candidate reads its chronology snapshot",
            "background entries are written as ingest writes them, many per transaction; the "
            "target children go through the real ingest",
        ],
        extra={
            "index_rows": index_rows,
            "built_rows": built,
            "build_rows_per_s": round(build_rate) if build_rate else None,
            "targets": len(targets),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--entries", type=int)
    parser.add_argument("--reads", type=int)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-dsn", default=POSTGRES_DSN)
    args = parser.parse_args()
    args.entries = args.entries or (30_000 if args.quick else 1_000_000)
    args.reads = args.reads or (50 if args.quick else 300)
    configure_logging("warning")  # here, not in run: a test calling run keeps its logging
    run(args)


if __name__ == "__main__":
    main()
