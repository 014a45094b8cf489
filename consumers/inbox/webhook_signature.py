"""How the hub signs a webhook delivery and how a receiver checks it (docs/inbox.md).

The signature is HMAC-SHA256, with the webhook's shared secret, of `<timestamp>.<body>`:
the timestamp (unix seconds, header `X-Hub-Timestamp`) is inside what is signed, so a
captured delivery cannot be replayed later with a fresh timestamp, and a receiver refuses
one older than a few minutes. `X-Hub-Delivery` is stable across retries: a receiver that
has seen it already answers 2xx and does nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

TIMESTAMP_HEADER = "X-Hub-Timestamp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
DELIVERY_HEADER = "X-Hub-Delivery"
DEFAULT_MAX_AGE = timedelta(minutes=5)


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value: `sha256=<hex>`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: bytes,
    timestamp: str | int,
    body: bytes,
    header: str,
    max_age: timedelta = DEFAULT_MAX_AGE,
    now: datetime | None = None,
) -> bool:
    """Whether a delivery is the hub's and recent: the signature matches the body exactly as
    received, and the timestamp is within `max_age` of `now` (either side, for clock skew)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    moment = (now or datetime.now(UTC)).timestamp()
    if abs(moment - sent) > max_age.total_seconds():
        return False
    return hmac.compare_digest(signature(secret, sent, body), header.strip())
