"""Fifty concurrent readers and one writer against the real `hub serve` (issue 8).

For a bounded time, 50 reader threads ask for chronologies (`POST /api/v1/chronology`) as
practitioners with and without a relationship, while one agency system publishes new events
(`POST /api/v1/events`). Afterwards every answer is reconciled with the audit ledger: zero
errors, each disclosure audited exactly once (one entry per answer, its `audit_ref` unique and
in the ledger, for that practitioner and child, naming exactly what was returned), and every
published event recorded exactly once.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.tokens import issue_dev_token
from hub.bootstrap import Hub, bootstrap
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.conftest import POSTGRES_DSN
from tests.factories import event_days_ago, nhs_number, register_agencies

READERS = 50
RUN_SECONDS = 15.0  # how long the load runs (a bound on the test, not an assertion)
NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
SCHOOL = {"id": "school-100001", "type": "education"}
CHILDREN = [nhs_number(7000 + i) for i in range(6)]
# lcpp-0001 is a MACPT member during the s47 enquiry, sw-0002 is allocated, dsl-100001's school
# enrolled the child; po-0002 has no relationship: a denial, audited like any answer.
READER_PRACTITIONERS = ["lcpp-0001", "sw-0002", "dsl-100001", "po-0002"]
PURPOSE = "child-protection-enquiry"


def event(agency: dict[str, str], event_id: str, kind: str, child: str, **fields: Any) -> bytes:
    days_ago = fields.pop("days_ago", 10)
    return event_days_ago(
        NOW,
        days_ago,
        event_id=event_id,
        agency=agency,
        kind=kind,
        child={"nhs_number": child},
        **fields,
    )


def seed_case(hub: Hub, children: list[str]) -> None:
    """For each child: an allocation to sw-0002, an s47 enquiry, a contact, a school enrolment."""
    la = []
    school = []
    for n, child in enumerate(children):
        la += [
            event(
                LA,
                f"ALLOC-{n}",
                "la.worker-allocated",
                child,
                days_ago=40,
                details={"practitioner_id": "sw-0002", "role": "social-worker"},
            ),
            event(LA, f"S47-{n}", "la.s47-enquiry-started", child, days_ago=10),
            event(LA, f"CONTACT-{n}", "la.contact", child, days_ago=9),
        ]
        school.append(
            event(
                SCHOOL,
                f"ENROL-{n}",
                "education.enrolled",
                child,
                days_ago=300,
                details={
                    "school_urn": "100001",
                    "starts_on": (NOW - timedelta(days=300)).date().isoformat(),
                },
            )
        )
    for agency, values in ((LA, la), (SCHOOL, school)):
        hub.ingest.ingest(
            [
                InboundMessage(f"inbox:{agency['id']}/seed", i + 1, v, agency["id"])
                for i, v in enumerate(values)
            ]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_env(settings: HubSettings) -> dict[str, str]:
    """The environment that makes a `hub` subprocess open the same hub as `settings`."""
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_STORE": settings.store,
        "HUB_DIRECTORY": str(settings.directory_path),
    }
    if settings.store == "postgres":
        env |= {
            "HUB_POSTGRES_DSN": settings.postgres_dsn,
            "HUB_POSTGRES_SCHEMA": settings.postgres_schema,
        }
    return env


def start_server(settings: HubSettings, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`hub serve` on a free port, waiting (bounded) until /healthz answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
        env=hub_env(settings),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)  # bounded poll while the port opens, not a synchronisation point
    process.kill()
    raise AssertionError(f"server did not answer within 60 s: {log.read_text()[-2000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub_settings(request: pytest.FixtureRequest, tmp_path: Path) -> HubSettings:
    if request.param == "sqlite":
        return HubSettings(data_dir=tmp_path / "hub", directory=SAMPLE_DIRECTORY_PATH)
    return HubSettings(
        data_dir=tmp_path / "hub",
        directory=SAMPLE_DIRECTORY_PATH,
        store="postgres",
        postgres_dsn=POSTGRES_DSN,
        postgres_schema=request.getfixturevalue("postgres_schema"),
    )


@dataclass(frozen=True)
class Answer:
    practitioner: str
    child: str
    status: int
    body: dict[str, Any]


@dataclass
class Load:
    answers: list[Answer]
    failures: list[str]
    published: list[str]


@pytest.fixture
def served(
    hub_settings: HubSettings, tmp_path: Path
) -> Iterator[tuple[HubSettings, str, dict[str, str]]]:
    hub = bootstrap(hub_settings)
    register_agencies(hub)
    try:
        seed_case(hub, CHILDREN)
        tokens = {p: issue_dev_token(hub.token_key, p, 60) for p in READER_PRACTITIONERS}
        tokens["agency"] = issue_dev_token(hub.token_key, f"agency:{LA['id']}", 60)
    finally:
        hub.close()
    process, url = start_server(hub_settings, tmp_path / "server.log")
    try:
        yield hub_settings, url, tokens
    finally:
        stop_server(process)


def run_load(url: str, tokens: dict[str, str], seconds: float) -> Load:
    load = Load([], [], [])
    lock = threading.Lock()
    stop = threading.Event()
    ready = threading.Barrier(READERS + 1)

    def reader(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=url, timeout=120) as client:
            ready.wait()
            while not stop.is_set():
                practitioner = rng.choice(READER_PRACTITIONERS)
                child = rng.choice(CHILDREN)
                try:
                    response = client.post(
                        "/api/v1/chronology",
                        json={"child": child},
                        headers={
                            "Authorization": f"Bearer {tokens[practitioner]}",
                            "X-Hub-Purpose": PURPOSE,
                        },
                    )
                except httpx.HTTPError as error:
                    with lock:
                        load.failures.append(f"reader {number}: {type(error).__name__} {error}")
                    continue
                body = response.json() if response.status_code == 200 else {}
                with lock:
                    load.answers.append(Answer(practitioner, child, response.status_code, body))
                    if response.status_code != 200:
                        load.failures.append(f"reader: {response.status_code} {response.text}")

    def writer() -> None:
        headers = {"Authorization": f"Bearer {tokens['agency']}"}
        batch = 0
        with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
            ready.wait()
            while not stop.is_set():
                ids = [f"W-{batch}-{i}" for i in range(5)]
                events = [
                    json.loads(
                        event(LA, event_id, "la.contact", CHILDREN[i % len(CHILDREN)], days_ago=1)
                    )
                    for i, event_id in enumerate(ids)
                ]
                try:
                    response = client.post("/api/v1/events", json=events)
                except httpx.HTTPError as error:
                    load.failures.append(f"writer: {type(error).__name__} {error}")
                    continue
                if response.status_code != 200 or response.json()["accepted"] != len(ids):
                    load.failures.append(f"writer: {response.status_code} {response.text}")
                else:
                    load.published.extend(ids)
                batch += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    stop.wait(seconds)  # the run's bounded length; nothing is asserted about timing
    stop.set()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a client thread did not finish"
    return load


def test_fifty_readers_and_a_writer_every_disclosure_audited_exactly_once(
    served: tuple[HubSettings, str, dict[str, str]],
) -> None:
    settings, url, tokens = served
    load = run_load(url, tokens, RUN_SECONDS)

    print(f"{len(load.answers)} chronologies read, {len(load.published)} events published")
    assert load.failures == []
    assert len(load.answers) > READERS and len(load.published) > 0  # the load really ran
    refs = [a.body["audit_ref"] for a in load.answers]
    assert all(refs) and len(set(refs)) == len(refs)

    hub = bootstrap(settings)
    try:
        streams = {c: hub.gate.child_stream(ChildRef(nhs_number=c)) for c in CHILDREN}
        ledger = {
            f"{r.originator_id.hex}@{r.originator_version}": r
            for r in hub.audit.all_disclosures()
            if r.action == "view"
        }
        # Exactly one entry per answer, and no entry without an answer (nobody else read).
        assert set(ledger) == set(refs)
        by_pair = Counter((r.practitioner_id, r.child_stream) for r in ledger.values())
        assert by_pair == Counter((a.practitioner, streams[a.child]) for a in load.answers)
        for answer in load.answers:
            entry = ledger[answer.body["audit_ref"]]
            assert (entry.practitioner_id, entry.child_stream) == (
                answer.practitioner,
                streams[answer.child],
            )
            assert entry.outcome == answer.body["outcome"]
            assert entry.disclosed == [e["ref"] for e in answer.body["entries"]]
            expected = "denied" if answer.practitioner == "po-0002" else "disclosed"
            assert answer.body["outcome"] in (expected, f"partially-{expected}")

        recorded = Counter(
            str(r.body["event_id"])
            for r in hub.store.records(ChildRecordEntry)
            if isinstance(r, ChildRecordEntry)
            and r.entry_type == "agency-event"
            and str(r.body["event_id"]).startswith("W-")
        )
        assert set(recorded) == set(load.published) and max(recorded.values()) == 1
        # The readers' projection kept up: a chronology now holds every published event.
        full = {
            e.ref
            for c in CHILDREN
            for e in hub.gate.held_entries(ChildRef(nhs_number=c))
            if e.ref.split("/")[1].startswith("W-")
        }
        assert {f"{LA['id']}/{i}@1" for i in load.published} == full
    finally:
        hub.close()
