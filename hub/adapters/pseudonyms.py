"""Keyed pseudonyms: how the hub names streams without revealing who they are about.

There are only about 10^9 NHS numbers, so an unkeyed hash could be reversed by enumeration;
every identifier is therefore HMAC-SHA256'd under the pseudonym key, which lives apart from
the database. Each use has its own domain label so pseudonyms cannot be matched across uses.

Child stream pseudonyms are cached (bounded): ingest asks for the same heavy-tail children
again and again. The cache holds only what the store already names streams by.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from uuid import UUID

from hub.domain.canonical_event import ChildRef

_CHILD_CACHE_SIZE = 100_000


# The blind index's key is derived from the pseudonym key (HMAC-SHA256 of this label), so it is
# never stored anywhere, and a blind index hash cannot be matched with a stream pseudonym.
_BLIND_INDEX_KEY_LABEL = b"hub-blind-index-key-v1"


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._blind_key = hmac.digest(key, _BLIND_INDEX_KEY_LABEL, "sha256")
        self._children: OrderedDict[str, UUID] = OrderedDict()

    def _uuid(self, label: str, value: str) -> UUID:
        # hmac.digest is OpenSSL's one-shot HMAC: the same MAC as hmac.new(...).digest().
        digest = hmac.digest(self._key, f"{label}\x1f{value}".encode(), "sha256")
        # RFC 9562 version 8 (custom) UUID from the first 16 bytes of the MAC.
        raw = bytearray(digest[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80
        raw[8] = (raw[8] & 0x3F) | 0x80
        return UUID(bytes=bytes(raw))

    def child_stream(self, child: ChildRef) -> UUID:
        if child.nhs_number is not None:
            return self.nhs_stream(child.nhs_number)
        return self._uuid("child-provisional", child.identifier)

    def nhs_stream(self, nhs_number: str) -> UUID:
        cached = self._children.get(nhs_number)
        if cached is not None:
            return cached
        stream = self._children[nhs_number] = self._uuid("child-nhs", nhs_number)
        if len(self._children) > _CHILD_CACHE_SIZE:
            self._children.popitem(last=False)
        return stream

    def ingest_key(self, idempotency_key: str) -> UUID:
        return self._uuid("ingest-key", idempotency_key)

    def source_stream(self, purpose: str, source: str) -> UUID:
        """Per-transport-source streams (quarantine, ledger) named by e.g. 'inbox:agency/file'."""
        return self._uuid(f"source-{purpose}", source)

    def blind_stream(self, token: str) -> UUID:
        """The blind index stream of a name-and-date-of-birth token (`hub.domain.name_matching`),
        keyed with the blind index key: without it, no name can be tested against the index."""
        digest = hmac.digest(self._blind_key, f"blind-index\x1f{token}".encode(), "sha256")
        raw = bytearray(digest[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80
        raw[8] = (raw[8] & 0x3F) | 0x80
        return UUID(bytes=bytes(raw))

    def blind_tag(self, token: str) -> str:
        """A given-name token's keyed hash (hex), as a blind index entry holds it."""
        return hmac.digest(self._blind_key, f"blind-tag\x1f{token}".encode(), "sha256")[:16].hex()
