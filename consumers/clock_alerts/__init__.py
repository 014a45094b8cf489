"""The statutory clocks consumer: timescales from the log, alerts before breach, breaches once.

`apply` keeps, per child stream, the local authority facts the clock rules read (reduced to
the few details they need) and the clocks those facts give (`hub.domain.clocks`), sealed with
the child's key. A provisional stream linked to an NHS number is one child with it: its facts
count towards the NHS stream's clocks until an unlink is recorded.

`act` raises what time makes due. Which children to look at comes from small date buckets
(`due:<date>:<shard>`, sealed with the index key, holding child stream pseudonyms): a child is
put in today's bucket whenever their facts change, and after each visit in the bucket of the
next day on which time alone changes what is owed (an alert coming due, a clock breaching), so
a pass reads only the children something is owed for, never every child.

The effects are documents, kept by a rebuild so they are never raised twice:

- `alert:<recipient pseudonym>:<clock pseudonym>`: one per clock and recipient, raised once the
  clock is within its alert lead of the due date (or already past it) and still running. The
  recipient is the authority's allocated worker, or its MACPT (led by the lead child protection
  practitioner) when no worker is allocated; a reallocated case alerts the new worker too.
- `breach:<child stream>:<clock pseudonym>`: one per clock, recorded when a running clock passes
  its due date or stops after it; a later stop fills in `stopped_on`, and a clock that stops
  being breached (a retracted referral, a corrected date) marks it `withdrawn_on`, never deletes.
- `tally:effects`: counts of both, for status, without reading them all.

`docs/clocks.md` describes the rules, defaults and commands.
"""

from __future__ import annotations

from consumers.clock_alerts.consumer import NAME, ClocksConsumer, ClockSettings
from consumers.clock_alerts.listing import list_alerts
from consumers.clock_alerts.shown import (
    AlertListing,
    ChildAlerts,
    OlderBreaches,
    ShownAlert,
    group_alerts,
)

__all__ = [
    "NAME",
    "AlertListing",
    "ChildAlerts",
    "ClockSettings",
    "ClocksConsumer",
    "OlderBreaches",
    "ShownAlert",
    "group_alerts",
    "list_alerts",
]
