""" "Is anyone else involved?" over the federation link (issue 24, docs/federation.md).

The protocol and what each side learns are in `hub.domain.discovery`; the cryptography (RFC 9497
VOPRF) in `hub.adapters.discovery_oprf`. This service moves it between hubs:

- **Holdings** (`publish_holdings`, `store_holdings`): this hub's digest of every child it holds
  records about by NHS number (erased children are not held), sent to each partner as signed
  `holdings` messages of at most `HOLDINGS_PART_DIGESTS` digests; a receiving hub keeps every
  part in its own event store (one stream per partner, `PartnerHoldingsReceived`, so it works on
  SQLite and PostgreSQL alike) after checking they were computed with the partner's registered
  discovery key, and looks questions up in the latest complete publication.
- **Answering** (`answer`, `handle`): a partner's `discovery-query` names no child, only a
  blinded element and the asking practitioner (the partner's pseudonym for them, their role and
  organisation). The gate applies this hub's question limit per (partner, practitioner) and
  audits the question before it is evaluated; the signed `discovery-answer` goes to the asking
  hub's answers topic (its registered inbound topic + `.answers`). A question older than
  `QUERY_MAX_AGE` is not answered: its asker has stopped waiting.
- **Asking** (`ask`): the gate refuses a practitioner without a relationship to the child, or
  over this hub's limit, and audits the question; then the answers topic is read from its end
  (placed there before anything is sent), one freshly blinded question goes to every active
  partner with a discovery key, and each answer is finalized with the partner's *registered*
  key and looked up in its latest holdings. What the practitioner was told is audited.

`handle(message, partner, tracking)` is what a receiving loop calls for a `holdings` or
`discovery-query` message (`hub federation receive` may dispatch these to it); `hub federation
answer --once` reads the inbound topic for them meanwhile, keeping its own positions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

import structlog
from eventsourcing.persistence import Tracking

from hub.adapters.data_keys import DataKeyErasedError
from hub.adapters.discovery_oprf import (
    BlindingState,
    DiscoveryError,
    DiscoveryKey,
    blind,
    discovery_key_id,
    finalize,
)
from hub.adapters.event_store import HubStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.disclosure_gate import DisclosureGate
from hub.domain.access import Practitioner
from hub.domain.canonical_event import ChildRef
from hub.domain.discovery import (
    DiscoveryDataError,
    DiscoveryResult,
    Holdings,
    HoldingsPart,
    PartnerAnswer,
    QuestionLimit,
    answers_topic,
    complete_holdings,
    digests_from_hex,
    holdings_parts,
)
from hub.domain.federation import FederationMessage, KafkaEndpoint, MessageProblem, PartnerHub
from hub.domain.identity import InvalidIdentifierError, validate_nhs_number
from hub.domain.records import ChildRecordEntry, PartnerHoldingsReceived
from hub.federation import CommittedPositions, Federation
from hub.read_models.chronology_projection import ChronologyProjection

log = structlog.get_logger("hub.federation_discovery")

QUERY_MAX_AGE = timedelta(minutes=2)
_HOLDINGS_PAGE = 20
_FIRST_RECORDS_CHUNK = 500
_HEX32 = frozenset("0123456789abcdef")

Send = Callable[[KafkaEndpoint, FederationMessage], None]


class AnswerSource(Protocol):
    def poll(self, timeout_ms: int = 500) -> list[bytes]: ...

    def close(self) -> None: ...


def _hex(body: dict[str, Any], field: str, length: int) -> str:
    value = body.get(field)
    if not isinstance(value, str) or len(value) != length or not set(value) <= _HEX32:
        raise MessageProblem(f"body.{field}", f"must be {length} lower-case hex digits")
    return value


def _text(body: dict[str, Any], field: str, longest: int = 200) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value or len(value) > longest:
        raise MessageProblem(f"body.{field}", f"must be text of 1 to {longest} characters")
    return value


@dataclass(frozen=True)
class _Pending:
    partner: PartnerHub
    state: BlindingState


class DiscoveryService:
    def __init__(
        self,
        federation: Federation,
        key: DiscoveryKey,
        gate: DisclosureGate,
        projection: ChronologyProjection,
        store: HubStore,
        pseudonyms: Pseudonymiser,
        *,
        limit: QuestionLimit,
        send: Send,
        open_answers: Callable[[KafkaEndpoint], AnswerSource],
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._federation = federation
        self._key = key
        self._gate = gate
        self._projection = projection
        self._store = store
        self._pseudonyms = pseudonyms
        self._limit = limit
        self._send = send
        self._open_answers = open_answers
        self._timeout_s = timeout_s
        self._clock = clock
        # partner id -> (the head of its holdings stream when read, its latest holdings)
        self._holdings_cache: dict[str, tuple[int, Holdings | None]] = {}

    # Holdings -------------------------------------------------------------------------------

    def held_nhs_numbers(self) -> list[str]:
        """The NHS number of every child this hub holds records about (not erased). One
        decryption per child (its stream's first record) and, for a stream that began with an
        identity link or a record received from a partner, its chronology."""
        self._projection.catch_up()
        streams = [
            name
            for name, _ in self._projection.last_activity()
            if not self._projection.documents_erased(name)
        ]
        found: set[str] = set()
        for start in range(0, len(streams), _FIRST_RECORDS_CHUNK):
            chunk = [UUID(name) for name in streams[start : start + _FIRST_RECORDS_CHUNK]]
            try:
                firsts = self._store.first_records(chunk)
            except DataKeyErasedError:  # erased since the check: one at a time
                firsts = {}
                for stream in chunk:
                    try:
                        firsts.update(self._store.first_records([stream]))
                    except DataKeyErasedError:
                        continue
            for stream in chunk:
                number = self._nhs_number(stream, firsts.get(stream))
                if number:
                    found.add(number)
        return sorted(found)

    def _nhs_number(self, stream: UUID, first: object) -> str | None:
        if not isinstance(first, ChildRecordEntry):
            return None
        if first.entry_type == "agency-event":
            child = first.body.get("child") or {}
            return child.get("nhs_number") or None  # a provisional id's stream: no NHS number
        try:  # an identity link, or a record received from a partner hub
            entries = self._projection.snapshot(stream).entries
        except DataKeyErasedError:
            return None
        for entry in entries:
            if entry.stream == stream.hex and entry.event.child.nhs_number:
                return entry.event.child.nhs_number
        for entry in entries:
            if entry.event.kind == "identity.linked":
                return str(entry.event.details.get("nhs_number", "")) or None
        return None

    def holdings(self) -> Holdings:
        numbers: list[str] = []
        for number in self.held_nhs_numbers():
            try:
                numbers.append(validate_nhs_number(number))
            except InvalidIdentifierError:
                continue  # recorded before validation was as strict: not a child to publish
        return self._key.holdings(self._federation.hub_id, numbers, self._clock())

    def publish_holdings(self, partner_id: str | None = None) -> dict[str, int]:
        """Send this hub's holdings to one partner, or to every active partner; returns how
        many children went to each (partner id -> children)."""
        holdings = self.holdings()
        parts = holdings_parts(holdings.digests)
        today = self._clock().date()
        partners = (
            [self._federation.partner(partner_id)]
            if partner_id
            else [p for p in self._federation.register.partners if p.active_on(today)]
        )
        holdings_id = uuid4().hex
        for partner in partners:
            for number, digests in enumerate(parts, start=1):
                message = self._federation.seal(
                    "holdings",
                    partner.id,
                    {
                        "holdings_id": holdings_id,
                        "part": number,
                        "parts": len(parts),
                        "key_id": holdings.key_id,
                        "as_of": holdings.as_of.isoformat(),
                        "digests": digests,
                    },
                )
                self._send(partner.kafka, message)
        log.info("holdings_published", partners=len(partners), children=len(holdings.digests))
        return {partner.id: len(holdings.digests) for partner in partners}

    def store_holdings(
        self, message: FederationMessage, partner: PartnerHub, tracking: Tracking | None = None
    ) -> None:
        """Keep one part of a partner's holdings (a checked `holdings` message), or raise
        `MessageProblem` naming the field."""
        body = message.body
        if partner.discovery_public_key is None:
            raise MessageProblem("type", "this hub's register has no discovery key for the sender")
        holdings_id = _hex(body, "holdings_id", 32)
        part, parts = body.get("part"), body.get("parts")
        if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
            raise MessageProblem("body.parts", "must be a whole number from 1")
        if not isinstance(part, int) or isinstance(part, bool) or not 1 <= part <= parts:
            raise MessageProblem("body.part", "must be a whole number from 1 to parts")
        if body.get("key_id") != discovery_key_id(partner.discovery_public_key):
            raise MessageProblem(
                "body.key_id", "is not the sender's registered discovery key: not kept"
            )
        try:
            as_of = datetime.fromisoformat(_text(body, "as_of", 40))
        except ValueError:
            raise MessageProblem("body.as_of", "is not a date and time") from None
        if as_of.tzinfo is None:
            raise MessageProblem("body.as_of", "must be a time with a zone")
        digests = body.get("digests")
        if not isinstance(digests, str):
            raise MessageProblem("body.digests", "must be concatenated hex digests")
        try:
            digests_from_hex(digests)
        except DiscoveryDataError as error:
            raise MessageProblem("body.digests", str(error).partition(": ")[2]) from None
        stream = self._holdings_stream(partner.id)
        record = PartnerHoldingsReceived(
            originator_id=stream,
            originator_version=self._store.last_version(stream) + 1,
            timestamp=self._clock(),
            partner=partner.id,
            message_id=message.id,
            holdings_id=holdings_id,
            part=part,
            parts=parts,
            key_id=str(body["key_id"]),
            as_of=as_of,
            digests=digests,
        )
        self._append([record], tracking)
        log.info("holdings_received", partner=partner.id, part=part, parts=parts)

    def _holdings_stream(self, partner_id: str) -> UUID:
        return self._pseudonyms.source_stream("federation-holdings", partner_id)

    def latest_holdings(self, partner_id: str) -> Holdings | None:
        """The partner's latest complete holdings, reading its stream from the newest part;
        kept in memory until another part arrives (one query to find out)."""
        stream = self._holdings_stream(partner_id)
        head = self._store.last_version(stream)
        cached = self._holdings_cache.get(partner_id)
        if cached is not None and cached[0] == head:
            return cached[1]
        found = self._read_holdings(partner_id, stream)
        self._holdings_cache[partner_id] = (head, found)
        return found

    def _read_holdings(self, partner_id: str, stream: UUID) -> Holdings | None:
        parts: list[HoldingsPart] = []
        before: int | None = None
        while True:
            rows = self._store.recorder.select_events(
                stream,
                desc=True,
                limit=_HOLDINGS_PAGE,
                lte=None if before is None else before - 1,
            )
            for row in rows:
                record = self._store.mapper.to_domain_event(row)
                if isinstance(record, PartnerHoldingsReceived):
                    parts.append(
                        HoldingsPart(
                            record.holdings_id,
                            record.part,
                            record.parts,
                            record.key_id,
                            record.as_of,
                            digests_from_hex(record.digests),
                        )
                    )
            found = complete_holdings(partner_id, parts)
            if found is not None or len(rows) < _HOLDINGS_PAGE:
                return found
            before = rows[-1].originator_version

    def _append(
        self, records: Sequence[PartnerHoldingsReceived], tracking: Tracking | None
    ) -> None:
        if tracking is None:
            self._store.recorder.insert_events(self._store.envelope.to_stored_events(records))
        else:
            self._store.append(records, tracking)

    # Answering ------------------------------------------------------------------------------

    def answer(self, message: FederationMessage, partner: PartnerHub) -> FederationMessage | None:
        """This hub's signed answer to a partner's checked `discovery-query`: evaluated (with
        its proof) if the gate lets the question through, else refused in words; None for a
        question too old to be waited for. Raises `MessageProblem` for a malformed question."""
        body = message.body
        query_id = _hex(body, "query_id", 32)
        blinded = _hex(body, "blinded", 64)
        asker = _hex(body, "practitioner", 32)
        role, organisation = _text(body, "role", 64), _text(body, "organisation")
        if message.sent_at < self._clock() - QUERY_MAX_AGE:
            log.info("discovery_query_too_old", partner=partner.id)
            return None
        audited = self._gate.question_from_partner(
            partner.id,
            asker,
            role,
            organisation,
            message.agreement_version,
            query_id,
            self._limit,
        )
        reply: dict[str, str] = {"query_id": query_id}
        if not audited.allowed:
            reply["refused"] = audited.reason
        else:
            try:
                reply["evaluated"] = self._key.evaluate(bytes.fromhex(blinded)).hex()
            except DiscoveryError:
                reply["refused"] = "the question was not a valid blinded element"
        return self._federation.seal("discovery-answer", partner.id, reply)

    def handle(
        self, message: FederationMessage, partner: PartnerHub, tracking: Tracking | None = None
    ) -> str:
        """Deal with a checked `holdings` or `discovery-query` message from a partner (moving
        `tracking`, when given, with what is kept); returns what was done, in a word."""
        if message.type == "holdings":
            self.store_holdings(message, partner, tracking)
            return "holdings-kept"
        if message.type == "discovery-query":
            reply = self.answer(message, partner)
            if reply is not None:
                destination = KafkaEndpoint(  # the partner's brokers, with its credential
                    bootstrap=partner.kafka.bootstrap,
                    topic=answers_topic(partner.kafka.topic),
                    client=partner.kafka.client,
                )
                self._send(destination, reply)
            if tracking is not None:
                self.skip(tracking)
            return "too-old" if reply is None else "answered"
        raise MessageProblem("type", "is not a discovery message")

    def skip(self, tracking: Tracking) -> None:
        """Move past a message this hub does not act on here."""
        self._store.append([], tracking)

    # Asking ---------------------------------------------------------------------------------

    def partners_to_ask(self) -> list[PartnerHub]:
        today = self._clock().date()
        return [
            p
            for p in self._federation.register.partners
            if p.active_on(today) and p.discovery_public_key is not None
        ]

    def ask(self, child: ChildRef, practitioner_id: str) -> DiscoveryResult:
        """Whether any partner hub holds records about the child, for this practitioner."""
        if child.nhs_number is None:
            return DiscoveryResult(
                refused="Partner hubs can be asked only about a child with an NHS number.",
                refusal="no-nhs-number",
            )
        partners = self.partners_to_ask()
        audited = self._gate.question_partners(
            child, practitioner_id, self._limit, [p.id for p in partners]
        )
        if not audited.allowed:
            return DiscoveryResult(
                refused=audited.reason,
                refusal=audited.outcome,
                ask_again_from=audited.next_allowed_at,
            )
        if not partners:
            self._gate.record_partner_answers(child, practitioner_id, {"asked": []})
            return DiscoveryResult()
        practitioner = self._gate.practitioner(practitioner_id)
        outcomes: dict[str, PartnerAnswer] = {}
        try:
            self._exchange(child.nhs_number, practitioner, partners, outcomes)
        except Exception:  # the link is down: every partner not yet heard did not answer
            log.warning("discovery_answers_not_read", exc_info=True)
        answers = tuple(
            outcomes.get(p.id) or PartnerAnswer(p.name, p.contact, "did-not-answer")
            for p in partners
        )
        by_outcome: dict[str, list[str]] = {"asked": [p.id for p in partners]}
        for partner, answer in zip(partners, answers, strict=True):
            by_outcome.setdefault(answer.outcome, []).append(partner.id)
        self._gate.record_partner_answers(child, practitioner_id, by_outcome)
        return DiscoveryResult(answers)

    def _exchange(
        self,
        nhs_number: str,
        practitioner: Practitioner,
        partners: Sequence[PartnerHub],
        outcomes: dict[str, PartnerAnswer],
    ) -> None:
        """Send one freshly blinded question to each partner, the answers topic read from its
        end as it was before the first was sent, and take the answers until each partner has
        answered or the time is up."""
        asker = self._pseudonyms.source_stream("discovery-asker", practitioner.id).hex
        this = self._federation.register.this_hub.kafka
        reader = self._open_answers(
            KafkaEndpoint(bootstrap=this.bootstrap, topic=answers_topic(this.topic))
        )
        pending: dict[str, _Pending] = {}
        try:
            for partner in partners:
                state, blinded = blind(nhs_number)
                query_id = uuid4().hex
                question = self._federation.seal(
                    "discovery-query",
                    partner.id,
                    {
                        "query_id": query_id,
                        "blinded": blinded.hex(),
                        "practitioner": asker,
                        "role": practitioner.role.value,
                        "organisation": practitioner.organisation,
                    },
                )
                try:
                    self._send(partner.kafka, question)
                except Exception:  # an unreachable partner is one that did not answer
                    log.warning("discovery_query_not_sent", partner=partner.id, exc_info=True)
                    continue
                pending[query_id] = _Pending(partner, state)
            deadline = self._clock() + timedelta(seconds=self._timeout_s)
            while pending and self._clock() < deadline:
                for raw in reader.poll(timeout_ms=200):
                    self._take_answer(raw, pending, outcomes)
        finally:
            reader.close()

    def _take_answer(
        self, raw: bytes, pending: dict[str, _Pending], outcomes: dict[str, PartnerAnswer]
    ) -> None:
        try:
            message, sender = self._federation.receive(raw)
        except MessageProblem as problem:
            log.warning("discovery_answer_refused", field=problem.field)
            return
        query_id = message.body.get("query_id")
        asked = pending.get(query_id) if isinstance(query_id, str) else None
        if message.type != "discovery-answer" or asked is None or asked.partner.id != sender.id:
            return  # an answer to another question (or for someone else): not this one's
        del pending[str(query_id)]
        partner = asked.partner
        refused = message.body.get("refused")
        if isinstance(refused, str):
            outcomes[partner.id] = PartnerAnswer(partner.name, partner.contact, "refused", refused)
            return
        outcomes[partner.id] = self._look_up(partner, asked.state, message.body.get("evaluated"))

    def _look_up(
        self, partner: PartnerHub, state: BlindingState, evaluated: object
    ) -> PartnerAnswer:
        registered = partner.discovery_public_key or ""
        try:
            if not isinstance(evaluated, str):
                raise DiscoveryError("evaluated is missing")
            digest = finalize(state, bytes.fromhex(evaluated), registered)
        except (DiscoveryError, ValueError):  # a proof that fails is a DiscoveryError too
            log.warning("discovery_answer_did_not_verify", partner=partner.id)
            return PartnerAnswer(partner.name, partner.contact, "did-not-verify")
        holdings = self.latest_holdings(partner.id)
        if holdings is None or not holdings.computed_with(discovery_key_id(registered)):
            return PartnerAnswer(partner.name, partner.contact, "no-holdings")
        outcome = "holds" if holdings.holds(digest) else "does-not-hold"
        return PartnerAnswer(partner.name, partner.contact, outcome)


class InboundItem(Protocol):
    """A message read from this hub's inbound topic (`hub.transports.federation_kafka`)."""

    @property
    def source(self) -> str: ...

    @property
    def position(self) -> int: ...

    @property
    def raw(self) -> bytes: ...


DISCOVERY_SOURCE_PREFIX = "discovery:"
"""`hub federation answer` keeps its own positions in the inbound topic under this prefix, so
it neither takes nor skips the messages `hub federation receive` records (transfers)."""


def discovery_positions(store: HubStore) -> CommittedPositions:
    """The positions `hub federation answer` has dealt with, as `FederationReceiver` asks."""
    return CommittedPositions(store, DISCOVERY_SOURCE_PREFIX)


def serve(
    service: DiscoveryService, federation: Federation, items: Iterable[InboundItem]
) -> Counter[str]:
    """Deal with the discovery messages among these inbound items (anything else is left to
    `hub federation receive`), each position recorded under `DISCOVERY_SOURCE_PREFIX`;
    returns what was done, counted ("answered", "holdings-kept", "refused: <field>", ...)."""
    done: Counter[str] = Counter()
    for item in items:
        tracking = Tracking(DISCOVERY_SOURCE_PREFIX + item.source, item.position)
        try:
            message, partner = federation.receive(item.raw)
            if message.type not in HANDLED_TYPES:
                service.skip(tracking)
                continue
            done[service.handle(message, partner, tracking)] += 1
        except MessageProblem as problem:
            log.warning("discovery_message_refused", field=problem.field, reason=problem.reason)
            done[f"refused: {problem.field} {problem.reason}"] += 1
            service.skip(tracking)
    return done


HANDLED_TYPES = frozenset({"holdings", "discovery-query"})
"""The federation message types `DiscoveryService.handle` deals with."""
