"""Discovery between partnerships' hubs ("Is anyone else involved?"): the pure part.

A practitioner with a relationship to a child asks whether any partner hub holds records about
the child. The question must reveal nothing about the child to a partner, and the answer only
"partnership X holds records; contact Y". The protocol (RFC 9497 VOPRF, ristretto255-SHA512;
the cryptography is in `hub.adapters.discovery_oprf`, this module imports none of it):

1. Each hub H has a secret discovery key k_H; its public key is published in the partner
   register, beside the hub's identity key.
2. H periodically publishes to each partner its **holdings** (`Holdings`): for every child H
   holds records about, the first `DIGEST_LENGTH` bytes of the OPRF output F(k_H, NHS number),
   as a set, with the id of the key that computed them and when. Without k_H a digest is
   random-looking: a partner cannot test an NHS number against the set by itself.
3. To ask whether H holds child x, the querying hub Q blinds x (a fresh random blind every
   time) and sends H the blinded element. H evaluates it, rate-limited (`QuestionLimit`) and
   audited per querying practitioner, and returns the evaluated element with a DLEQ proof that
   it used the key behind its registered public key. H learns nothing about x.
4. Q checks the proof against H's registered public key (a partner that evaluated with another
   key, say to single one querier out, fails verification), unblinds, truncates, and looks the
   digest up in H's latest holdings (`Holdings.holds`), after checking they were computed with
   that same key (`Holdings.computed_with`).

What each side learns: Q learns, for each child it actually asked H about, whether H holds
records (and nothing about H's other children: each lookup needs H's evaluation of that child);
H learns only that Q (and which of Q's practitioners) asked something, and when. Because Q can
still test any NHS number by asking, questions are limited per practitioner at both hubs.

Why 16 bytes of digest is plenty: a hub holds at most a few hundred thousand children
(2^18 or so), so the chance that a child H does not hold matches some digest by accident is
about 2^18 / 2^128 = 2^-110 per question, and two held children collide only after about 2^64
of them. Longer digests would only make every holdings message bigger (16 bytes a child: 3.2 MB
for 200,000 children).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.domain.uk_time import uk_datetime_text

DIGEST_LENGTH = 16


class DiscoveryDataError(ValueError):
    """Holdings or a limit that cannot be right; the message says which field and why."""


@dataclass(frozen=True)
class Holdings:
    """What one partner hub published: the digests of the children it holds records about.

    `hub_id` names the publishing hub, `key_id` the discovery key that computed the digests
    (after a key rotation, holdings computed with the old key answer nothing for the new one),
    `as_of` when they were computed (aware)."""

    hub_id: str
    key_id: str
    as_of: datetime
    digests: frozenset[bytes] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.hub_id:
            raise DiscoveryDataError("holdings need the hub_id of the hub that published them")
        if not self.key_id:
            raise DiscoveryDataError("holdings need the key_id of the key that computed them")
        if self.as_of.tzinfo is None or self.as_of.utcoffset() is None:
            raise DiscoveryDataError("holdings as_of must be a time with a zone")
        wrong = sum(1 for digest in self.digests if len(digest) != DIGEST_LENGTH)
        if wrong:
            raise DiscoveryDataError(
                f"holdings digests must each be {DIGEST_LENGTH} bytes; {wrong} are not"
            )

    def holds(self, digest: bytes) -> bool:
        """The hub holds records about the child whose finalized digest this is."""
        return digest in self.digests

    def computed_with(self, key_id: str) -> bool:
        """The digests were computed with the key whose id this is (the one in the register)."""
        return self.key_id == key_id


@dataclass(frozen=True)
class QuestionDecision:
    """Whether a practitioner may ask another question now; if not, when they next may and why
    (in words, for the practitioner)."""

    allowed: bool
    next_allowed_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class QuestionAudited:
    """The gate's answer to a question about to be asked or answered: whether it may go on,
    why not (in words), and the audit entry that recorded it either way."""

    allowed: bool
    reason: str
    audit_ref: str
    outcome: str = ""  # as audited: "asked", "no-relationship", "limit-reached", "answered"
    next_allowed_at: datetime | None = None  # over the limit: when they may ask again


@dataclass(frozen=True)
class QuestionLimit:
    """At most `per_hour` questions by one practitioner in any rolling hour and `per_day` in
    any rolling 24 hours. The defaults (20 and 100) leave room for a busy duty day and stop a
    person, or a stolen session, from testing NHS numbers in bulk; a partnership can set its
    own (both hubs apply theirs: the asking hub before sending, the answering hub before
    evaluating)."""

    per_hour: int = 20
    per_day: int = 100

    def __post_init__(self) -> None:
        if self.per_hour < 1:
            raise DiscoveryDataError("per_hour must be at least 1")
        if self.per_day < self.per_hour:
            raise DiscoveryDataError("per_day must be at least per_hour")

    def decide(self, prior: Iterable[datetime], now: datetime) -> QuestionDecision:
        """Given when this practitioner asked before (aware times, any order), whether they may
        ask now. A question counts in a window while it is less than the window's length old:
        one asked exactly an hour ago no longer counts towards the hour."""
        times = sorted(prior)
        waits: list[tuple[datetime, str]] = []
        for limit, window, words in (
            (self.per_hour, timedelta(hours=1), "in the last hour"),
            (self.per_day, timedelta(hours=24), "in the last 24 hours"),
        ):
            recent = [moment for moment in times if moment > now - window]
            if len(recent) >= limit:
                # The window drops below the limit once the question `limit` from the newest
                # has aged out of it.
                waits.append(
                    (
                        recent[len(recent) - limit] + window,
                        f"{len(recent)} questions {words} (the limit is {limit})",
                    )
                )
        if not waits:
            return QuestionDecision(allowed=True)
        next_allowed_at = max(moment for moment, _ in waits)
        reasons = " and ".join(reason for _, reason in waits)
        return QuestionDecision(
            allowed=False,
            next_allowed_at=next_allowed_at,
            reason=(
                f"You have asked {reasons}. You can ask again from "
                f"{uk_datetime_text(next_allowed_at)}."
            ),
        )


# -- Over the federation link (`hub.federation_discovery`) --------------------------------------

QUERY_ID_PATTERN = r"^[0-9a-f]{32}$"
HOLDINGS_PART_DIGESTS = 20_000
"""Digests per `holdings` message: 20,000 x 32 hex digits is 640 kB, well under a broker's
default 1 MB message limit with the message's envelope (200,000 children are ten parts)."""
ANSWERS_TOPIC_SUFFIX = ".answers"
"""A hub reads the answers to its questions from its own inbound topic's name with this after
it (`hub.federation.inbound` -> `hub.federation.inbound.answers`), on its own brokers; a partner
sends its answer there, to the endpoint the partner's register gives for the asking hub."""


def answers_topic(inbound_topic: str) -> str:
    return inbound_topic + ANSWERS_TOPIC_SUFFIX


def holdings_parts(digests: Iterable[bytes], per_part: int = HOLDINGS_PART_DIGESTS) -> list[str]:
    """The digests in a stable order, as concatenated hex, `per_part` to a part (one empty part
    when there are none: a hub that holds nobody still says so)."""
    ordered = sorted(digests)
    if not ordered:
        return [""]
    return [
        "".join(digest.hex() for digest in ordered[start : start + per_part])
        for start in range(0, len(ordered), per_part)
    ]


def digests_from_hex(text: str) -> frozenset[bytes]:
    """The digests a holdings part carries (concatenated hex, `DIGEST_LENGTH` bytes each)."""
    width = DIGEST_LENGTH * 2
    if len(text) % width:
        raise DiscoveryDataError(
            f"digests: must be a whole number of {DIGEST_LENGTH}-byte digests in hex"
        )
    try:
        return frozenset(
            bytes.fromhex(text[start : start + width]) for start in range(0, len(text), width)
        )
    except ValueError:
        raise DiscoveryDataError("digests: is not hexadecimal") from None


@dataclass(frozen=True)
class HoldingsPart:
    """One part of a partner's published holdings, as received."""

    holdings_id: str
    part: int
    parts: int
    key_id: str
    as_of: datetime
    digests: frozenset[bytes]


def complete_holdings(hub_id: str, parts: Iterable[HoldingsPart]) -> Holdings | None:
    """The partner's latest complete holdings from the parts received (any order, repeats
    allowed): the publication with the latest `as_of` of which every part arrived; None if
    none is complete. A publication still arriving does not hide the one before it."""
    by_publication: dict[str, dict[int, HoldingsPart]] = {}
    for part in parts:
        by_publication.setdefault(part.holdings_id, {})[part.part] = part
    complete = [
        received
        for received in by_publication.values()
        if (first := next(iter(received.values())))
        and set(received) == set(range(1, first.parts + 1))
    ]
    if not complete:
        return None
    latest = max(complete, key=lambda received: next(iter(received.values())).as_of)
    first = next(iter(latest.values()))
    return Holdings(
        hub_id=hub_id,
        key_id=first.key_id,
        as_of=first.as_of,
        digests=frozenset().union(*(part.digests for part in latest.values())),
    )


@dataclass(frozen=True)
class PartnerAnswer:
    """What one partner hub's answer to one question came to, for the practitioner."""

    name: str  # the partnership's name
    contact: str
    outcome: str  # "holds" | "does-not-hold" | "did-not-answer" | "no-holdings" | "refused"
    # | "did-not-verify"
    detail: str = ""  # the partner's reason, for a refusal

    def words(self) -> str:
        if self.outcome == "holds":
            return f"{self.name} holds records about this child; contact {self.contact}"
        if self.outcome == "does-not-hold":
            return f"{self.name} does not hold records about this child"
        if self.outcome == "did-not-answer":
            return f"{self.name} did not answer in time: ask again later, or call {self.contact}"
        if self.outcome == "no-holdings":
            return (
                f"{self.name} has not published its holdings under its registered key, so its "
                f"answer could not be looked up: call {self.contact}"
            )
        if self.outcome == "did-not-verify":
            return (
                f"{self.name}'s answer did not verify against its registered key and was "
                "discarded: tell this hub's administrator"
            )
        return f"{self.name} refused the question: {self.detail}"


@dataclass(frozen=True)
class DiscoveryResult:
    """The answer to "Is anyone else involved?", in words, for the practitioner who asked.

    `refused` is set (and nothing was asked) when this hub refused the question itself, with
    `refusal` saying why in a word ("no-nhs-number", "no-relationship" or "limit-reached") and,
    over the limit, `ask_again_from`."""

    answers: tuple[PartnerAnswer, ...] = ()
    refused: str = ""
    refusal: str = ""
    ask_again_from: datetime | None = None

    @property
    def holders(self) -> list[PartnerAnswer]:
        return [answer for answer in self.answers if answer.outcome == "holds"]

    def lines(self) -> list[str]:
        if self.refused:
            return [self.refused]
        if not self.answers:
            return ["This hub has no partner hubs to ask (none with a discovery key is active)."]
        lines = [answer.words() for answer in self.holders]
        others = [a for a in self.answers if a.outcome not in ("holds", "does-not-hold")]
        if not lines:
            lines.append(
                "No partner hub holds records about this child."
                if not others
                else "No partner hub that answered holds records about this child."
            )
        lines += [answer.words() for answer in others]
        return lines
