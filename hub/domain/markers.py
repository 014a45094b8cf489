"""What stands in for what a reader may not see, defined once: in released chronology entries,
review packs, exports and the pages (`hub.policies.redaction` writes them), and in log lines
(`hub.adapters.structured_logging` masks with REDACTED)."""

from __future__ import annotations

SHIELDED = "[shielded]"  # the publisher shielded this field from everyone outside its own staff
REDACTED = "[redacted]"  # policy or withholding keeps it from this reader
RETRACTED = "[retracted]"  # the publisher retracted the record; what it said is not shown
# An item its publisher withheld from the reader's agency type or role, shown to a data
# protection officer of another organisation only as that: who withheld it, when, review by.
WITHHELD = "[withheld]"
MARKERS = frozenset({SHIELDED, REDACTED, RETRACTED, WITHHELD})
