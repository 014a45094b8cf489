"""The inbox: what a practitioner must act on, in one place (`docs/inbox.md`).

A person's inbox gathers what three consumers raise for them:

- **Operation Encompass notices** (`consumers.encompass`), acknowledged with the action taken;
- **statutory-clock alerts** (`consumers.clock_alerts`), current ones first, grouped by child,
  with breaches older than a horizon summarised;
- and what this consumer raises:
  - **change notifications**: a record from another agency arrives for a child the person has a
    current relationship with (an allocation, the MACPT during an enquiry or plan, the school
    they are enrolled at, a review commission): the item says what kind of record and from
    which agency, never its content. Which roles hear of which kinds is the information sharing
    agreement's `notifications` section; the gate releases each item (action `notify`) before
    it is created, so nobody is told of a record withheld from them or shielded.
  - **pattern notifications**: a multi-agency pattern flag starts to hold for such a child, on
    records released to the person.
  - **access notifications** (CP-IS parity): someone from another organisation opened the
    child's record (a chronology view or an export), or anyone did under break-glass: the
    child's allocated worker (or the local authority's front door when none is allocated) is
    told who looked, from which organisation, for which purpose. One item per person who
    looked, per child, per day.
  - **correction notifications**: a record a person saw, received from another partnership's
    hub, was withdrawn or corrected there.
  - **transfer notifications**: records about a child arrived from another partnership's hub
    (the child moved into this area): the allocated worker, or the front door, is told once
    per transfer, with whom to contact there.

The disclosure in an item (who the child is, what kind of record arrived) is audited when the
item is created and delivered; listing the inbox again finds that audit entry and writes none;
opening the record from an item is a normal audited view. The data protection officer's
broad-access query counts records opened, not items received.

This consumer follows the hub's log (new records) and the audit ledger (views), each with its
own position committed with the items it led to, so each is told once however often the
process is killed. New items are handed to the outbound channels (`consumers.inbox.outbound`):
an email saying only how many new items there are, and signed webhooks for agency systems.
"""

from __future__ import annotations

from consumers.inbox.consumer import NAME, InboxConsumer, InboxRules

__all__ = ["NAME", "InboxConsumer", "InboxRules"]
