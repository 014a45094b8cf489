"""Leak hunt (issue 8): after a representative run of the whole hub, the test children's NHS
numbers, the summaries and details, and the shielded values are found only where they are meant
to be shown, namely authorised, audited responses, and shielded values nowhere at all.

The run, each step a real `hub` process (or HTTP request to a real `hub serve`) with its
stdout and stderr kept: ingest from the inbox including malformed messages (quarantined),
quarantine listing, status, chronology views (allowed and refused), DPO audit queries and a
subject access export, a review commission and an HTML review pack, the Encompass, clocks and
indicators consumers with their outputs, checkpoint and verify, and the HTTP API. Then every
file under the data directory (SQLite files with their -wal and -shm, keys, consumer stores),
every table of the hub's PostgreSQL schema, every log and every output is scanned.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from tests.conftest import POSTGRES_DSN
from tests.e2e.test_concurrency import hub_env, start_server, stop_server
from tests.factories import event_days_ago, nhs_number

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
ICB = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}

CHILD = nhs_number(8100)  # the child whose record is viewed
OTHER = nhs_number(8101)  # held, never asked about
QUARANTINED_CHILD = nhs_number(8102)  # only in a quarantined message
BAD_NHS = CHILD[:9] + str((int(CHILD[9]) + 1) % 10)  # fails the check digit

SHIELDED = ["LEAKCANARY-SHIELDED-REFUGE-ADDRESS", "LEAKCANARY-SHIELDED-SUMMARY"]
CONTENT = ["LEAKCANARY-SUMMARY-CONTACT", "LEAKCANARY-CHILD-VOICE", "LEAKCANARY-VISIT-REASON"]
OTHER_CONTENT = ["LEAKCANARY-OTHER-CHILD-SUMMARY"]
QUARANTINED = ["LEAKCANARY-QUARANTINED-SUMMARY", "LEAKCANARY-NOT-JSON", QUARANTINED_CHILD, BAD_NHS]
EVERYTHING = [CHILD, OTHER, *SHIELDED, *CONTENT, *OTHER_CONTENT, *QUARANTINED]

# What each kind of output may contain; anything else from EVERYTHING found there is a leak.
PUBLIC: frozenset[str] = frozenset()  # logs, listings, indicators, stores: nothing
REFERENCE = frozenset({CHILD})  # audited answers that echo the child asked about (denials, DPO)
DISCLOSURE = frozenset({CHILD, *CONTENT})  # authorised, audited responses for CHILD


def _event(
    agency: dict[str, str], event_id: str, kind: str, days_ago: float, **fields: Any
) -> bytes:
    fields.setdefault("child", {"nhs_number": CHILD})
    return event_days_ago(NOW, days_ago, event_id=event_id, agency=agency, kind=kind, **fields)


def write_inbox(inbox: Path) -> None:
    write_inbox_file(
        inbox,
        LA["id"],
        "leak-la",
        [
            _event(
                LA,
                "ALLOC-1",
                "la.worker-allocated",
                40,
                details={"practitioner_id": "sw-0002", "role": "social-worker"},
            ),
            _event(LA, "S47-1", "la.s47-enquiry-started", 3),
            _event(LA, "CONTACT-1", "la.contact", 30, summary=CONTENT[0]),
            _event(
                LA,
                "CONTACT-2",
                "la.contact",
                29,
                summary="Contact about a move",
                details={"refuge_address": SHIELDED[0]},
                shielded_fields=["details.refuge_address"],
            ),
            _event(
                LA, "CONTACT-3", "la.contact", 28, summary=SHIELDED[1], shielded_fields=["summary"]
            ),
            _event(
                LA,
                "OTHER-1",
                "la.contact",
                20,
                summary=OTHER_CONTENT[0],
                child={"nhs_number": OTHER},
            ),
            # Quarantined: a bad check digit, an unknown kind, and a line that is not JSON.
            _event(
                LA, "BAD-1", "la.contact", 5, summary=QUARANTINED[0], child={"nhs_number": BAD_NHS}
            ),
            _event(
                LA,
                "BAD-2",
                "la.no-such-kind",
                5,
                summary=QUARANTINED[0],
                child={"nhs_number": QUARANTINED_CHILD},
            ),
            # truncated JSON
            f'{{"summary": "{QUARANTINED[1]}", "nhs_number": "{QUARANTINED_CHILD}"'.encode(),
        ],
    )
    write_inbox_file(
        inbox,
        POLICE["id"],
        "leak-police",
        [
            _event(
                POLICE,
                "DA-1",
                "police.domestic-abuse-incident",
                0.5,
                details={
                    "child_present": True,
                    "police_reference": "OE-42",
                    "child_voice": CONTENT[1],
                },
            ),
            _event(
                POLICE,
                "VISIT-1",
                "police.home-visit",
                12,
                details={"reason": CONTENT[2], "child_seen": True, "child_spoken_to": False},
            ),
        ],
    )
    write_inbox_file(
        inbox,
        SCHOOL["id"],
        "leak-school",
        [
            _event(
                SCHOOL,
                "ENROL-1",
                "education.enrolled",
                300,
                details={
                    "school_urn": "100001",
                    "starts_on": (NOW - timedelta(days=300)).date().isoformat(),
                },
            )
        ],
    )
    write_inbox_file(
        inbox,
        ICB["id"],
        "leak-icb",
        [
            _event(
                ICB,
                f"WNB-{i}",
                "health.was-not-brought",
                100 - 20 * i,
                details={"service": "paediatrics", "appointment_type": "review"},
            )
            for i in range(3)
        ],
    )


@dataclass
class Scan:
    """Every text or file seen in the run, with what it may contain."""

    texts: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)

    def add(self, where: str, text: str | bytes, allowed: frozenset[str]) -> None:
        self.texts.append(
            (where, text.decode("utf-8", "replace") if isinstance(text, bytes) else text, allowed)
        )

    def leaks(self) -> list[str]:
        return [
            f"{secret!r} in {where}"
            for where, text, allowed in self.texts
            for secret in EVERYTHING
            if secret not in allowed and secret in text
        ]


class Hub:
    """Runs `hub` commands against one hub, keeping every output for the scan."""

    def __init__(self, settings: HubSettings, scan: Scan) -> None:
        self.env = {**hub_env(settings), "HUB_LOG_LEVEL": "info"}
        self.scan = scan

    def __call__(
        self, *args: str, allowed: frozenset[str] = PUBLIC, codes: Iterable[int] = (0,)
    ) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        label = "hub " + " ".join(args[:3])
        assert done.returncode in set(codes), f"{label}: {done.returncode} {done.stderr[-2000:]}"
        self.scan.add(f"{label} (stdout)", done.stdout, allowed)
        self.scan.add(f"{label} (stderr, the logs)", done.stderr, PUBLIC)
        return done.stdout


def scan_files(scan: Scan, directory: Path, allowed: frozenset[str]) -> int:
    count = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        scan.add(str(path.relative_to(directory.parent)), path.read_bytes(), allowed)
        count += 1
    return count


def scan_postgres(scan: Scan, schema: str) -> int:
    """Every row of every table in the hub's schema, bytea columns as raw bytes."""
    with psycopg.connect(POSTGRES_DSN) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchall()
        ]
        for table in tables:
            query = SQL("SELECT * FROM {}.{}").format(Identifier(schema), Identifier(table))
            rows = db.execute(query).fetchall()
            dump = b"\n".join(
                bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
                for row in rows
                for v in row
            )
            scan.add(f"postgres {schema}.{table}", dump, PUBLIC)
    return len(tables)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> HubSettings:
    if request.param == "sqlite":
        return HubSettings(data_dir=tmp_path / "hub", directory=SAMPLE_DIRECTORY_PATH)
    return HubSettings(
        data_dir=tmp_path / "hub",
        directory=SAMPLE_DIRECTORY_PATH,
        store="postgres",
        postgres_dsn=POSTGRES_DSN,
        postgres_schema=request.getfixturevalue("postgres_schema"),
    )


def test_secrets_appear_only_in_authorised_audited_responses(
    settings: HubSettings, tmp_path: Path
) -> None:
    scan = Scan()
    hub = Hub(settings, scan)
    inbox, authorised = tmp_path / "inbox", tmp_path / "authorised"
    authorised.mkdir()
    write_inbox(inbox)
    for agency, adapter in ((LA, "la-csv"), (POLICE, "police-json"), (ICB, "health-fhir")):
        hub("agency", "register", agency["id"], "--type", agency["type"], "--adapter", adapter)
    hub("agency", "register", SCHOOL["id"], "--type", "education", "--adapter", "school-csv")

    ingested = json.loads(
        hub("ingest", "--inbox", str(inbox), "--once", "--format", "json", codes=[3])
    )
    assert (ingested["accepted"], ingested["quarantined"]) == (12, 3)
    listed = json.loads(hub("quarantine", "list", "--format", "json"))
    assert len(listed) == 3
    hub("quarantine", "list")
    hub("status")
    hub("status", "--format", "json")

    view = json.loads(
        hub(
            "chronology",
            CHILD,
            "--as",
            "lcpp-0001",
            "--purpose",
            "child-protection-enquiry",
            "--format",
            "json",
            allowed=DISCLOSURE,
        )
    )
    shown = json.dumps(view)
    assert all(secret in shown for secret in CONTENT)  # the hunt would find them if they leaked
    assert "[shielded]" in shown
    hub(
        "chronology",
        CHILD,
        "--as",
        "po-0002",
        "--purpose",
        "child-protection-enquiry",
        allowed=REFERENCE,
        codes=[4],
    )
    hub("audit", "--as", "dpo-0001", "--child", CHILD, "--format", "json", allowed=REFERENCE)
    hub("audit", "--as", "dpo-0001", "--practitioner", "lcpp-0001", allowed=REFERENCE)
    hub("audit", "--as", "dpo-0001", "--outside-relationship", allowed=REFERENCE)
    sar = hub("audit", "--as", "dpo-0001", "--sar", CHILD, "--format", "json", allowed=DISCLOSURE)
    assert CONTENT[0] in sar
    hub(
        "audit",
        "--as",
        "dpo-0001",
        "--commission-review",
        CHILD,
        "--reviewer",
        "rev-0001",
        "--notes",
        "Rapid review",
        "--days",
        "30",
        allowed=REFERENCE,
    )
    pack = authorised / "review-pack.html"
    hub(
        "replay",
        CHILD,
        "--as-of",
        NOW.isoformat(),
        "--by",
        "rev-0001",
        "--format",
        "html",
        "--out",
        str(pack),
        allowed=DISCLOSURE,
    )
    assert CONTENT[0] in pack.read_text()

    for consumer in ("encompass", "clocks", "indicators"):
        hub("consumer", "run", consumer, "--once")
    hub("consumer", "status")
    hub("consumer", "status", "--format", "json")
    notices = hub("notices", "list", "--as", "dsl-100001", "--format", "json", allowed=DISCLOSURE)
    assert json.loads(notices), "the domestic abuse incident reached the school DSL"
    hub("alerts", "--as", "sw-0002", allowed=DISCLOSURE)
    hub("clocks", "--as", "lcpp-0001")
    for form in ("json", "csv", "html"):
        hub("indicators", "--format", form, "--out", str(authorised / f"indicators.{form}"))
        scan.add(f"indicators.{form}", (authorised / f"indicators.{form}").read_bytes(), PUBLIC)
    hub("checkpoint", "--out", str(authorised / "witness.json"))
    scan.add("witness.json", (authorised / "witness.json").read_bytes(), PUBLIC)
    hub("verify", "--checkpoint", str(authorised / "witness.json"))
    tokens = {
        who: hub("token", "issue", *flag, "--format", "json")
        for who, flag in {
            "lcpp-0001": ("--practitioner", "lcpp-0001"),
            "po-0002": ("--practitioner", "po-0002"),
            "dpo-0001": ("--practitioner", "dpo-0001"),
            "dsl-100001": ("--practitioner", "dsl-100001"),
            "agency": ("--agency", LA["id"]),
        }.items()
    }
    bearer = {
        who: {"Authorization": f"Bearer {json.loads(t)['token']}"} for who, t in tokens.items()
    }

    log = tmp_path / "server.log"
    server, url = start_server(settings, log)
    try:
        with httpx.Client(base_url=url, timeout=60) as http:

            def request(
                method: str, path: str, allowed: frozenset[str], status: int = 200, **kwargs: Any
            ) -> httpx.Response:
                response = http.request(method, path, **kwargs)
                assert response.status_code == status, response.text
                scan.add(f"HTTP {method} {path} {status}", response.text, allowed)
                scan.add(f"HTTP {method} {path} headers", str(response.headers), PUBLIC)
                return response

            purpose = {"X-Hub-Purpose": "child-protection-enquiry"}
            body = {"child": CHILD}
            request("GET", "/healthz", PUBLIC)
            request("GET", "/readyz", PUBLIC)
            request("POST", "/api/v1/chronology", PUBLIC, 401, json=body)
            shown_http = request(
                "POST",
                "/api/v1/chronology",
                DISCLOSURE,
                json=body,
                headers={**bearer["lcpp-0001"], **purpose},
            )
            assert CONTENT[0] in shown_http.text
            request(
                "POST",
                "/api/v1/chronology",
                REFERENCE,
                json=body,
                headers={**bearer["po-0002"], **purpose},
            )
            request(
                "POST", "/api/v1/audit/who-saw", REFERENCE, json=body, headers=bearer["dpo-0001"]
            )
            request(
                "POST",
                "/api/v1/audit/subject-access",
                DISCLOSURE,
                json=body,
                headers=bearer["dpo-0001"],
            )
            request("GET", "/api/v1/notices", DISCLOSURE, headers=bearer["dsl-100001"])
            malformed = json.loads(
                _event(
                    LA,
                    "BAD-3",
                    "la.contact",
                    1,
                    summary=QUARANTINED[0],
                    child={"nhs_number": BAD_NHS},
                )
            )
            published = request(
                "POST", "/api/v1/events", PUBLIC, json=[malformed], headers=bearer["agency"]
            )
            assert sum(published.json()["quarantined"].values()) == 1
    finally:
        stop_server(server)
    scan.add("hub serve log", log.read_bytes(), PUBLIC)
    hub("quarantine", "list")

    files = scan_files(scan, settings.data_dir, PUBLIC)
    if settings.store == "postgres":
        assert files >= 4 and scan_postgres(scan, settings.postgres_schema) > 5  # keys, tables
    else:
        assert files > 5  # events, audit, keys, chronology, integrity, consumers
    scan_files(scan, authorised, DISCLOSURE)
    assert scan.leaks() == []
    # The hunt looks where it must: the authorised responses do hold what is hunted.
    assert any(CHILD in text and CONTENT[1] in text for _, text, _ in scan.texts)
