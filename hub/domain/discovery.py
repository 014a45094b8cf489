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
