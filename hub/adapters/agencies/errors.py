"""Why an agency export, or one record in it, could not be mapped.

Two failure sizes, two types: `AdapterFileError` when the whole file is unusable (nothing can
be salvaged, so the caller must stop and fix the export), `MappingError` when one row or entry
is bad (it becomes an `AdapterProblem` and the rest of the file still flows). Both messages are
printed and logged, so they name fields and what is wrong with them, never the values: a value
in a safeguarding export may be an NHS number, a name or a disclosure.
"""

from __future__ import annotations


class AdapterFileError(ValueError):
    """The file cannot be read as this adapter's format at all (missing, not CSV/JSON, wrong
    shape at the top level). Row-level faults never raise this."""


class MappingError(ValueError):
    """One row or entry cannot be mapped; the message is the problem's personal-data-free
    reason, naming the native column or field."""
