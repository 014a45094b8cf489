"""What `health-fhir` needs of FHIR R4 itself, apart from the hub's mapping: validating a
resource against the R4 model (`fhir.resources`' R4B package, whose Encounter, Appointment,
Observation, Communication, Flag and Patient are R4's), resolving a literal reference to a
resource in the same Bundle, and the date and version forms real systems send. Failures are
`MappingError`s that name the element, never its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from hub.adapters.agencies.errors import MappingError
from hub.adapters.agencies.native import as_str, parse_iso_datetime
from hub.domain.uk_time import UK

# A FHIR resource id; ids and type names are machine-written, safe to quote in a reason.
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,40}$")
_YEAR = re.compile(r"^[0-9]{4}$")
_YEAR_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")
_MAX_ERRORS_SHOWN = 5


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(resource)"


def validate_resource(resource: dict[str, Any]) -> None:
    """The resource is valid FHIR R4 for its type (cardinality, datatypes, value sets that
    are required bindings), or a `MappingError` listing each invalid element and why. A
    message that would quote the value is replaced by a plain 'invalid value'."""
    resource_type = as_str(resource.get("resourceType"), "resourceType")
    try:
        model = get_fhir_model_class(resource_type)
    except (ValueError, KeyError):
        raise MappingError("resourceType: not a FHIR R4 resource type") from None
    try:
        model.model_validate(resource)
    except ValidationError as error:
        reasons = []
        for detail in error.errors()[:_MAX_ERRORS_SHOWN]:
            message = str(detail.get("msg", "invalid"))
            given = detail.get("input")
            if isinstance(given, str | int | float) and str(given) and str(given) in message:
                message = "invalid value"
            reasons.append(f"{_location(tuple(detail.get('loc', ())))}: {message}")
        more = error.error_count() - len(reasons)
        suffix = f"; and {more} more" if more > 0 else ""
        raise MappingError(
            f"not valid FHIR R4 {resource_type}: {'; '.join(reasons)}{suffix}"
        ) from None


def describe(resource: dict[str, Any]) -> str:
    """`Encounter/ed-1` for a problem's reason, or only what of it is safe to show."""
    resource_type = resource.get("resourceType")
    resource_id = resource.get("id")
    kind = (
        resource_type
        if isinstance(resource_type, str) and RESOURCE_TYPE.match(resource_type)
        else "resource"
    )
    if isinstance(resource_id, str) and FHIR_ID.match(resource_id):
        return f"{kind}/{resource_id}"
    return kind


@dataclass
class BundleIndex:
    """The Bundle's resources by `fullUrl` and by `<type>/<id>`, to resolve literal references
    (`Patient/x`, `urn:uuid:...`, an absolute URL) as FHIR's bundle resolution rules do."""

    by_full_url: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_type_and_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: list[object]) -> BundleIndex:
        index = cls()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                continue
            resource = entry["resource"]
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                index.by_full_url[full_url] = resource
            resource_type, resource_id = resource.get("resourceType"), resource.get("id")
            if isinstance(resource_type, str) and isinstance(resource_id, str):
                # The first of several versions of one resource is as good as any: only its
                # identifier is read, which does not change between versions.
                index.by_type_and_id.setdefault(f"{resource_type}/{resource_id}", resource)
        return index

    def resolve(self, reference: str, base_full_url: object) -> dict[str, Any] | None:
        """The resource a literal reference names, or None when the Bundle does not hold it."""
        if reference in self.by_full_url:
            return self.by_full_url[reference]
        relative = reference.split("/_history/")[0]
        if isinstance(base_full_url, str) and "://" in base_full_url and "://" not in relative:
            # A relative reference resolves against the server base of the entry's fullUrl.
            base = base_full_url.rsplit("/", 2)[0]
            if f"{base}/{relative}" in self.by_full_url:
                return self.by_full_url[f"{base}/{relative}"]
        parts = relative.rstrip("/").split("/")
        if len(parts) >= 2:
            return self.by_type_and_id.get(f"{parts[-2]}/{parts[-1]}")
        return None


def resolve_patient(
    reference: dict[str, Any],
    index: BundleIndex,
    base_full_url: object,
    container: dict[str, Any],
    where: str,
) -> dict[str, Any]:
    """The Patient a `Reference` with a literal `reference` names: a contained one (`#id`) or
    one in the Bundle (an `_include`d Patient in a searchset, a `urn:uuid:` entry)."""
    literal = as_str(reference.get("reference"), f"{where}.reference")
    if literal.startswith("#"):
        contained = [
            r
            for r in container.get("contained", [])
            if isinstance(r, dict) and f"#{r.get('id')}" == literal
        ]
        target = contained[0] if contained else None
    else:
        target = index.resolve(literal, base_full_url)
    if target is None:
        raise MappingError(
            f"{where}.reference: names no resource in the Bundle (send the Patient in the "
            "Bundle, e.g. a search with _include, or reference the child by identifier)"
        )
    if target.get("resourceType") != "Patient":
        raise MappingError(f"{where}.reference: names a resource that is not a Patient")
    return target


def parse_fhir_datetime(value: object, where: str) -> datetime:
    """A FHIR `dateTime` or `instant`: with a time it must carry an offset (FHIR requires one);
    a date is midnight UK time; a partial date (`2024`, `2024-03`) is the start of that year or
    month in UK time, the earliest moment it can mean."""
    text = as_str(value, where)
    if _YEAR.match(text):
        day = date(int(text), 1, 1)
    elif _YEAR_MONTH.match(text):
        month = int(text[5:])
        if not 1 <= month <= 12:
            raise MappingError(f"{where}: not a FHIR date or date-time")
        day = date(int(text[:4]), month, 1)
    else:
        return parse_iso_datetime(text, where)
    return datetime.combine(day, time(), UK).astimezone(UTC)


def parse_version(value: object, where: str) -> int:
    """`meta.versionId` is a FHIR id, a string (`"3"`); a number sent as JSON is read too.
    Absent, it is the first version. An opaque id (not a number) cannot be ordered against the
    record's other versions, so it is a problem."""
    if value is None:
        return 1
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    number_text = as_str(text, where).strip()
    if not (number_text.isascii() and number_text.isdigit()):
        raise MappingError(
            f"{where}: not a version number; the hub orders a record's versions by it"
        )
    number = int(number_text)
    if number < 1:
        raise MappingError(f"{where}: versions start at 1")
    return number
