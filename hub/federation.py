"""Federation between partnerships' hubs (issue 24, docs/federation.md): this hub's identity
toward its partners, signing what it sends and checking what it receives.

A message is sealed for one partner hub named in the register: it carries the inter-partnership
agreement version in force with that partner and this hub's latest signed checkpoint of its
event log (one is made if none exists yet), and is signed with the hub's key, the Ed25519 key
that signs its checkpoints. When the register lists the partner's encryption key, the body
is encrypted to it first (`hub.adapters.message_encryption`, RFC 9180 HPKE) and the signature
covers the ciphertext, so the partner's brokers hold no child's record in clear. A message
received is parsed and checked (`hub.domain.federation.check_message`), then its body opened
with this hub's key; from a partner whose encryption key is registered, a body in clear is
refused. A `MessageProblem` says which field failed and why, for the quarantine, never the
value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson

from hub.adapters.event_store import HubStore
from hub.adapters.message_encryption import (
    SUITE_NAME,
    BodyDecryptionError,
    MessageKey,
    message_info,
    seal_body,
)
from hub.adapters.signing import CheckpointSigner, signature_valid
from hub.domain.federation import (
    Checkpoint,
    FederationMessage,
    MessageProblem,
    MessageType,
    PartnerHub,
    PartnerRegister,
    check_message,
    parse_message,
)
from hub.integrity import IntegrityService, checkpoint_bytes

EVENT_LOG = "events"
ENCRYPTED = "encrypted"  # the one key of an encrypted body: {"encrypted": {suite, ciphertext}}


class FederationError(ValueError):
    """This hub cannot send that: the message names the field (an unknown partner, say)."""


class Federation:
    def __init__(
        self,
        register: PartnerRegister,
        signer: CheckpointSigner,
        integrity: IntegrityService,
        message_key: Callable[[], MessageKey],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.register = register
        self._signer = signer
        self._message_key = message_key  # read when a message is opened
        self._integrity = integrity
        self._clock = clock

    @property
    def hub_id(self) -> str:
        return self.register.this_hub.id

    def partner(self, hub_id: str) -> PartnerHub:
        """An active partner hub, or `FederationError` naming the field."""
        partner = self.register.partner(hub_id)
        if partner is None:
            raise FederationError("recipient: is not a partner hub in this hub's register")
        if not partner.active_on(self._clock().date()):
            raise FederationError("recipient: is not an active partner today")
        return partner

    def seal(
        self, message_type: MessageType, recipient: str, body: Mapping[str, Any]
    ) -> FederationMessage:
        """A signed message for `recipient` carrying this hub's latest event-log checkpoint."""
        partner = self.partner(recipient)
        checkpoint = self._integrity.latest_checkpoint(EVENT_LOG)
        if checkpoint is None:
            checkpoint = next(
                c for c in self._integrity.checkpoint()["checkpoints"] if c["log"] == EVENT_LOG
            )
        message = FederationMessage(
            id=uuid4().hex,
            type=message_type,
            sender=self.hub_id,
            recipient=partner.id,
            sent_at=self._clock(),
            agreement_version=partner.agreement_version,
            checkpoint=Checkpoint.model_validate(checkpoint),
            body=dict(body),
            signer=self._signer.key_id,
        )
        if partner.encryption_public_key is not None:
            plaintext = orjson.dumps(message.body, option=orjson.OPT_SORT_KEYS)
            sealed = seal_body(plaintext, partner.encryption_public_key, _info(message))
            encrypted = {ENCRYPTED: {"suite": SUITE_NAME, "ciphertext": sealed}}
            message = message.model_copy(update={"body": encrypted})
        signature = self._signer.sign(message.signed_bytes()).hex()
        return message.model_copy(update={"signature": signature})

    def receive(self, raw: bytes) -> tuple[FederationMessage, PartnerHub]:
        """The message and its sender, if this hub accepts it; else `MessageProblem`."""
        message = parse_message(raw)
        partner = check_message(
            message, self.register, signature_valid, checkpoint_bytes, self._clock()
        )
        return self._opened(message, partner), partner

    def _opened(self, message: FederationMessage, partner: PartnerHub) -> FederationMessage:
        """The message with its body in clear: opened with this hub's key when encrypted;
        a body in clear only from a partner whose encryption key is not registered."""
        sealed = message.body.get(ENCRYPTED) if len(message.body) == 1 else None
        if sealed is None:
            if partner.encryption_public_key is not None:
                raise MessageProblem(
                    "body",
                    "is not encrypted to this hub (the sender's encryption key is registered)",
                )
            return message
        if not isinstance(sealed, dict) or sealed.get("suite") != SUITE_NAME:
            raise MessageProblem(f"body.{ENCRYPTED}.suite", f"is not {SUITE_NAME}")
        ciphertext = sealed.get("ciphertext")
        if not isinstance(ciphertext, str):
            raise MessageProblem(f"body.{ENCRYPTED}.ciphertext", "is not a string")
        try:
            body = orjson.loads(self._message_key().open_body(ciphertext, _info(message)))
        except BodyDecryptionError as error:
            raise MessageProblem(f"body.{ENCRYPTED}.ciphertext", str(error)) from None
        except orjson.JSONDecodeError:
            raise MessageProblem(f"body.{ENCRYPTED}", "does not hold a JSON object") from None
        if not isinstance(body, dict):
            raise MessageProblem(f"body.{ENCRYPTED}", "does not hold a JSON object")
        return message.model_copy(update={"body": body})


def _info(message: FederationMessage) -> bytes:
    return message_info(message.format, message.sender, message.recipient, message.id, message.type)


class CommittedPositions(Mapping[str, int]):
    """The store's committed position of each source, as `FederationReceiver` asks for it
    (read when asked, not listable); `prefix` keeps a reader's positions apart from another's
    on the same topic (`hub federation answer`'s from `hub federation receive`'s)."""

    def __init__(self, store: HubStore, prefix: str = "") -> None:
        self._store = store
        self._prefix = prefix

    def __getitem__(self, source: str) -> int:
        position = self._store.position(self._prefix + source)
        if position is None:
            raise KeyError(source)
        return position

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
