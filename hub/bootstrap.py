"""The composition root: the one place that turns settings into wired-up services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hub.adapters.data_keys import DataKeyStore, Keyring, PostgresDataKeyStore, SqliteDataKeyStore
from hub.adapters.kek import EnvironmentKekProvider, FileKekProvider, KekProvider
from hub.adapters.pseudonyms import Pseudonymiser
from hub.adapters.secrets import decode_secret, load_or_create_secret
from hub.ingest import IngestService
from hub.settings import HubSettings
from hub.store import HubStore


@dataclass
class Hub:
    settings: HubSettings
    store: HubStore
    keyring: Keyring
    key_store: DataKeyStore
    pseudonyms: Pseudonymiser
    ingest: IngestService

    def close(self) -> None:
        self.store.close()


def _kek_provider(settings: HubSettings) -> KekProvider:
    if settings.kek:
        return EnvironmentKekProvider(settings.kek)
    return FileKekProvider(settings.keys_dir / "kek")


def _pseudonym_key(settings: HubSettings) -> bytes:
    if settings.pseudonym_key:
        return decode_secret(settings.pseudonym_key, name="HUB_PSEUDONYM_KEY")
    return load_or_create_secret(settings.keys_dir / "pseudonym.key", name="pseudonym key")


def _key_store(settings: HubSettings) -> DataKeyStore:
    if settings.store == "postgres":
        return PostgresDataKeyStore(settings.postgres_dsn, settings.postgres_schema)
    return SqliteDataKeyStore(settings.data_dir / "keys.sqlite")


def bootstrap(settings: HubSettings | None = None) -> Hub:
    settings = settings or HubSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_store = _key_store(settings)
    keyring = Keyring(key_store, _kek_provider(settings))
    pseudonyms = Pseudonymiser(_pseudonym_key(settings))
    store = HubStore(settings.eventsourcing_env(), keyring)
    ingest = IngestService(
        store,
        pseudonyms,
        max_message_bytes=settings.max_message_bytes,
        clock_skew=timedelta(seconds=settings.clock_skew_seconds),
    )
    return Hub(settings, store, keyring, key_store, pseudonyms, ingest)
