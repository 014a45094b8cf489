"""The steps every agency adapter shares: reading a native export file, turning native values
(UK local dates, codes, yes/no flags, identifiers) into canonical ones, and building the
canonical event, each failing with a `MappingError` that names the field but never its value.

Keeping these in one place means the four adapters report problems the same way, and that
the rule "no personal data in a reason" is kept by a few functions rather than by every
adapter separately.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from hub.adapters.agencies.base import AdapterProblem, AdapterResult
from hub.adapters.agencies.errors import AdapterFileError, MappingError
from hub.domain.canonical_event import CanonicalEvent, Sensitivity, describe_validation_error
from hub.domain.identity import InvalidIdentifierError, validate_nhs_number, validate_provisional_id
from hub.domain.uk_time import UK

SENSITIVITIES: tuple[Sensitivity, ...] = ("standard", "sensitive", "restricted")
_CODE_LIKE = re.compile(r"^[A-Z0-9_.:-]{1,24}$")
_UK_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y")
# The canonical shape of a publisher's reference (`event_id`, `household_ref`).
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,99}$")

T = TypeVar("T")
R = TypeVar("R")


def describe_value(value: object) -> str:
    """Quote a value in a reason only when it looks like a code from a controlled list (upper
    case, no spaces, not all digits); anything else could be a name, an identifier or free
    text, so it is not shown."""
    if isinstance(value, str) and _CODE_LIKE.match(value) and not value.isdigit():
        return repr(value)
    return "(value not shown)"


# Files -------------------------------------------------------------------------------------


def _read_text(path: Path, adapter: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AdapterFileError(f"{adapter}: no such file: {path}") from None
    except IsADirectoryError:
        raise AdapterFileError(f"{adapter}: {path} is a directory, not an export file") from None
    except UnicodeDecodeError:
        raise AdapterFileError(f"{adapter}: {path} is not UTF-8 text") from None
    except OSError as error:
        raise AdapterFileError(f"{adapter}: {path} cannot be read ({error.strerror})") from None


@dataclass(frozen=True)
class CsvRow:
    """One data row by column name. Optional columns absent from the header read as empty,
    so an older export without them still maps; `fault` records a structural problem."""

    cells: Mapping[str, str]
    fault: str | None = None

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")

    def checked(self) -> CsvRow:
        if self.fault is not None:
            raise MappingError(f"malformed CSV row: {self.fault}")
        return self


def read_csv_records(
    path: Path, *, adapter: str, required: Sequence[str]
) -> Iterator[tuple[int, CsvRow]]:
    """Yield (physical line where the row starts, row) for each non-blank data row.

    The header is line 1; a quoted cell spanning lines pushes later rows down, as an editor
    would show them. A header without the required columns makes the file unusable (every
    row would fail the same way), so that raises; a short, long or badly quoted row is a
    row problem.
    """
    text = _read_text(path, adapter)
    if "\x00" in text:
        raise AdapterFileError(f"{adapter}: {path} contains NUL bytes; it is not a CSV export")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise AdapterFileError(f"{adapter}: {path} is empty; expected a CSV header") from None
    except csv.Error as error:
        raise AdapterFileError(f"{adapter}: {path} header is not valid CSV ({error})") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise AdapterFileError(
            f"{adapter}: {path} is not in this format: the header lacks {', '.join(missing)}"
        )
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, CsvRow({}, f"bad quoting ({error})")
            continue
        if not cells or all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield start, CsvRow({}, f"row has {len(cells)} fields, header has {len(header)}")
            continue
        yield start, CsvRow({name: cell.strip() for name, cell in zip(header, cells, strict=True)})


def load_json(path: Path, *, adapter: str) -> object:
    text = _read_text(path, adapter)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AdapterFileError(
            f"{adapter}: {path} is not JSON ({error.msg} at line {error.lineno})"
        ) from None


def collect(
    path: Path, records: Iterable[tuple[int, R]], mapper: Callable[[R], list[CanonicalEvent]]
) -> AdapterResult:
    """Map every record, turning each failure into a problem so one bad record never stops
    the file. Type, lookup and value errors are caught too: JSON exports can hold any shape,
    and a surprise there must cost one record, not the batch. Their messages are not used,
    as they may quote the value."""
    result = AdapterResult()
    for line, record in records:
        try:
            result.events.extend(mapper(record))
        except MappingError as error:
            result.problems.append(AdapterProblem(str(path), line, str(error)))
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
            reason = f"unexpected structure ({type(error).__name__})"
            result.problems.append(AdapterProblem(str(path), line, reason))
    return result


# Values ------------------------------------------------------------------------------------


def required(value: str, column: str, why: str = "") -> str:
    if not value:
        raise MappingError(f"column {column}: empty{why}")
    return value


def parse_uk_datetime(value: str, column: str) -> datetime:
    """`dd/mm/yyyy HH:MM[:SS]` or `dd/mm/yyyy`, UK local time (GMT/BST), returned in UTC."""
    for fmt in _UK_FORMATS:
        try:
            local = datetime.strptime(required(value, column), fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=UK).astimezone(UTC)
    raise MappingError(f"column {column}: not a valid date in dd/mm/yyyy HH:MM or dd/mm/yyyy form")


def parse_uk_date(value: str, column: str) -> date:
    try:
        return datetime.strptime(required(value, column), "%d/%m/%Y").date()
    except ValueError:
        raise MappingError(f"column {column}: not a date in dd/mm/yyyy form") from None


def parse_iso_datetime(value: object, field: str) -> datetime:
    """ISO 8601 with a UTC offset (`Z` allowed). A bare date is taken as midnight UK time,
    as FHIR permits date-only values; a date-time without an offset is refused because the
    hour would be a guess."""
    text = as_str(value, field)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UK).astimezone(UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{field}: not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise MappingError(f"{field}: date-time has no UTC offset (add Z or +01:00)")
    return parsed.astimezone(UTC)


def parse_revision(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise MappingError(f"{field}: not a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise MappingError(f"{field}: not a whole number")
    if number < 1:
        raise MappingError(f"{field}: revisions start at 1")
    return number


def parse_yes_no(value: str, column: str) -> bool:
    flag = required(value, column).upper()
    if flag in {"Y", "YES", "TRUE", "1"}:
        return True
    if flag in {"N", "NO", "FALSE", "0"}:
        return False
    raise MappingError(f"column {column}: expected Y or N")


def parse_float(value: str, column: str) -> float:
    try:
        return float(required(value, column))
    except ValueError:
        raise MappingError(f"column {column}: not a number") from None


def lookup(value: str, table: Mapping[str, T], field: str) -> T:
    """Map a native code through its table; unknown codes are problems, not guesses."""
    try:
        return table[value.strip().upper()]
    except KeyError:
        raise MappingError(
            f"{field}: unknown code {describe_value(value)}; see docs/adapters.md for the codes"
        ) from None


def map_categories(codes: Iterable[str], table: Mapping[str, str | None], field: str) -> list[str]:
    """Native category codes to harm categories, in first-seen order without duplicates
    (several native codes, e.g. CSE and CCE, share one category). None means the code is
    known but not a harm category."""
    categories: list[str] = []
    for code in codes:
        if code.strip():
            category = lookup(code, table, field)
            if category is not None and category not in categories:
                categories.append(category)
    return categories


def parse_sensitivity(value: str, field: str, default: Sensitivity) -> Sensitivity:
    if not value:
        return default
    for sensitivity in SENSITIVITIES:
        if value.strip().lower() == sensitivity:
            return sensitivity
    raise MappingError(f"{field}: expected standard, sensitive or restricted")


def nhs_number(value: str, field: str) -> str:
    try:
        return validate_nhs_number(value)
    except InvalidIdentifierError as error:
        raise MappingError(f"{field}: {error}") from None


def provisional_id(value: str, field: str) -> str:
    try:
        return validate_provisional_id(value)
    except InvalidIdentifierError as error:
        raise MappingError(f"{field}: {error}") from None


def child_from_fields(
    nhs: str, provisional: str, *, nhs_field: str, provisional_field: str
) -> dict[str, str]:
    """The canonical `child` from an export's NHS number and provisional id fields (one of
    them), with problems named by the export's own field names."""
    if nhs and provisional:
        raise MappingError(f"{nhs_field} and {provisional_field}: give one, not both")
    if nhs:
        return {"nhs_number": nhs_number(nhs, nhs_field)}
    if provisional:
        return {"provisional_id": provisional_id(provisional, provisional_field)}
    raise MappingError(f"{nhs_field}: empty, and no {provisional_field} either")


def household_ref(value: str, field: str) -> str | None:
    """A publisher's household or family reference, or None when the export has none. Checked
    here rather than left to the canonical model so the reason names the native field; the
    value is not quoted, as a badly filled cell may hold a family name."""
    if not value:
        return None
    if not REFERENCE_PATTERN.fullmatch(value):
        raise MappingError(
            f"{field}: not a reference (letters, digits and . _ : / -, starting with a letter "
            "or digit, at most 100 characters)"
        )
    return value


def parse_json_cell(value: str, column: str) -> object:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise MappingError(f"column {column}: not valid JSON") from None


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


# JSON shapes -------------------------------------------------------------------------------


def as_str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{field}: missing or not a non-empty string")
    return value.strip()


def optional_str(value: object, field: str) -> str:
    return "" if value is None else as_str(value, field)


def as_obj(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(f"{field}: missing or not an object")
    return value


def as_list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise MappingError(f"{field}: missing or not a list")
    return value


def as_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise MappingError(f"{field}: missing or not true/false")
    return value


# The event ---------------------------------------------------------------------------------


def build_event(fields: dict[str, Any]) -> CanonicalEvent:
    """Validate against schema v1; pydantic's errors are reduced to `loc: msg`."""
    try:
        return CanonicalEvent.model_validate({"schema_version": 1, **fields})
    except ValidationError as error:
        raise MappingError(f"canonical event invalid: {describe_validation_error(error)}") from None
