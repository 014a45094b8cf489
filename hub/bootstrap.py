"""The composition root: the one place that turns settings into wired-up services."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from consumers.framework import Clock, ConsumerRunner, ConsumerState
from consumers.inbox.listing import InboxService
from hub.adapters.agency_registries import AgencyRegistry, CachedAgencyRegistry
from hub.adapters.data_keys import Keyring
from hub.adapters.directory import PractitionerDirectory, load_directory
from hub.adapters.discovery_oprf import SEED_FILE_NAME, DiscoveryKey
from hub.adapters.event_store import HubStore
from hub.adapters.federation_register import RegisterError, load_register
from hub.adapters.file_modes import check_data_dir, keep_new_files_private
from hub.adapters.kek import EnvironmentKekProvider, FileKekProvider, KekProvider
from hub.adapters.key_stores import DataKeyStore
from hub.adapters.message_encryption import KEY_FILE_NAME, MessageKey
from hub.adapters.persistence import (
    Persistence,
    PostgresPersistence,
    SqlitePersistence,
)
from hub.adapters.pseudonyms import Pseudonymiser
from hub.adapters.secrets import decode_secret, load_or_create_secret
from hub.adapters.session_stores import SealedSessionStore
from hub.adapters.signing import CheckpointSigner
from hub.adapters.tokens import TokenVerifier
from hub.audit_ledger import AuditLedger
from hub.audit_queries import AuditQueries
from hub.child_search import ChildSearch
from hub.consumer_registry import build_consumer
from hub.disclosure_gate import DisclosureGate
from hub.domain.discovery import QuestionLimit
from hub.erasure import ErasureService
from hub.federation import Federation
from hub.federation_discovery import DiscoveryService
from hub.federation_ingest import FederationIngest
from hub.federation_transfer import TransferService
from hub.ingest import IngestService
from hub.integrity import IntegrityService
from hub.key_check import check_keys
from hub.onboarding import RegisteredAgencies
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import CedarDecisionPoint
from hub.read_models.chronology_projection import ChronologyProjection
from hub.replay import ReplayService
from hub.settings import HubSettings
from hub.subject_access import SubjectAccessService
from hub.transports.discovery_kafka import AnswersReader
from hub.transports.federation_kafka import FederationSender
from hub.transports.inbox import purge_lines
from hub.withholding_reviews import WithholdingReviews


@dataclass
class Hub:
    settings: HubSettings
    persistence: Persistence
    store: HubStore
    keyring: Keyring
    key_store: DataKeyStore
    pseudonyms: Pseudonymiser
    _opened: list[Any] = field(default_factory=list)

    @cached_property
    def ingest(self) -> IngestService:
        """The one ingest core: the agency register says who may publish, as what; the
        directory which practitioners an allocation may name. A directory file that does not
        exist is an empty directory here (every allocation is quarantined, saying so); one
        that exists but is malformed stops ingest at start, before anything is read."""
        directory = self.directory if self.settings.directory_path.exists() else None
        return IngestService(
            self.store,
            self.pseudonyms,
            agencies=RegisteredAgencies(self.agency_store),
            find_practitioner=lambda practitioner_id: (
                None if directory is None else directory.get(practitioner_id)
            ),
            max_message_bytes=self.settings.max_message_bytes,
            clock_skew=timedelta(seconds=self.settings.clock_skew_seconds),
        )

    @cached_property
    def audit(self) -> AuditLedger:
        with self.persistence.creating_event_logs():
            ledger = AuditLedger(self.settings.audit_env(), self.keyring, self.pseudonyms)
        self._opened.append(ledger)
        return ledger

    @cached_property
    def projection(self) -> ChronologyProjection:
        views = self.persistence.chronology_views()
        return ChronologyProjection(self.store, views, self.keyring, self.pseudonyms)

    @cached_property
    def directory(self) -> PractitionerDirectory:
        return load_directory(self.settings.directory_path)

    @cached_property
    def decisions(self) -> CedarDecisionPoint:
        directory = self.settings.agreements_dir
        registry = (
            AgreementRegistry.from_directory(directory)
            if directory
            else AgreementRegistry.from_directory()
        )
        return CedarDecisionPoint(registry)

    @cached_property
    def gate(self) -> DisclosureGate:
        """The one disclosure gate every surface releases a child's information through."""
        return DisclosureGate(
            self.projection,
            lambda: self.directory,  # read on first use: a system recipient needs none
            self.decisions,
            self.audit,
            self.pseudonyms,
            break_glass_duration=timedelta(minutes=self.settings.break_glass_minutes),
        )

    @cached_property
    def child_search(self) -> ChildSearch:
        """Finding a child by name and date of birth: the blind index, then the gate."""
        return ChildSearch(self.store, self.pseudonyms, self.gate)

    @cached_property
    def agency_store(self) -> AgencyRegistry:
        """The agency register as stored (ingest reads it, so a new agency is accepted at once)."""
        return self.persistence.agency_registry()

    @cached_property
    def agencies(self) -> AgencyRegistry:
        """The register as readers use it (names, contacts, joining dates), cached briefly."""
        return CachedAgencyRegistry(self.agency_store)

    @cached_property
    def inbox(self) -> InboxService:
        """Each practitioner's notices, alerts and notifications, as they read them."""
        return InboxService(
            self.gate,
            self.consumer_runner,
            self.directory,
            lambda: {r.agency_id: r for r in self.agencies.all()},
        )

    @cached_property
    def signer(self) -> CheckpointSigner:
        """The hub's Ed25519 key: it signs checkpoints and, toward partner hubs, messages."""
        return CheckpointSigner.from_file(
            self.settings.keys_path / "checkpoint-signing.pem",
            create=self.settings.create_missing_keys,
        )

    @cached_property
    def integrity(self) -> IntegrityService:
        index = self.persistence.merkle_index()
        # Rows of both logs are sealed through the same keyring, so one mapper opens either.
        return IntegrityService(
            {"events": self.store.recorder, "audit": self.audit.recorder},
            index,
            self.signer,
            authenticate=self.store.envelope.open_state,
        )

    @cached_property
    def federation(self) -> Federation:
        """This hub toward its partner hubs (`HUB_FEDERATION_REGISTER`); a hub without a
        register has no partners, and asking for federation says so."""
        if self.settings.federation_register is None:
            raise RegisterError(
                "federation_register: not set (HUB_FEDERATION_REGISTER names the partner "
                "register file; docs/federation.md)"
            )
        register = load_register(self.settings.federation_register)
        return Federation(register, self.signer, self.integrity, lambda: self.message_key)

    @cached_property
    def message_key(self) -> MessageKey:
        """This hub's federation encryption key (X25519, `<keys>/federation-encryption.pem`):
        partners encrypt message bodies to its public key (`hub federation identity`)."""
        return MessageKey.from_file(
            self.settings.keys_path / KEY_FILE_NAME, create=self.settings.create_missing_keys
        )

    @cached_property
    def federation_transfer(self) -> TransferService:
        """Offering a partner hub the record of a child who moved to its area (through the
        gate, audited, proved against a signed checkpoint, sent to the partner's topic)."""
        return TransferService(
            lambda: self.gate,
            lambda: self.federation,
            self.integrity,
            self.federation_sender.send,
        )

    @cached_property
    def federation_sender(self) -> FederationSender:
        """Producers to partner hubs' brokers, kept open while the hub runs."""
        sender = FederationSender(self.settings.kafka_client_options())
        self._opened.append(sender)
        return sender

    @cached_property
    def federation_ingest(self) -> FederationIngest:
        """Receiving from partner hubs: transfers checked, recorded once, audited."""
        return FederationIngest(
            self.store,
            self.pseudonyms,
            self.federation,
            self.gate,
            max_message_bytes=self.settings.max_message_bytes,
        )

    @cached_property
    def discovery_key(self) -> DiscoveryKey:
        """This hub's discovery (VOPRF) key, from `<keys>/discovery-oprf.seed`: its public key
        goes in partners' registers (`hub federation identity` shows it)."""
        return DiscoveryKey.from_file(
            self.settings.keys_path / SEED_FILE_NAME, create=self.settings.create_missing_keys
        )

    @cached_property
    def discovery(self) -> DiscoveryService:
        """Discovery ("Is anyone else involved?"): holdings, questions and answers between
        partner hubs."""
        options = self.settings.kafka_client_options()
        return DiscoveryService(
            self.federation,
            self.discovery_key,
            self.gate,
            self.projection,
            self.store,
            self.pseudonyms,
            limit=QuestionLimit(
                per_hour=self.settings.discovery_questions_per_hour,
                per_day=self.settings.discovery_questions_per_day,
            ),
            send=self.federation_sender.send,
            open_answers=lambda endpoint: AnswersReader(
                endpoint, options, self.settings.kafka_replication_factor
            ),
            timeout_s=self.settings.discovery_answer_timeout_seconds,
        )

    @cached_property
    def session_store(self) -> SealedSessionStore:
        """The web pages' sessions, in the hub's database so every API replica serves them."""
        return SealedSessionStore(self.persistence.session_rows(), self.keyring)

    @cached_property
    def token_key(self) -> bytes:
        return load_or_create_secret(
            self.settings.keys_path / "api-token.key",
            name="API token key",
            create=self.settings.create_missing_keys,
        )

    def token_verifier(self) -> TokenVerifier:
        s = self.settings
        jwks = json.loads(s.oidc_jwks_file.read_text()) if s.oidc_jwks_file else None
        return TokenVerifier(
            dev_key=self.token_key if s.dev_tokens else None,
            oidc_issuer=s.oidc_issuer,
            oidc_audience=s.oidc_audience,
            oidc_jwks=jwks,
            oidc_jwks_url=s.oidc_jwks_url,
            oidc_discovery=s.oidc_client_id is not None,
            practitioner_claim=s.oidc_practitioner_claim,
            access_token_types=s.oidc_access_token_type_values,
            leeway_seconds=s.oidc_leeway_seconds,
        )

    @cached_property
    def erasure(self) -> ErasureService:
        return ErasureService(
            self.gate,
            self.projection,
            self.keyring,
            self.audit,
            # Clear copies the hub can reach: inbox files kept under the data directory.
            clear_copies=lambda identifiers: purge_lines(self.settings.data_dir, identifiers),
            forget_index=self.child_search.forget,
        )

    @cached_property
    def replay(self) -> ReplayService:
        return ReplayService(
            self.gate, self.audit, agencies=self.agencies, partner_names=self.partner_names
        )

    def partner_names(self) -> dict[str, str]:
        """Partner hub id -> its partnership's name, from the partner register (none without
        one), for what a replay says crossed the boundary."""
        if self.settings.federation_register is None:
            return {}
        try:
            return {p.id: p.name for p in self.federation.register.partners}
        except RegisterError:  # a replay still says what crossed, naming partners by hub id
            return {}

    @cached_property
    def audit_queries(self) -> AuditQueries:
        return AuditQueries(
            self.audit,
            self.gate,
            self.decisions.agreements,
            longest_commission=timedelta(days=self.settings.review_commission_max_days),
        )

    @cached_property
    def withholding_reviews(self) -> WithholdingReviews:
        return WithholdingReviews(self.gate, self.audit)

    @cached_property
    def subject_access(self) -> SubjectAccessService:
        return SubjectAccessService(
            self.gate, self.audit, self.audit_queries, self.decisions.agreements
        )

    def consumer_runner(self, name: str, clock: Clock | None = None) -> ConsumerRunner:
        """A consumer (`consumers/`) following this hub's log, with its own state store:
        `consumers/<name>.sqlite`, or tables `hub_consumer_<name>*` on PostgreSQL."""
        consumer = build_consumer(self, name)
        state = ConsumerState(name, self.persistence.consumer_views(name), self.keyring)
        return ConsumerRunner(consumer, self.store, state, clock or (lambda: datetime.now(UTC)))

    def close(self) -> None:
        for opened in self._opened:
            opened.close()
        self.store.close()


def _kek_provider(settings: HubSettings) -> KekProvider:
    if settings.kek:
        return EnvironmentKekProvider(settings.kek)
    return FileKekProvider(settings.keys_path / "kek", create=settings.create_missing_keys)


def _pseudonym_key(settings: HubSettings) -> bytes:
    if settings.pseudonym_key:
        return decode_secret(settings.pseudonym_key, name="HUB_PSEUDONYM_KEY")
    return load_or_create_secret(
        settings.keys_path / "pseudonym.key",
        name="pseudonym key",
        create=settings.create_missing_keys,
    )


def _persistence(settings: HubSettings) -> Persistence:
    """SQLite or PostgreSQL, chosen here once for every store but the two event logs (whose
    `eventsourcing` environment `settings` builds from the same setting)."""
    if settings.store == "postgres":
        return PostgresPersistence(settings.postgres_dsn, settings.postgres_schema)
    return SqlitePersistence(settings.data_dir)


class NoHubError(LookupError):
    """A command that only reads was pointed at a data directory (or PostgreSQL schema) that
    holds no hub: most often a mistyped setting, which must not become a new, empty hub."""

    def __init__(self, settings: HubSettings) -> None:
        where = (
            "the PostgreSQL schema HUB_POSTGRES_SCHEMA (in HUB_POSTGRES_DSN)"
            if settings.store == "postgres"
            else "the data directory --data-dir (HUB_DATA_DIR)"
        )
        super().__init__(
            f"no hub in {where}: check the setting. A hub is made by `hub agency register`, "
            "`hub ingest`, `hub serve`, `hub consumer run` or `hub demo`, never by a command "
            "that reads"
        )


def bootstrap(settings: HubSettings | None = None, *, create: bool = True) -> Hub:
    """Open the hub the settings name; with `create=False`, refuse (`NoHubError`) where there
    is none rather than making one with fresh keys."""
    settings = settings or HubSettings()
    keep_new_files_private()
    persistence = _persistence(settings)
    if not create and not persistence.holds_hub():
        raise NoHubError(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_data_dir(settings.data_dir)
    key_store = persistence.key_store()
    keyring = Keyring(key_store, _kek_provider(settings))
    pseudonyms = Pseudonymiser(_pseudonym_key(settings))
    with persistence.creating_event_logs():  # eventsourcing creates its tables when new
        store = HubStore(settings.eventsourcing_env(), keyring)
    try:
        keys = "HUB_KEK" if settings.kek else str(settings.keys_path)
        check_keys(
            store, key_store, keyring, pseudonyms, f"the store {settings.describe_store()} ({keys})"
        )
    except BaseException:
        store.close()
        raise
    return Hub(settings, persistence, store, keyring, key_store, pseudonyms)
