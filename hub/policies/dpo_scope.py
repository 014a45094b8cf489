"""What a data protection officer acts for: their own organisation, or the whole partnership.

A DPO answers for their organisation as a controller. Auditing a child's record, a DPO of one
organisation is released what their organisation published (with its withholdings) and what
was disclosed to their organisation's staff; anything else of the record is outside their
scope. An item another agency withheld from their organisation's agency type or role is shown
to them only as that (the Cedar `withheld` guard refuses it; the gate shows who withheld it,
when, and when it is to be reviewed). The partnership's lead DPOs, named in the agreement
(`hub.policies.decision.acts_for_partnership`), act for the whole partnership.

Pure: the disclosure gate supplies what was disclosed to the organisation's staff (from the
audit ledger) and applies the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hub.domain.access import Practitioner
from hub.policies.decision import Decision, Effect

OUTSIDE_SCOPE = "outside-organisation-scope"
OUTSIDE_SCOPE_REASON = (
    "outside your organisation's data protection scope: another agency published it and it "
    "was not disclosed to your organisation's staff (a partnership lead DPO can audit it)"
)


def record_of(ref: str) -> str:
    """A publisher reference's record (`agency/event_id`), without its revision."""
    return ref.rpartition("@")[0] or ref


def publisher_of(ref: str) -> str:
    """The agency that published a referenced item (`agency/event_id@revision`)."""
    return ref.partition("/")[0]


def confine_to_organisation(
    dpo: Practitioner,
    refs: Sequence[str],
    publishers: Sequence[str],
    decisions: Sequence[Decision],
    received: Iterable[str],
) -> list[Decision]:
    """The decisions for an organisation's DPO: an item neither their organisation published
    nor disclosed to its staff (`received`: records, `agency/event_id`) is refused, with the
    reason; everything else is decided as it was (withheld items stay refused)."""
    staff_received = frozenset(received)
    confined = []
    for ref, publisher, decision in zip(refs, publishers, decisions, strict=True):
        if (
            decision.permitted
            and publisher != dpo.organisation
            and record_of(ref) not in staff_received
        ):
            decision = Decision(
                Effect.DENY,
                (OUTSIDE_SCOPE_REASON,),
                (OUTSIDE_SCOPE,),
                frozenset(),
                None,
                decision.agreement_version,
            )
        confined.append(decision)
    return confined


def in_scope(dpo: Practitioner, partnership: bool, refs: Iterable[str], staff: bool) -> bool:
    """Whether an audit record (of a disclosure of `refs`, to a member of the DPO's own
    organisation's staff when `staff`) is one this DPO may be shown."""
    return partnership or staff or any(publisher_of(ref) == dpo.organisation for ref in refs)
