"""What the deployment reads from the store, on SQLite and PostgreSQL: the agency registry,
the last `hub verify` result (for `hub_verify_ok`), and the ingest and disclosure counters
driven by the real services."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.agency_records import OnboardingError
from hub.domain.canonical_event import ChildRef
from hub.ingest import InboundMessage
from hub.onboarding import new_agency
from hub.settings import HubSettings
from tests.conftest import POSTGRES_DSN
from tests.factories import VALID_NHS_NUMBER, register_agencies
from tests.integration.test_disclosure import CASE

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_agency_registry_records_each_agency_once(hub: Hub) -> None:
    police = new_agency("shire-police", "police", "police-json", NOW)
    assert hub.agencies.register(police) is True
    assert hub.agencies.register(police) is False  # registering again changes nothing
    moved = new_agency("shire-police", "police", "canonical", NOW)
    assert hub.agencies.register(moved) is True  # a new adapter is a change
    with pytest.raises(OnboardingError, match="registered as police"):
        hub.agencies.register(new_agency("shire-police", "health", "health-fhir", NOW))
    school = new_agency("oak-primary", "education", "school-csv", NOW)
    hub.agencies.register(school)
    mine = [(a.agency_id, a.adapter) for a in hub.agencies.all() if "-p" in a.agency_id]
    assert mine == [("oak-primary", "school-csv"), ("shire-police", "canonical")]


def test_each_verify_run_is_recorded_for_the_metrics(hub: Hub) -> None:
    assert hub.integrity.last_verification() is None
    hub.integrity.checkpoint()
    report = hub.integrity.verify()
    last = hub.integrity.last_verification()
    assert last is not None and report.ok
    assert (last["ok"], last["findings"]) == (True, 0)
    assert abs(last["at_epoch"] - datetime.now(UTC).timestamp()) < 600


def test_ingest_and_disclosure_counters_follow_the_real_services(settings: HubSettings) -> None:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    try:
        accepted = sample("hub_ingest_events_total", agency="shire-icb", outcome="accepted")
        quarantined = sample("hub_ingest_quarantined_total", reason="malformed-json")
        values = [*CASE["shire-icb"], b"{not json"]
        hub.ingest.ingest(
            [
                InboundMessage("inbox:shire-icb/m", i + 1, v, "shire-icb")
                for i, v in enumerate(values)
            ]
        )
        for agency, messages in CASE.items():
            if agency != "shire-icb":
                hub.ingest.ingest(
                    [
                        InboundMessage(f"inbox:{agency}/m", i + 1, v, agency)
                        for i, v in enumerate(messages)
                    ]
                )
        assert sample(
            "hub_ingest_events_total", agency="shire-icb", outcome="accepted"
        ) == accepted + len(CASE["shire-icb"])
        assert sample("hub_ingest_quarantined_total", reason="malformed-json") == quarantined + 1

        shown = sample("hub_disclosures_total", action="view", outcome="disclosed")
        denied = sample("hub_denials_total", action="view")
        child = ChildRef(nhs_number=VALID_NHS_NUMBER)
        hub.gate.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
        hub.gate.view(child, "lcpp-0001", None)  # no purpose: denied, and audited
        assert sample("hub_disclosures_total", action="view", outcome="disclosed") == shown + 1
        assert sample("hub_denials_total", action="view") == denied + 1
    finally:
        hub.close()


@pytest.mark.postgres
def test_processes_starting_together_on_postgres_all_start(
    postgres_schema: str, tmp_path: Path
) -> None:
    """eventsourcing re-creates its insert function at every start; without the hub's schema
    lock, two processes starting at once failed with "tuple concurrently updated" (and two
    creating the same new table, with a duplicate pg_type key)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_STORE": "postgres",
        "HUB_POSTGRES_DSN": POSTGRES_DSN,
        "HUB_POSTGRES_SCHEMA": postgres_schema,
        "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH),
    }
    assert (
        subprocess.run([sys.executable, "-m", "hub.cli", "keys", "init"], env=env).returncode == 0
    )
    commands = [  # processes that create the hub as they start, as deployed ones do
        ["consumer", "run", "clocks", "--once"],
        ["consumer", "run", "inbox", "--once"],  # with the audit ledger
    ]
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *commands[i % 2]],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in starts]
    assert not [e for e in errors if "concurrently" in e or "Traceback" in e]
    assert [p.returncode for p in starts] == [0] * len(starts), errors


def _create_the_hubs_tables(schema: str, barrier: Any, results: Any) -> None:
    from hub.adapters.agency_registries import PostgresAgencyRegistry
    from hub.adapters.chronology_views import PostgresChronologyViewStore
    from hub.adapters.key_stores import PostgresDataKeyStore
    from hub.adapters.merkle_index import PostgresMerkleIndexStore

    try:
        for create in (
            lambda: PostgresChronologyViewStore(POSTGRES_DSN, schema),
            lambda: PostgresChronologyViewStore(POSTGRES_DSN, schema, "consumer_clocks"),
            lambda: PostgresDataKeyStore(POSTGRES_DSN, schema),
            lambda: PostgresMerkleIndexStore(POSTGRES_DSN, schema),
            lambda: PostgresAgencyRegistry(POSTGRES_DSN, schema),
        ):
            barrier.wait(timeout=60)  # all at once, per table set
            create()
        results.put("ok")
    except Exception as error:  # reported to the test, which shows it
        results.put(f"{type(error).__name__}: {error}")


def test_the_hubs_own_tables_are_created_by_processes_starting_together(
    postgres_schema: str,
) -> None:
    """Eight processes creating the hub's tables in a new schema at the same moment: without
    the DDL lock in `PostgresSchema.create`, CREATE TABLE IF NOT EXISTS collided in the
    catalog (duplicate pg_type key) in every one of ten trial rounds."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [
        context.Process(target=_create_the_hubs_tables, args=(postgres_schema, barrier, results))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["ok"] * 8
