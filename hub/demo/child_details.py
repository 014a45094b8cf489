"""The demo children's identifying details, and the native records that publish them.

Every child in the synthetic partnership gets fictional names, a sex, an ethnic category,
whether they are disabled and an address, drawn from their own random stream (`random.Random`
seeded with the seed and a label), so the rest of the partnership draws exactly what it drew
before and a seed always gives the same children. Dates of birth are the partnership's own
(the population's, and the sibling case's, which fix the children's ages).

The council publishes a child's details as a case-management `CHILD_DETAILS` row and the ICB as
a FHIR `Patient`, each with its first record of the child (held from just before it happened,
recorded just after it), so they go through the real adapters like everything else. When the
council's child becomes looked after, its next export carries a new revision of the same
record: the legal status and, if the child was placed, the carers' address, shielded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from hub.adapters.agencies import la_csv
from hub.demo.agency_exports import ICB, LA, NativeRecord
from hub.domain.details import ETHNIC_CATEGORIES

# Fictional-sounding names; the sibling case's children are named by their manifest labels.
_GIRLS = (
    "Amber", "Bethany", "Chloe", "Daisy", "Ella", "Freya", "Grace", "Harriet", "Isla", "Jasmine",
    "Keira", "Lily", "Maisie", "Nadia", "Olivia", "Poppy", "Rosa", "Sienna", "Tilly", "Zara",
)  # fmt: skip
_BOYS = (
    "Alfie", "Ben", "Callum", "Dylan", "Ethan", "Finley", "George", "Harvey", "Isaac", "Jake",
    "Kai", "Leo", "Mason", "Noah", "Oscar", "Reuben", "Samuel", "Theo", "Tyler", "Zain",
)  # fmt: skip
_FAMILY_NAMES = (
    "Ashdown", "Blackmore", "Brightwater", "Carrow", "Denholm", "Eastleigh", "Fairweather",
    "Greenhalgh", "Hollowell", "Kestrell", "Lindqvist", "Marchbank", "Northcote", "Okonjo",
    "Pennick", "Quarrie", "Rathbone", "Salterby", "Thornbury", "Underhill", "Varnham",
    "Whitlock", "Yardley",
)  # fmt: skip
_STREETS = (
    "Example Row", "Sample Street", "Fictional Close", "Placeholder Lane", "Specimen Road",
    "Demo Crescent", "Mock Terrace", "Pretend Avenue",
)  # fmt: skip
# Roughly as children in England are recorded (NHS ETHNIC CATEGORY codes), and disability.
_ETHNICITY_WEIGHTS = {
    "A": 64.0, "B": 0.5, "C": 6.0, "D": 1.5, "E": 1.0, "F": 1.5, "G": 2.0, "H": 3.5, "J": 4.0,
    "K": 1.5, "L": 2.0, "M": 1.0, "N": 5.0, "P": 0.5, "R": 0.5, "S": 2.0, "Z": 1.5, "99": 1.5,
}  # fmt: skip
_DISABILITIES = ("Autism", "Hearing impairment", "Speech and language needs", "Epilepsy")
# The council's CMS records ethnicity as DfE codes and gender as PERSON STATED GENDER CODE:
# the first native code its adapter reads as each category, so the two cannot drift apart.
_DFE_ETHNICITY = {
    category: next(
        code for code, c in la_csv.ETHNICITY_CODES.items() if c == category and len(code) == 4
    )
    for category in ETHNIC_CATEGORIES
}
_GENDER_CODES = {sex: code for code, sex in la_csv.GENDER_CODES.items()}
# The sibling case: the children's sex and dates of birth fit its timeline (Reception in
# September 2022 and 2024; a 1-year review in July 2021; a new-birth visit in March 2022).
SIBLING_BIRTHS = {
    "Jackson": ("male", date(2018, 3, 14)),
    "Madison": ("female", date(2020, 6, 2)),
    "Jayden": ("male", date(2022, 2, 19)),
}
# The unborn child is expected a few days after the day the population has them born.
_EXPECTED_EARLY = timedelta(days=4)
_BEFORE_FIRST_RECORD = timedelta(minutes=2)
_RECORDING = timedelta(minutes=5)


@dataclass(frozen=True)
class DemoChild:
    """One fictional child as their records would describe them."""

    given_names: tuple[str, ...]
    family_name: str
    sex: str  # FHIR administrative gender
    born: date | None
    due: date | None  # an unborn child's expected date of delivery
    ethnic_category: str  # NHS ETHNIC CATEGORY code
    disability: str  # Y, N or U
    disability_description: str
    address: tuple[str, ...]
    postcode: str
    known_as: str = ""


def _address(rng: random.Random) -> tuple[tuple[str, ...], str]:
    lines = (f"{rng.randint(1, 140)} {rng.choice(_STREETS)}", "Shiretown (fictional)")
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    postcode = (
        f"SH{rng.randint(1, 9)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
    )
    return lines, postcode


def _child(
    rng: random.Random,
    family_name: str,
    home: tuple[tuple[str, ...], str],
    born: date,
    ethnic_category: str | None = None,
    *,
    sex: str | None = None,
    given: tuple[str, ...] | None = None,
) -> DemoChild:
    sex = sex or rng.choice(("female", "male"))
    names = _GIRLS if sex == "female" else _BOYS
    if given is None:
        given = (rng.choice(names), *((rng.choice(names),) if rng.random() < 0.5 else ()))
    disability = rng.choices("NYU", (85, 8, 7))[0]
    return DemoChild(
        given_names=given,
        family_name=family_name,
        sex=sex,
        born=born,
        due=None,
        ethnic_category=ethnic_category or _ethnic_category(rng),
        disability=disability,
        disability_description=rng.choice(_DISABILITIES) if disability == "Y" else "",
        address=home[0],
        postcode=home[1],
        known_as=given[0][:3] if rng.random() < 0.1 else "",
    )


def _ethnic_category(rng: random.Random) -> str:
    return rng.choices(list(_ETHNICITY_WEIGHTS), list(_ETHNICITY_WEIGHTS.values()))[0]


def demo_children(
    seed: int,
    siblings: Mapping[str, str],
    population: Iterable[tuple[str, date]],
    unborn: tuple[str, str, date],
) -> dict[str, DemoChild]:
    """Each child by identifier (NHS number, or the unborn child's provisional id).

    `siblings` maps the sibling case's labels to NHS numbers; `population` gives the other
    children with their dates of birth; `unborn` is (provisional id, NHS number at birth,
    date of birth) of the child first known before birth."""
    rng = random.Random(f"{seed}:child-details")  # noqa: S311 - synthetic data, not a secret
    children: dict[str, DemoChild] = {}
    family, home, ethnicity = rng.choice(_FAMILY_NAMES), _address(rng), _ethnic_category(rng)
    for label, nhs in siblings.items():
        sex, born = SIBLING_BIRTHS[label]
        children[nhs] = _child(rng, family, home, born, ethnicity, sex=sex, given=(label,))
    # Before birth the same child has no name, sex or date of birth yet; disability not known.
    provisional, baby, born = unborn
    children[baby] = _child(rng, rng.choice(_FAMILY_NAMES), _address(rng), born)
    children[provisional] = replace(
        children[baby],
        given_names=(),
        known_as="",
        sex="unknown",
        born=None,
        due=born + _EXPECTED_EARLY,
        disability="U",
        disability_description="",
    )
    for nhs, birth in population:
        if nhs not in children:
            children[nhs] = _child(rng, rng.choice(_FAMILY_NAMES), _address(rng), birth)
    return children


def _la_columns(child: DemoChild) -> dict[str, str]:
    return {
        "forename": child.given_names[0] if child.given_names else "",
        "middle_names": " ".join(child.given_names[1:]),
        "surname": child.family_name,
        "known_as": child.known_as,
        "date_of_birth": child.born.strftime("%d/%m/%Y") if child.born else "",
        "expected_delivery_date": child.due.strftime("%d/%m/%Y") if child.due else "",
        "gender": _GENDER_CODES[child.sex],
        "ethnicity": _DFE_ETHNICITY[child.ethnic_category],
        "disability": child.disability,
        "disability_description": child.disability_description,
        "address_lines": ";".join(child.address),
        "postcode": child.postcode,
    }


def _patient_fields(child: DemoChild) -> dict[str, object]:
    """What the ICB's Patient says, for `agency_exports` to write as FHIR."""
    return {
        "given_names": list(child.given_names),
        "family_name": child.family_name,
        "known_as": child.known_as,
        "gender": child.sex,
        "birth_date": child.born.isoformat() if child.born else "",
        "expected_delivery_date": child.due.isoformat() if child.due else "",
        "ethnic_category": child.ethnic_category,
        "address_lines": list(child.address),
        "postcode": child.postcode,
    }


def child_details_records(
    records: Iterable[NativeRecord],
    children: Mapping[str, DemoChild],
    ids: Callable[[NativeRecord], NativeRecord],
) -> list[NativeRecord]:
    """The council's and the ICB's records of who each child they know is (see the module
    docstring), given record ids by `ids`; deliberately unmappable rows know no child."""
    known = [r for r in records if not r.spoil and r.agency in (LA, ICB)]
    first: dict[tuple[str, str], NativeRecord] = {}
    for record in sorted(known, key=lambda r: r.occurred):
        first.setdefault((record.agency, record.children[0]), record)
    published: list[NativeRecord] = []
    for (agency, identifier), earliest in sorted(first.items(), key=lambda i: i[1].occurred):
        child = children[identifier]
        occurred = earliest.occurred - _BEFORE_FIRST_RECORD
        details = ids(
            NativeRecord(
                agency=agency,
                code="CHILD_DETAILS" if agency == LA else "PATIENT",
                occurred=occurred,
                recorded=earliest.recorded + _RECORDING,
                summary="Unborn child's details recorded"
                if child.due
                else "Child's details recorded",
                children=(identifier,),
                extra=_la_columns(child) if agency == LA else _patient_fields(child),
            )
        )
        published.append(details)
        if agency == LA:
            published += _when_looked_after(
                details, [r for r in known if r.agency == LA and r.children == (identifier,)]
            )
    return published


def _when_looked_after(details: NativeRecord, own: list[NativeRecord]) -> list[NativeRecord]:
    """Revision 2 of the council's record once the child is looked after: the legal status
    and, if they were placed, the carers' address, which the council shields."""
    looked_after = [r for r in own if r.code == "LAC_START"]
    if not looked_after:
        return []
    start = min(looked_after, key=lambda r: r.occurred)
    placed = [r for r in own if r.code == "PLACE_START" and r.occurred >= start.occurred]
    extra = {**details.extra, "legal_status": start.extra["legal_status"]}
    latest = start
    if placed and placed[0].extra.get("placement_address"):
        latest = placed[0]
        extra |= {
            "address_lines": placed[0].extra["placement_address"],
            "postcode": "",
            "shielded_fields": "details.address",
        }
    occurred = latest.occurred + _RECORDING
    return [
        replace(
            details,
            revision=2,
            occurred=occurred,
            recorded=occurred + _RECORDING,
            summary="Child's details updated",
            extra=extra,
        )
    ]
