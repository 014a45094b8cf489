"""The child's identifying details in a FHIR R4 `Patient`, as `health-fhir` reads them: the
current name by use, the birth date (or the hub's expected-delivery-date extension for an
unborn child), administrative gender, UK Core's ethnic category extension read by code system,
and the current address. Which Patient is which child, and what its security label shields,
are `health_fhir`'s, which builds the event; this module only reads the demographics, and like
every adapter step fails with a `MappingError` that names the element, never its value.
"""

from __future__ import annotations

import re
from typing import Any

from hub.adapters.agencies.errors import MappingError
from hub.adapters.agencies.native import as_list, as_obj, as_str, lookup
from hub.domain.details import ETHNIC_CATEGORIES

# A Patient's ethnic category: UK Core's extension, coded from NHS England's ETHNIC CATEGORY
# code system, or from the extended PDS code system whose two-character codes refine a
# category (`CA` English is under `C`), as the STU3 Care Connect one did.
ETHNIC_CATEGORY_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
)
ETHNIC_CATEGORY_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
ETHNIC_CATEGORY_EXTENDED = (
    "https://fhir.nhs.uk/R4/CodeSystem/UKCore-EthnicCategory",
    "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-EthnicCategory-1",
)
# An unborn child's Patient has no birthDate; FHIR has no element for the expected date of
# delivery, so the hub defines one (valueDate).
EXPECTED_DELIVERY_EXTENSION = (
    "https://safeguarding-hub.example/fhir/StructureDefinition/expected-delivery-date"
)
ADMINISTRATIVE_GENDER = {code.upper(): code for code in ("male", "female", "other", "unknown")}
# HumanName.use: the child's name is the first official one, else usual, else one without a
# use; a nickname (or a usual name beside an official one) is what the child is known as.
_NAME_USES = ("official", "usual", None)
# Address.use: where the child is staying now (a temporary address), else home.
_ADDRESS_USES = ("temp", "home", None)
_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
ETHNIC_CATEGORIES_BY_CODE = {code: code for code in ETHNIC_CATEGORIES}


def _current(element: dict[str, Any], as_of: str) -> bool:
    """Not ended before the resource was last updated (`period.end`, compared as dates)."""
    period = element.get("period")
    end = period.get("end") if isinstance(period, dict) else None
    return not (isinstance(end, str) and end[:10] < as_of[:10])


def extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The resource's extensions with this URL (a resource may carry others')."""
    return [
        extension
        for extension in (
            as_obj(item, "extension[]")
            for item in as_list(resource.get("extension", []), "extension")
        )
        if extension.get("url") == url
    ]


def _names(r: dict[str, Any], as_of: str) -> dict[str, Any]:
    names = [as_obj(n, "name[]") for n in as_list(r.get("name"), "name")]
    current = [n for n in names if _current(n, as_of)]
    chosen = next((n for use in _NAME_USES for n in current if n.get("use") == use), None)
    if chosen is None:
        raise MappingError("name: no current official or usual name")
    where = f"name[{chosen.get('use') or 'no use'}]"
    found: dict[str, Any] = {
        "family_name": as_str(chosen.get("family"), f"{where}.family"),
        "given_names": [
            as_str(g, f"{where}.given[]")
            for g in as_list(chosen.get("given", []), f"{where}.given")
        ],
    }
    for other in current:
        use, given = other.get("use"), other.get("given")
        is_known_as = use == "nickname" or (use == "usual" and chosen.get("use") == "official")
        if is_known_as and isinstance(given, list) and given and given != chosen.get("given"):
            found["known_as"] = as_str(given[0], f"name[{use}].given[]")
            break
    return found


def _born(r: dict[str, Any]) -> dict[str, Any]:
    """`birthDate`, a full date; or, for an unborn child, the expected-delivery-date extension."""
    if r.get("birthDate") is not None:
        born = as_str(r.get("birthDate"), "birthDate")
        if not _FULL_DATE.match(born):
            raise MappingError("birthDate: not a full date (YYYY-MM-DD)")
        return {"date_of_birth": born}
    due = extensions(r, EXPECTED_DELIVERY_EXTENSION)
    if len(due) > 1:
        raise MappingError("extension: more than one expected-delivery-date extension")
    if due:
        value = as_str(due[0].get("valueDate"), "extension[expected-delivery-date].valueDate")
        if not _FULL_DATE.match(value):
            raise MappingError("extension[expected-delivery-date].valueDate: not a full date")
        return {"expected_delivery_date": value}
    return {}  # neither: the canonical model says what is missing


def _ethnic_category(r: dict[str, Any]) -> str | None:
    """The category from UK Core's extension. Codings of other systems (Wales's categories,
    which use the same letters for other groups; SNOMED CT) are not England's categories and
    are not read; a code of England's system the Data Dictionary does not define is a problem."""
    found = extensions(r, ETHNIC_CATEGORY_EXTENSION)
    if len(found) > 1:
        raise MappingError("extension: more than one ethnic category extension")
    if not found:
        return None
    where = "extension[ethnic-category].valueCodeableConcept"
    concept = as_obj(found[0].get("valueCodeableConcept"), where)
    for item in as_list(concept.get("coding", []), f"{where}.coding"):
        coding = as_obj(item, f"{where}.coding[]")
        system, code = coding.get("system"), coding.get("code")
        if system == ETHNIC_CATEGORY_ENGLAND:
            return lookup(
                as_str(code, f"{where}.coding.code"),
                ETHNIC_CATEGORIES_BY_CODE,
                f"{where}.coding.code",
            )
        if system in ETHNIC_CATEGORY_EXTENDED:
            text = as_str(code, f"{where}.coding.code")
            return lookup(
                text[:1] if len(text) == 2 and text[:1].isalpha() else text,
                ETHNIC_CATEGORIES_BY_CODE,
                f"{where}.coding.code",
            )
    return None


def _address(r: dict[str, Any], as_of: str) -> dict[str, Any] | None:
    addresses = [as_obj(a, "address[]") for a in as_list(r.get("address", []), "address")]
    current = [a for a in addresses if _current(a, as_of)]
    chosen = next((a for use in _ADDRESS_USES for a in current if a.get("use") == use), None)
    if chosen is None:
        return None
    where = f"address[{chosen.get('use') or 'no use'}]"
    lines = [
        as_str(line, f"{where}.line[]") for line in as_list(chosen.get("line", []), f"{where}.line")
    ]
    lines += [
        as_str(chosen[key], f"{where}.{key}") for key in ("city", "district") if chosen.get(key)
    ]
    if not lines and chosen.get("text"):
        lines = [as_str(chosen.get("text"), f"{where}.text")]
    if not lines:
        return None
    address: dict[str, Any] = {"lines": lines}
    if chosen.get("postalCode"):
        address["postcode"] = as_str(chosen.get("postalCode"), f"{where}.postalCode")
    return address


def patient_details(r: dict[str, Any], as_of: str) -> dict[str, Any]:
    """The canonical details of a Patient as of `as_of` (its `meta.lastUpdated`); the
    canonical model checks what they say (a birth after the record, a born child without a
    given name, neither a birth date nor an expected date of delivery)."""
    gender = r.get("gender")
    details: dict[str, Any] = {
        **_names(r, as_of),
        **_born(r),
        "sex": lookup(as_str(gender, "gender"), ADMINISTRATIVE_GENDER, "gender")
        if gender is not None
        else "unknown",
    }
    ethnic_category = _ethnic_category(r)
    if ethnic_category is not None:
        details["ethnic_category"] = ethnic_category
    address = _address(r, as_of)
    if address is not None:
        details["address"] = address
    return details
