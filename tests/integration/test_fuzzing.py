"""Fuzzing every way in: 10,000 generated malformed messages through the Kafka transport (real
broker), the file inbox and `POST /api/v1/events`, on SQLite and PostgreSQL. Zero crashes,
nothing accepted, every message quarantined exactly once with its raw bytes and a reason code,
and the counts reconcile (consumed == quarantined, per reason code).

Each message is built to fail in one known way (truncation, wrong types, invalid NHS numbers,
unknown fields, bad dates, non-UTF-8 bytes, oversize, wrong agency, deep nesting, ...), so the
expected reason code is known; random bytes are the exception (any reason will do). The
generator is seeded: the seed is printed, and `HUB_TEST_SEED=N` repeats a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.domain.agency_records import agency_topic
from hub.domain.identity import issue_provisional_id, nhs_check_digit
from hub.ingest import OVERSIZE_KEPT_BYTES
from hub.reports.operations import quarantined_messages, store_status
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from hub.transports.kafka import ensure_topic
from tests.brokers import tansu_broker
from tests.factories import VALID_NHS_NUMBER, event_dict, register_agencies, register_agencies_for

MESSAGES = 10_000
OWNER = "shire-county-council"
MAX_BYTES = 65_536  # HUB_MAX_MESSAGE_BYTES default
REQUIRED = (
    "schema_version",
    "event_id",
    "revision",
    "agency",
    "child",
    "kind",
    "occurred_at",
    "recorded_at",
    "summary",
    "sensitivity",
    "lawful_basis",
)
# A message and the reason code it must be quarantined with (None: any reason).
Fuzzed = tuple[bytes, str | None]


def seed() -> int:
    chosen = int(os.environ.get("HUB_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"HUB_TEST_SEED={chosen}")
    return chosen


def _valid(rng: random.Random) -> dict[str, Any]:
    return event_dict(event_id=f"FZ-{rng.randrange(10**9)}")


def _dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


def _wrong_nhs_number(rng: random.Random) -> str:
    while True:
        first_nine = f"{rng.randrange(10**9):09d}"
        check = nhs_check_digit(first_nine)
        choices = [
            first_nine + str((check + rng.randrange(1, 10)) % 10) if check is not None else "",
            first_nine,  # nine digits
            first_nine + "12",  # eleven
            first_nine[:5] + "ABCDE",
            "",
        ]
        wrong = rng.choice(choices)
        if wrong and check is None and len(wrong) == 10 and wrong.isdigit():
            continue  # no valid check digit exists for these nine: not what we want to test
        return wrong


# Each generator makes one kind of malformed message as a JSON *object* (so it also fits the
# HTTP route, which takes a JSON array of objects): (document, expected reason code).
def wrong_type(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    field = rng.choice(sorted(document))
    # Nothing here is coerced (a number is never a string, a list never a date or an object);
    # an object would be valid details, so details get text instead.
    document[field] = rng.choice(
        [[[1, 2]], 3.5, "text" if field == "details" else {"nested": {"deeper": [True]}}]
    )
    return document, "invalid-event"


def missing_field(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    del document[rng.choice(REQUIRED)]
    return document, "invalid-event"


def unknown_field(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    name = rng.choice(["nhs", "Summary", "extra", "child_name", "__proto__", "é", "\u0000"])
    document[f"{name}{rng.randrange(1000)}"] = rng.choice([1, "x", None, [], {}])
    return document, "invalid-event"


def invalid_nhs_number(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    document["child"] = rng.choice(
        [
            {"nhs_number": _wrong_nhs_number(rng)},
            {"nhs_number": VALID_NHS_NUMBER, "provisional_id": "PRV-0000000000"},
            {"provisional_id": "PRV-" + "".join(rng.choices("ABC123", k=rng.randrange(10)))},
            {},
        ]
    )
    return document, "invalid-event"


def unissued_provisional_id(rng: random.Random) -> tuple[dict[str, Any], str]:
    """Well formed, check character right, but never issued by this hub."""
    document = _valid(rng)
    document["child"] = {"provisional_id": issue_provisional_id()}
    return document, "unknown-provisional-id"


def bad_date(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    field = rng.choice(["occurred_at", "recorded_at"])
    document[field] = rng.choice(
        [
            "2024-13-45T09:00:00+00:00",
            "2024-02-30T09:00:00+00:00",
            "2024-03-04T09:15:00",  # no offset
            "yesterday",
            "",
            "1989-12-31T23:59:59+00:00",  # before 1990
            "2024-03-04T25:61:00+00:00",
            "+275760-09-13T00:00:00Z",
        ]
    )
    return document, "invalid-event"


def occurred_after_recorded(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    document["occurred_at"] = "2024-03-05T09:15:00+00:00"
    return document, "invalid-event"


def future_date(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    year = rng.randrange(2100, 9000)
    document["recorded_at"] = f"{year}-01-01T00:00:00+00:00"
    if rng.random() < 0.5:
        document["occurred_at"] = f"{year}-01-01T00:00:00+00:00"
    return document, "future-date"


def wrong_agency(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    other = rng.choice(["other-council", "shire-county-counci1", "shire-constabulary"])
    document["agency"] = {"id": other, "type": "local-authority"}
    return document, "wrong-agency"


def wrong_kind(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    document["kind"] = rng.choice(["la.unknown", "police.home-visit", "", "LA.REFERRAL", "la"])
    return document, "invalid-event"


def bad_values(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    field, value = rng.choice(
        [
            ("revision", 0),
            ("revision", -1),
            ("revision", 10**30),
            ("revision", float("nan")),
            ("schema_version", 2),
            ("event_id", "\ud800"),
            ("event_id", ""),
            ("event_id", "x" * 300),
            ("summary", ""),
            ("summary", "\udfff lone surrogate"),
            ("categories", ["neglect", "neglect"]),
            ("categories", ["not-a-category"]),
            ("sensitivity", "secret"),
            ("lawful_basis", None),
            ("details", {"referral_source": float("inf")}),
        ]
    )
    document[field] = value
    return document, "invalid-event"


def nested(rng: random.Random) -> tuple[dict[str, Any], str]:
    """Deep, but within what a JSON parser accepts; unknown field, so invalid."""
    document = _valid(rng)
    depth = rng.randrange(20, 200)
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"d": value}
    document["nesting"] = value
    return document, "invalid-event"


def oversize(rng: random.Random) -> tuple[dict[str, Any], str]:
    document = _valid(rng)
    document["summary"] = "x" * (MAX_BYTES + rng.randrange(1, 20_000))
    return document, "oversize"


OBJECT_GENERATORS: list[Callable[[random.Random], tuple[dict[str, Any], str]]] = [
    wrong_type,
    missing_field,
    unknown_field,
    invalid_nhs_number,
    unissued_provisional_id,
    bad_date,
    occurred_after_recorded,
    future_date,
    wrong_agency,
    wrong_kind,
    bad_values,
    nested,
]


def malformed_object(rng: random.Random) -> tuple[dict[str, Any], str]:
    if rng.random() < 0.01:  # ~100 of 10,000: oversize messages are large
        return oversize(rng)
    return rng.choice(OBJECT_GENERATORS)(rng)


def malformed_bytes(rng: random.Random) -> Fuzzed:
    """A malformed message as raw bytes, as a transport delivers it."""
    roll = rng.random()
    valid = _dumps(_valid(rng))
    if roll < 0.45:
        document, code = malformed_object(rng)
        return _dumps(document), code
    if roll < 0.60:  # truncated: no proper prefix of a JSON object is JSON
        return valid[: rng.randrange(1, len(valid))], "malformed-json"
    if roll < 0.70:  # not UTF-8
        bad = rng.choice([b"\xff", b"\xc3\x28", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xfe"])
        at = rng.randrange(len(valid))
        return valid[:at] + bad + valid[at:], "invalid-utf8"
    if roll < 0.78:  # JSON, not an object
        value = rng.choice([[], [_valid(rng)], 1, -2.5, "text", None, True, [1, [2]]])
        return _dumps(value), "not-an-object"
    if roll < 0.84:  # not JSON at all
        return rng.choice(
            [
                b"\xef\xbb\xbf" + valid,  # a byte order mark
                valid + b"}",
                valid.replace(b'"', b"'"),
                b"{" + valid,
                valid.replace(b": ", b" "),
                b"{'schema_version': 1}",
                b"NaN-ish",
                b"\x00",
                b"<event/>",
            ]
        ), "malformed-json"
    if roll < 0.86:  # nested deeper than a parser will go
        opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        depth = rng.randrange(2_000, (MAX_BYTES - 1) // len(opener + closer))  # not oversize
        return opener * depth + b"1" + closer * depth, "malformed-json"
    if roll < 0.87:  # an integer with more digits than Python converts
        return b'{"revision": ' + b"9" * rng.randrange(5_000, 20_000) + b"}", "malformed-json"
    if roll < 0.88:  # oversize garbage
        return rng.randbytes(MAX_BYTES + rng.randrange(1, 5_000)), "oversize"
    # random bytes: whatever they are, they are quarantined with some reason
    return rng.randbytes(rng.randrange(1, 300)), None


def for_lines(message: bytes) -> bytes:
    """An inbox line cannot hold a newline, end in a carriage return or be blank (blank lines
    are skipped): keep those out of the inbox's fuzz."""
    message = message.replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return message if message.strip() else b"?"


def assert_every_message_quarantined(
    hub: Hub, source_prefix: str, sent: list[Fuzzed]
) -> Counter[str]:
    """consumed == quarantined == sent; each message kept once, raw (an oversize one as its
    first bytes and digest), with the expected reason."""
    items = [q for q in quarantined_messages(hub.store) if q.source.startswith(source_prefix)]
    by_raw: dict[bytes | str | None, list[str]] = {}
    for item in items:
        assert item.reason and item.reason_code, item
        if item.truncated:
            assert item.raw is not None and len(item.raw) == OVERSIZE_KEPT_BYTES
            by_raw.setdefault(item.sha256, []).append(item.reason_code)
        else:
            by_raw.setdefault(item.raw, []).append(item.reason_code)
    wrong = []
    for message, expected in sent:
        whole = len(message) <= MAX_BYTES
        codes = by_raw.get(message if whole else hashlib.sha256(message).hexdigest())
        assert codes, f"not quarantined: {message[:120]!r}"
        code = codes.pop()
        if expected is not None and code != expected:
            wrong.append((message[:120], expected, code))
    assert wrong == []
    assert sum(len(codes) for codes in by_raw.values()) == 0  # nothing quarantined twice

    status = store_status(hub.store, "t")
    mine = [s for s in status.sources if s.source.startswith(source_prefix)]
    assert sum(s.consumed for s in mine) == sum(s.quarantined for s in mine) == len(sent)
    assert sum(s.accepted + s.duplicates for s in mine) == 0
    per_code = Counter(item.reason_code for item in items)
    expected_codes = Counter(code for _, code in sent if code is not None)
    for code, count in expected_codes.items():
        assert per_code[code] >= count
    assert sum(per_code.values()) == len(sent)
    print(f"{len(sent):,} quarantined: {dict(sorted(per_code.items()))}")
    return per_code


def run_ingest(settings: HubSettings, log_path: Path, *transport: str) -> None:
    """`hub ingest --once` as a process: it must finish, exit 3 (done, input rejected), and
    log no failure. A message that crashes ingest makes the inbox exit 1 and the Kafka runner
    retry its batch forever (logging `ingest_batch_failed_retrying`): fail on that at once."""
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_STORE": settings.store,
        "HUB_POSTGRES_DSN": settings.postgres_dsn,
        "HUB_POSTGRES_SCHEMA": settings.postgres_schema,
        "HUB_BATCH_SIZE": "500",
    }
    command = [sys.executable, "-m", "hub.cli", "ingest", *transport, "--once", "--quiet"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        deadline = time.monotonic() + 240
        while process.poll() is None:
            failing = [
                line
                for line in log_path.read_text(errors="replace").splitlines()
                if "ingest_batch_failed_retrying" in line
            ]
            assert not failing, f"hub ingest failed on a message: {failing[0][-3000:]}"
            assert time.monotonic() < deadline, "hub ingest did not finish"
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = log_path.read_text(errors="replace")
    assert process.returncode == 3, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.kafka
def test_kafka_fuzz_every_malformed_message_is_quarantined(
    settings: HubSettings, tmp_path: Path
) -> None:
    rng = random.Random(seed())
    sent = [malformed_bytes(rng) for _ in range(MESSAGES)]
    hub = bootstrap(settings)
    register_agencies(hub)
    try:
        # Its own broker: `hub ingest --kafka` follows every agency topic on it.
        with tansu_broker() as port:
            address = f"127.0.0.1:{port}"
            topic = agency_topic(OWNER)
            ensure_topic(address, topic)
            producer = KafkaProducer(
                bootstrap_servers=address,
                acks="all",
                linger_ms=20,
                max_request_size=4 * 1024 * 1024,
            )
            futures = [
                producer.send(topic, key=str(i).encode(), value=message)
                for i, (message, _) in enumerate(sent)
            ]
            producer.flush()
            for future in futures:
                future.get(timeout=60)
            producer.close()
            run_ingest(settings, tmp_path / "ingest.log", "--kafka", address)
        assert_every_message_quarantined(hub, f"kafka:{topic}:", sent)
    finally:
        hub.close()


def test_inbox_fuzz_every_malformed_message_is_quarantined(
    settings: HubSettings, tmp_path: Path
) -> None:
    rng = random.Random(seed())
    # Only random bytes hold newlines or carriage returns, and they may fail any way.
    sent = [
        (for_lines(message), code)
        for message, code in (malformed_bytes(rng) for _ in range(MESSAGES))
    ]
    inbox = tmp_path / "inbox"
    for part in range(4):
        write_inbox_file(inbox, OWNER, f"fuzz-{part}", [m for m, _ in sent[part::4]])
    register_agencies_for(settings)
    run_ingest(settings, tmp_path / "ingest.log", "--inbox", str(inbox))
    hub = bootstrap(settings)
    register_agencies(hub)
    try:
        assert_every_message_quarantined(hub, f"inbox:{OWNER}/", sent)
    finally:
        hub.close()


def test_http_publish_fuzz_every_malformed_event_is_quarantined_and_bad_bodies_get_4xx(
    settings: HubSettings,
) -> None:
    rng = random.Random(seed())
    hub = bootstrap(settings)
    register_agencies(hub)
    try:
        client = TestClient(create_app(hub, hub.token_verifier()), raise_server_exceptions=False)
        token = {"Authorization": f"Bearer {issue_dev_token(hub.token_key, f'agency:{OWNER}')}"}
        sent: list[Fuzzed] = []
        while len(sent) < MESSAGES:
            documents = [malformed_object(rng) for _ in range(rng.randrange(1, 200))]
            documents = documents[: MESSAGES - len(sent)]
            # Serialised here: httpx refuses NaN and lone surrogates, which a client may send.
            response = client.post(
                "/api/v1/events",
                content=json.dumps([d for d, _ in documents]).encode(),
                headers={**token, "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text[:500]
            body = response.json()
            assert (body["accepted"], body["duplicates"]) == (0, 0)
            assert sum(body["quarantined"].values()) == len(documents)
            # The route re-serialises each element; that is the raw message it keeps.
            sent.extend((json.dumps(d).encode(), code) for d, code in documents)
        assert_every_message_quarantined(hub, f"https:{OWNER}", sent)

        # Bodies that are not a JSON array of objects: a clean 4xx, never a 500, nothing kept.
        before = len(quarantined_messages(hub.store))
        statuses: Counter[int] = Counter()
        for _ in range(500):
            raw, _code = malformed_bytes(rng)
            if raw.startswith(b"[") and raw.rstrip().endswith(b"]"):
                raw = b"{" + raw  # an array of objects would be a valid body
            response = client.post(
                "/api/v1/events",
                content=raw,
                headers={**token, "Content-Type": "application/json"},
            )
            statuses[response.status_code] += 1
            assert 400 <= response.status_code < 500, (response.status_code, raw[:120])
        for body in ([1, 2], ["x"], [[{}]], [None], {"events": []}, "[]"):
            response = client.post("/api/v1/events", json=body, headers=token)
            statuses[response.status_code] += 1
            assert 400 <= response.status_code < 500, (response.status_code, body)
        assert len(quarantined_messages(hub.store)) == before
        print(f"malformed bodies: {dict(statuses)}")
    finally:
        hub.close()
