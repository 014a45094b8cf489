"""A synthetic safeguarding partnership, written as each agency's own native export.

The demo and the tests need data that exercises the whole path honestly: native formats that
go through the real adapters, a heavy-tailed population (most children have a handful of
events, a few have hundreds), corrections, a retraction, a provisional id later linked, rows
the adapters must reject, and the composite sibling case from the Child Safeguarding Practice
Review Panel (seeds 003:851-867) laid out over four years so the chronology can show what no
single agency saw. Everything is fictional, derived from the seed, and dated between 2021 and
2025: the wall clock is never read, so a seed always gives the same files.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.adapters.agencies import health_fhir, la_csv, police_json, school_csv
from hub.domain.identity import nhs_check_digit, validate_provisional_id
from hub.domain.identity import InvalidIdentifierError as _Invalid
from hub.domain.taxonomy import AgencyType

UK = ZoneInfo("Europe/London")
WINDOW_START = date(2021, 1, 4)
LAST_EVENT_DAY = date(2025, 12, 15)  # recorded dates then stay within 2025
LA, POLICE, ICB = "shire-county-council", "shire-constabulary", "shire-icb"
SCHOOLS = tuple(f"school-10000{n}" for n in range(1, 5))
SIBLINGS = {"J": "Jackson", "M": "Madison", "Y": "Jayden"}  # fictional labels, manifest only
SIBLING_BIRTHS = {"J": date(2018, 3, 14), "M": date(2020, 6, 2), "Y": date(2022, 2, 20)}
HEAVY_TAIL = (320, 160)  # a few children with hundreds of events, whatever the draw


@dataclass(frozen=True)
class AgencyExport:
    agency_id: str
    agency_type: AgencyType
    adapter: str
    path: Path
    rows_written: int
    bad_rows: int
    events_expected: int  # a police incident naming several children gives one event each


@dataclass(frozen=True)
class PartnershipManifest:
    seed: int
    children: int
    agencies: tuple[AgencyExport, ...]
    sibling_nhs_numbers: dict[str, str]  # fictional label -> NHS number
    provisional_id: str
    provisional_linked_nhs_number: str

    def agency(self, agency_id: str) -> AgencyExport:
        return next(export for export in self.agencies if export.agency_id == agency_id)


@dataclass(frozen=True)
class _Record:
    """One native record before it is rendered in its agency's format."""

    agency: str
    code: str
    occurred: datetime  # UK local, aware
    recorded: datetime
    summary: str
    children: tuple[str, ...]  # NHS numbers, or one provisional id
    categories: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    revision: int = 1
    record_id: str = ""
    supersedes: str = ""
    spoil: str = ""  # "nhs" or "code": a deliberately unmappable row


def _at(day: date, hhmm: str) -> datetime:
    """Local daytime only: 07:00-23:59 is never ambiguous or missing at a clock change."""
    hours, minutes = hhmm.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=UK)


def _nhs_numbers(rng: random.Random, count: int) -> list[str]:
    """Distinct valid numbers in the 999 test range."""
    numbers: list[str] = []
    seen: set[str] = set()
    while len(numbers) < count:
        first_nine = f"999{rng.randrange(1_000_000):06d}"
        check = nhs_check_digit(first_nine)
        if check is not None and first_nine not in seen:
            seen.add(first_nine)
            numbers.append(f"{first_nine}{check}")
    return numbers


def _provisional_id(rng: random.Random) -> str:
    """A seeded provisional id: `issue_provisional_id` draws from `secrets`, so the check
    character is found by trying each symbol against the public validator."""
    body = "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(10))
    for check in "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U":
        try:
            return validate_provisional_id(f"PRV-{body}{check}")
        except _Invalid:
            continue
    raise AssertionError("every body has exactly one check character")  # pragma: no cover


def _invalid(nhs_number: str) -> str:
    return nhs_number[:9] + str((int(nhs_number[9]) + 1) % 10)


# The sibling case as a timeline: `date time agency code children categories | summary`, then
# an optional indented line of native extras. Children are J, M, Y (ages 7, 5 and 3 at the
# end); their names never appear in event text.
_SIBLING_CASE = """
2021-07-05 09:30 ICB WNB M disengagement | Not brought to 1-year health visitor review
  service=Health visiting; appointment_type=1-year review
2021-09-20 10:00 ICB WNB M disengagement | Not brought to immunisation appointment
  service=GP practice nurse; appointment_type=Immunisation
2021-11-15 14:00 ICB WNB M disengagement | Not brought to rearranged immunisation appointment
  service=GP practice nurse; appointment_type=Immunisation
2021-11-22 11:00 LA REF M disengagement | Referral from health about missed appointments; closed
  referral_source=health; outcome=NFA
2022-03-04 10:00 ICB HV-CONCERN Y neglect,parental-mental-health | New birth visit: home poor
2022-09-05 08:45 SCHOOL ENROLLED J - | Started in Reception
  school_urn=100001
2022-10-04 11:20 SCHOOL DISCLOSURE J physical-abuse | Pupil said an adult at home hit them
  recorded_by_role=Class teacher; action_taken=DSL referral to children's social care
2022-10-05 09:00 LA REF J physical-abuse | Referral from school after disclosure
  referral_source=school; outcome=ASMT
2022-10-06 10:00 LA ALLOC JMY - | Social worker allocated
  worker_id=SW-1001; worker_role=social-worker
2022-10-10 10:00 LA ASMT_START JMY - | Child and family assessment started
  assessment_start=10/10/2022
2022-12-02 15:00 LA ASMT_END JMY substance-misuse,parental-mental-health | Assessment completed
  assessment_start=10/10/2022
2022-12-07 11:00 LA CIN_PLAN JMY neglect,substance-misuse | Child in need plan agreed
2023-02-01 09:00 LA ALLOC JMY - | Social worker changed
  worker_id=SW-1014; worker_role=social-worker
2023-03-14 10:30 ICB HV-CONCERN Y neglect | Health visitor concerned about developmental delay
2023-05-10 09:15 ICB WNB Y disengagement | Not brought to developmental review
  service=Community paediatrics; appointment_type=Developmental review
2023-06-15 09:00 LA ALLOC JMY - | Social worker changed
  worker_id=SW-1022; worker_role=social-worker
2023-07-12 09:15 ICB WNB Y disengagement | Not brought to rearranged developmental review
  service=Community paediatrics; appointment_type=Developmental review
2023-09-04 10:00 LA FH_EPISODE JMY - | Child in need plan closed; Family Help offered
  worker_role=family-help-practitioner
2023-10-20 14:00 LA FGDM JMY disengagement | Family group conference offered; parents declined
  outcome=DECLINED
2024-01-18 13:30 SCHOOL DISCLOSURE J physical-abuse | Pupil said they were hit at home
  recorded_by_role=Class teacher; action_taken=DSL informed children's social care
2024-01-19 16:00 LA DECISION J physical-abuse | Decision on contact from school
  decision=Pass to Family Help; rationale=Family open to Family Help; decided_by=TM-0088
2024-03-07 07:40 POLICE WELFARE_VISIT JMY parental-mental-health | Mother taken to hospital
  visit_reason=Adult in mental health crisis; seen=true; spoken_to=false
2024-03-07 08:30 ICB PARENT-MH-CRISIS Y parental-mental-health | Crisis team: mother admitted
2024-03-08 12:00 LA CONTACT JMY parental-mental-health | Police notification received
2024-03-11 16:00 LA DECISION JMY parental-mental-health | Decision on police notification
  decision=No further action; rationale=Father caring for the children; decided_by=TM-0088
2024-06-20 09:00 ICB WNB Y disengagement | Not brought to speech and language therapy
  service=Speech and language therapy; appointment_type=Initial assessment
2024-09-04 08:45 SCHOOL ENROLLED M - | Started in Reception
  school_urn=100001
2024-11-04 09:00 SCHOOL EHE_NOTICE M disengagement | Notice of elective home education
  ehe_la_consent_required=N; ehe_reason=Parents wish to educate at home
2025-05-06 08:45 SCHOOL ENROLLED M - | Returned to school after home education
  school_urn=100001
2025-06-10 10:15 SCHOOL DISCLOSURE J physical-abuse | Pupil disclosed being hit with a belt
  recorded_by_role=Class teacher; action_taken=DSL referral to children's social care
2025-06-17 11:00 SCHOOL DISCLOSURE M physical-abuse,emotional-abuse | Pupil said adult hurts them
  recorded_by_role=Reception teacher; action_taken=DSL referral to children's social care
2025-06-17 15:30 LA REF JMY physical-abuse | Referral from school after disclosures
  referral_source=school; outcome=STRAT
2025-06-18 10:00 LA STRAT JMY physical-abuse | Strategy discussion: section 47 enquiry agreed
2025-06-18 14:00 LA S47_START JMY physical-abuse | Section 47 enquiry started
2025-07-02 12:00 LA S47_OUTCOME JMY physical-abuse,neglect | Concerns substantiated
  outcome=SUB_ICPC
2025-07-04 17:00 LA LAC_START JMY physical-abuse | Looked after under an interim care order
  legal_status=C1
2025-07-04 18:30 LA PLACE_START JMY - | Placed with foster carers
  placement_type=U4; placement_address=3 Example Row (fictional); sensitivity=restricted
2025-07-30 10:00 ICB LAC-HEALTH-ASSESSMENT JMY - | Initial health assessment for a child in care
"""
_AGENCY_TOKENS = {"LA": LA, "POLICE": POLICE, "ICB": ICB, "SCHOOL": SCHOOLS[0]}
_FLAGS = {"true": True, "false": False}


def _sibling_records(numbers: dict[str, str]) -> list[_Record]:
    """Parse the timeline. LA, health and school records are per child; a police incident
    names all the children present, as a real occurrence does."""
    parsed: list[_Record] = []
    for line in _SIBLING_CASE.strip().splitlines():
        if line.startswith(" "):
            pairs = (item.strip().split("=", 1) for item in line.split(";"))
            parsed[-1] = replace(parsed[-1], extra={k: _FLAGS.get(v, v) for k, v in pairs})
            continue
        head, summary = line.split(" | ")
        day, hhmm, agency, code, who, categories = head.split()
        occurred = _at(date.fromisoformat(day), hhmm)
        parsed.append(
            _Record(
                agency=_AGENCY_TOKENS[agency],
                code=code,
                occurred=occurred,
                recorded=occurred + timedelta(hours=3),
                summary=summary,
                children=tuple(numbers[label] for label in who),
                categories=() if categories == "-" else tuple(categories.split(",")),
            )
        )
    return [
        split
        for record in parsed
        for split in (
            [record]
            if record.agency == POLICE
            else [replace(record, children=(child,)) for child in record.children]
        )
    ]


# Population templates: (native code, weight, summary, category choices, extras).
_Extras = Callable[[random.Random, date], dict[str, Any]]


def _pick(**choices: tuple[Any, ...]) -> _Extras:
    def extras(rng: random.Random, day: date) -> dict[str, Any]:
        return {key: rng.choice(options) for key, options in choices.items()}

    return extras


def _assessment(rng: random.Random, day: date) -> dict[str, Any]:
    return {"assessment_start": (day - timedelta(days=rng.randint(5, 60))).strftime("%d/%m/%Y")}


def _withheld(rng: random.Random, day: date) -> dict[str, Any]:
    return {
        "withheld_from": [
            {
                "agency_type": "education",
                "reason": "Live investigation: sharing now could alert suspects",
                "decided_by": "DS 4471",
                "review_by": (day + timedelta(days=90)).isoformat(),
            }
        ]
    }


def _no_extras(rng: random.Random, day: date) -> dict[str, Any]:
    return {}


_Template = tuple[str, int, str, tuple[str, ...], _Extras]
_TEMPLATES: dict[AgencyType, tuple[_Template, ...]] = {
    AgencyType.LOCAL_AUTHORITY: (
        ("CONTACT", 30, "Contact received by the front door", ("", "neglect", "domestic-abuse"), _no_extras),
        ("REF", 18, "Referral accepted", ("neglect", "domestic-abuse", "physical-abuse"), _pick(referral_source=("school", "police", "health", "neighbour"), outcome=("NFA", "ASMT", "EH", "STRAT"))),
        ("ASMT_START", 10, "Child and family assessment started", ("",), _no_extras),
        ("ASMT_END", 8, "Child and family assessment completed", ("",), _assessment),
        ("CIN_PLAN", 6, "Child in need plan started", ("neglect", "parental-mental-health"), _no_extras),
        ("FH_EPISODE", 6, "Family Help episode opened", ("",), _pick(worker_role=("family-help-practitioner",))),
        ("STRAT", 4, "Strategy discussion held", ("physical-abuse", "sexual-abuse", "exploitation"), _no_extras),
        ("S47_START", 4, "Section 47 enquiry started", ("physical-abuse", "neglect"), _no_extras),
        ("S47_OUTCOME", 3, "Section 47 enquiry concluded", ("physical-abuse", "neglect"), _pick(outcome=("NS", "SUB_ICPC", "NFA"))),
        ("ICPC", 2, "Initial child protection conference", ("neglect",), _pick(outcome=("CPP", "NOPLAN"))),
        ("CPP_START", 2, "Child protection plan started", ("neglect", "emotional-abuse"), _pick(plan_category=("N", "EA", "PA", "MUL"))),
        ("CPP_REVIEW", 2, "Child protection plan reviewed", ("",), _no_extras),
        ("ALLOC", 8, "Worker allocated", ("",), _pick(worker_id=("SW-2001", "SW-2002", "SW-2003"), worker_role=("social-worker",))),
        ("DECISION", 3, "Front door decision", ("",), _pick(decision=("No further action", "Step up to assessment"), rationale=("Threshold not met", "Cumulative concerns"), decided_by=("TM-0088", "TM-0102"))),
        ("FGDM", 2, "Family group decision making", ("",), _pick(outcome=("OFFERED", "HELD", "DECLINED"))),
        ("LAC_START", 1, "Became looked after", ("neglect",), _pick(legal_status=("V2", "C1", "C2"))),
    ),
    AgencyType.POLICE: (
        ("DOMESTIC", 40, "Domestic abuse incident at the home address", ("domestic-abuse", "domestic-abuse,substance-misuse"), _pick(present=(True, False), voice=("", "Said they were frightened"))),
        ("WELFARE_VISIT", 20, "Police visit to the home", ("", "parental-mental-health"), _pick(visit_reason=("Concern for welfare", "Children left alone"), seen=(True,), spoken_to=(True, False))),
        ("MISSING", 20, "Missing episode", ("exploitation", ""), _pick(returned=(True, True, False))),
        ("EXPLOITATION", 6, "Exploitation concern", ("exploitation",), _withheld),
        ("ARREST_HOUSEHOLD", 10, "Household member arrested", ("domestic-abuse", "substance-misuse"), _no_extras),
        ("NRM", 2, "National Referral Mechanism referral", ("exploitation",), _no_extras),
    ),
    AgencyType.HEALTH: (
        ("HV-CONCERN", 25, "Health visitor concern", ("neglect", "", "parental-mental-health"), _no_extras),
        ("WNB", 35, "Was not brought to an appointment", ("disengagement",), _pick(service=("GP practice", "Community paediatrics", "Dental"), appointment_type=("Review", "Immunisation"))),
        ("UEC-ATTENDANCE", 25, "Emergency department attendance", ("", "physical-abuse"), _no_extras),
        ("PARENT-MH-CRISIS", 8, "Parental mental health crisis", ("parental-mental-health",), _no_extras),
        ("LAC-HEALTH-ASSESSMENT", 4, "Health assessment for a child in care", ("",), _no_extras),
    ),
    AgencyType.EDUCATION: (
        ("DISCLOSURE", 30, "Safeguarding disclosure", ("physical-abuse", "neglect", "online-harm"), _pick(recorded_by_role=("Class teacher", "DSL"))),
        ("ATTENDANCE", 30, "Attendance concern", ("", "neglect"), _pick(attendance_percent=("71.0", "84.6", "88.9"), attendance_period=("Autumn term", "Spring term"))),
        ("SUSPENSION", 15, "Suspension", ("",), _pick(exclusion_days=("1", "2", "5"))),
        ("PERM_EXCLUSION", 1, "Permanent exclusion", ("",), _no_extras),
        ("CME", 4, "Child missing education", ("disengagement",), _no_extras),
        ("CNIS", 2, "Children-not-in-school register entry", ("disengagement",), _no_extras),
    ),
}  # fmt: skip
