"""The outbound feed: hub events relayed to a named recipient system over Kafka.

One consumer per recipient system (`hub consumer run feed-<name>`), configured in YAML
(docs/feed.md). The recipient acts as a `Practitioner` principal (`feed:<name>`) with an
organisation, agency type, role, teams and one purpose, so the partnership's information
sharing agreement decides what it receives exactly as it would for a person.

Folding (`apply`, no I/O) queues, in the child's outbox (sealed with the child's key), a
reference to each entry the recipient might take: an event of a kind it takes, a correction,
a retraction. Nothing of the event's content is queued. A queued item is marked by an
index-key `pending:` document.

Acting (`act`) relays the queue, chunk by chunk, child by child, in log order: the disclosure
gate screens the items (decides without releasing), the child's document keeps which items the
recipient holds, and the items the recipient may have now are released by the gate to the
recipient's principal (decided with the relationship the child's record gives at that moment,
shielded and identifying fields left out, the agreement's and the recipient's redactions
marked, the summary only if the recipient is configured for it), which audits the disclosure
first. The messages are built from what the gate released (no NHS number, provisional id or
hub stream id; the child named by a pseudonym only this recipient sees) and committed with the
intent to send; then they are produced, the broker's acknowledgement awaited, and the outbox
items dropped and `sent:<dedupe key>` recorded (kept on rebuild) in one commit. A crash after
producing and before that commit sends the chunk again on restart: at-least-once, with the
same dedupe key and the same bytes, so the receiving system discards the repeat. A crash after
the gate's audit entry and before its commit finds that entry again, so nothing is audited
twice. An item retracted by its publisher before it was relayed is never relayed; one
retracted after is withdrawn. docs/feed.md has the message format and the receiving system's
side of the contract.
"""

from __future__ import annotations

from consumers.feed.producer import FeedProducer, kafka_producer
from consumers.feed.recipients import (
    TOTALS,
    FeedConfigError,
    FeedRecipient,
    FeedSettings,
    feed_recipients,
    load_recipients,
    recipients_path,
)
from consumers.feed.relay import FeedConsumer

__all__ = [
    "TOTALS",
    "FeedConfigError",
    "FeedConsumer",
    "FeedProducer",
    "FeedRecipient",
    "FeedSettings",
    "feed_recipients",
    "kafka_producer",
    "load_recipients",
    "recipients_path",
]
