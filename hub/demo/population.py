"""A synthetic safeguarding partnership, written as each agency's own native export.

The demo and the tests need data that exercises the whole path honestly: native formats that
go through the real adapters, a heavy-tailed population (most children have a handful of
events, a few have hundreds), corrections, a retraction, a provisional id later linked, rows
the adapters must reject, and the composite sibling case from the Child Safeguarding Practice
Review Panel (seeds 003:851-867) laid out over four years so the chronology can show what no
single agency saw. Everything is fictional, derived from the seed, and dated between 2021 and
2025: the wall clock is never read, so a seed always gives the same files.

The module is longer than most because the two cases and the population are kept as small
text tables beside the code that reads them, so the sibling case reads as a chronology.
The partnership's agencies, their record-id styles and the rendering of records in each
agency's format are `hub.demo.agency_exports`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.demo.agency_exports import (
    ICB,
    LA,
    POLICE,
    SCHOOLS,
    AgencyExport,
    NativeRecord,
    RecordIds,
    write_exports,
)
from hub.demo.child_details import child_details_records, demo_children
from hub.domain.identity import InvalidIdentifierError, nhs_check_digit, validate_provisional_id
from hub.domain.uk_time import UK

__all__ = [
    "ICB",
    "LA",
    "POLICE",
    "SCHOOLS",
    "SIBLING_HOUSEHOLDS",
    "AgencyExport",
    "PartnershipManifest",
    "generate_partnership",
]

WINDOW_START = date(2021, 1, 4)
LAST_EVENT_DAY = date(2025, 12, 15)  # with recording delays, every date stays within 2025
SIBLINGS = {"J": "Jackson", "M": "Madison", "Y": "Jayden"}  # fictional labels, manifest only
# The siblings' household as each agency's own system refers to it: the council's family id
# and the school's family reference (police link them through the one incident naming all
# three; the ICB export carries none).
SIBLING_HOUSEHOLDS = {"LA": "FAM-0007001", "SCHOOL": "SF-0042"}
HEAVY_TAIL = (320, 160)  # a few children with hundreds of events, whatever the draw
BABY_BORN = date(2025, 1, 20)  # the child first known by a provisional id
_AGENCIES = {"LA": LA, "POLICE": POLICE, "ICB": ICB, "SCHOOL": SCHOOLS[0]}
_FLAGS = {"true": True, "false": False}


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
        except InvalidIdentifierError:
            continue
    raise AssertionError("every body has exactly one check character")  # pragma: no cover


# Timelines and templates are small tables in text: a head line
# `... categories | summary`, then optionally an indented line of native extras
# `key=value; key=value`. Categories join with "+"; alternatives (templates only) are
# separated by "," with "-" for none; extras alternatives are separated by "|".
_Parsed = tuple[list[str], str, dict[str, tuple[Any, ...]]]


def _parse(text: str) -> list[_Parsed]:
    parsed: list[_Parsed] = []
    for line in text.strip().splitlines():
        if line.startswith(" "):
            pairs = (item.strip().split("=", 1) for item in line.split(";"))
            extras = {k: tuple(_FLAGS.get(v, v) for v in vs.split("|")) for k, vs in pairs}
            parsed[-1] = (parsed[-1][0], parsed[-1][1], extras)
        else:
            head, summary = line.split(" | ")
            parsed.append((head.split(), summary, {}))
    return parsed


def _categories(spec: str) -> tuple[str, ...]:
    return () if spec == "-" else tuple(spec.split("+"))


# The sibling case (seeds 003:851-867). Children J, M and Y are born 2018, 2020 and 2022 (7, 5
# and 3 when they come into care); their names are only in the council's and the ICB's
# records of who they are (`hub.demo.child_details`), never in event text.
_SIBLING_CASE = """
2021-07-05 09:30 ICB WNB M disengagement | Not brought to 1-year health visitor review
  service=Health visiting; appointment_type=1-year review
2021-09-20 10:00 ICB WNB M disengagement | Not brought to immunisation appointment
  service=GP practice nurse; appointment_type=Immunisation
2021-11-15 14:00 ICB WNB M disengagement | Not brought to rearranged immunisation appointment
  service=GP practice nurse; appointment_type=Immunisation
2021-11-22 11:00 LA REF M disengagement | Referral from health about missed appointments; closed
  referral_source=health; outcome=NFA
2022-03-04 10:00 ICB HV-CONCERN Y neglect+parental-mental-health | New birth visit: home poor
2022-09-05 08:45 SCHOOL ENROLLED J - | Started in Reception
  school_urn=100001
2022-10-04 11:20 SCHOOL DISCLOSURE J physical-abuse | Pupil said an adult at home hit them
  recorded_by_role=Class teacher; action_taken=DSL referral to children's social care
2022-10-05 09:00 LA REF J physical-abuse | Referral from school after disclosure
  referral_source=school; outcome=ASMT
2022-10-06 10:00 LA ALLOC JMY - | Social worker allocated
  worker_id=sw-0001; worker_role=social-worker
2022-10-10 10:00 LA ASMT_START JMY - | Child and family assessment started
  assessment_start=10/10/2022
2022-12-02 15:00 LA ASMT_END JMY substance-misuse+parental-mental-health | Assessment completed
  assessment_start=10/10/2022
2022-12-07 11:00 LA CIN_PLAN JMY neglect+substance-misuse | Child in need plan agreed
2023-03-14 10:30 ICB HV-CONCERN Y neglect | Health visitor concerned about developmental delay
2023-05-10 09:15 ICB WNB Y disengagement | Not brought to developmental review
  service=Community paediatrics; appointment_type=Developmental review
2023-06-15 09:00 LA ALLOC JMY - | Case handed over to a new social worker
  worker_id=sw-0002; worker_role=social-worker
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
2024-10-14 11:00 SCHOOL DISCLOSURE M neglect | Pupil said there is often no food at home
  recorded_by_role=Reception teacher; action_taken=DSL logged the concern and is monitoring
2024-11-04 09:00 SCHOOL EHE_NOTICE M disengagement | Notice of elective home education
  ehe_la_consent_required=N; ehe_reason=Parents wish to educate at home
2025-05-06 08:45 SCHOOL ENROLLED M - | Returned to school after home education
  school_urn=100001
2025-06-10 10:15 SCHOOL DISCLOSURE J physical-abuse | Pupil disclosed being hit with a belt
  recorded_by_role=Class teacher; action_taken=DSL referral to children's social care
2025-06-17 11:00 SCHOOL DISCLOSURE M physical-abuse+emotional-abuse | Pupil said adult hurts them
  recorded_by_role=Reception teacher; action_taken=DSL referral to children's social care
2025-06-17 15:30 LA REF JMY physical-abuse | Referral from school after disclosures
  referral_source=school; outcome=STRAT
2025-06-18 10:00 LA STRAT JMY physical-abuse | Strategy discussion: section 47 enquiry agreed
2025-06-18 14:00 LA S47_START JMY physical-abuse | Section 47 enquiry started
2025-07-02 12:00 LA S47_OUTCOME JMY physical-abuse+neglect | Concerns substantiated
  outcome=SUB_ICPC
2025-07-09 10:00 LA ICPC JMY physical-abuse+neglect | Initial conference: child protection plans
  outcome=CPP
2025-07-09 12:00 LA CPP_START JMY physical-abuse+neglect | Child protection plan started
  plan_category=MUL
2025-07-18 17:00 LA LAC_START JMY physical-abuse | Looked after under an interim care order
  legal_status=C1
2025-07-18 18:30 LA PLACE_START JMY - | Placed with foster carers
  placement_type=U4; placement_address=3 Example Row (fictional); sensitivity=restricted
2025-07-30 10:00 ICB LAC-HEALTH-ASSESSMENT JMY - | Initial health assessment for a child in care
"""


def _timeline(
    text: str, people: dict[str, str], households: dict[str, str] | None = None
) -> list[NativeRecord]:
    """Records from a timeline, recorded three hours after they happen. LA, health and school
    records are per child; a police incident names all the children present, as a real
    occurrence does. `households` gives an agency token's household reference for every one
    of its records."""
    households = households or {}
    records = []
    for (day, hhmm, agency, code, who, categories), summary, extras in _parse(text):
        occurred = _at(date.fromisoformat(day), hhmm)
        record = NativeRecord(
            agency=_AGENCIES[agency],
            code=code,
            occurred=occurred,
            recorded=occurred + timedelta(hours=3),
            summary=summary,
            children=tuple(people[label] for label in who),
            categories=_categories(categories),
            extra={key: values[0] for key, values in extras.items()},
            household=households.get(agency, ""),
        )
        if agency == "POLICE":
            records.append(record)
        else:
            records += [replace(record, children=(child,)) for child in record.children]
    return records


# A child first known by a provisional id (P) before birth, then by NHS number (B).
_PROVISIONAL_CASE = """
2024-10-15 10:00 ICB MATERNITY-PRE-BIRTH P substance-misuse | Maternity concern: substance misuse
2024-11-04 10:00 LA ASMT_START P substance-misuse | Pre-birth assessment started
  assessment_start=04/11/2024
2025-01-28 10:00 LA ID_LINK P - | Born; pre-birth record linked to the NHS number issued at birth
2025-03-10 10:00 ICB HV-CONCERN B neglect | Health visitor concern about feeding and home conditions
"""

# The random population: `agency-type code weight categories | summary`.
_POPULATION = """
LA CONTACT 30 -,neglect,domestic-abuse | Contact received by the front door
LA REF 18 neglect,domestic-abuse,physical-abuse | Referral accepted
  referral_source=school|police|health|neighbour; outcome=NFA|ASMT|EH|STRAT
LA ASMT_START 10 - | Child and family assessment started
LA ASMT_END 8 - | Child and family assessment completed
LA CIN_PLAN 6 neglect,parental-mental-health | Child in need plan started
LA FH_EPISODE 6 - | Family Help episode opened
  worker_role=family-help-practitioner
LA STRAT 4 physical-abuse,sexual-abuse,exploitation | Strategy discussion held
LA S47_START 4 physical-abuse,neglect | Section 47 enquiry started
LA S47_OUTCOME 3 physical-abuse,neglect | Section 47 enquiry concluded
  outcome=NS|SUB_ICPC|NFA
LA ICPC 2 neglect | Initial child protection conference
  outcome=CPP|NOPLAN
LA CPP_START 2 neglect,emotional-abuse | Child protection plan started
  plan_category=N|EA|PA|MUL
LA CPP_REVIEW 2 - | Child protection plan reviewed
LA ALLOC 8 - | Worker allocated
  worker_id=sw-0001|sw-0002; worker_role=social-worker
LA DECISION 3 - | Front door decision
  decision=No further action|Step up to assessment; rationale=Threshold; decided_by=TM-0088
LA FGDM 2 - | Family group decision making
  outcome=OFFERED|HELD|DECLINED
LA LAC_START 1 neglect | Became looked after
  legal_status=V2|C1|C2
POLICE DOMESTIC 40 domestic-abuse,domestic-abuse+substance-misuse | Domestic abuse incident
  present=true|false; voice=|Said they were frightened
POLICE WELFARE_VISIT 20 -,parental-mental-health | Police visit to the home
  visit_reason=Concern for welfare|Children left alone; seen=true; spoken_to=true|false
POLICE MISSING 20 exploitation,- | Missing episode
  returned=true|true|false
POLICE EXPLOITATION 6 exploitation | Exploitation concern
POLICE ARREST_HOUSEHOLD 10 domestic-abuse,substance-misuse | Household member arrested
POLICE NRM 2 exploitation | National Referral Mechanism referral
ICB HV-CONCERN 25 neglect,-,parental-mental-health | Health visitor concern
ICB WNB 35 disengagement | Was not brought to an appointment
  service=GP practice|Community paediatrics|Dental; appointment_type=Review|Immunisation
ICB UEC-ATTENDANCE 25 -,physical-abuse | Emergency department attendance
ICB PARENT-MH-CRISIS 8 parental-mental-health | Parental mental health crisis
ICB LAC-HEALTH-ASSESSMENT 4 - | Health assessment for a child in care
SCHOOL DISCLOSURE 30 physical-abuse,neglect,online-harm | Safeguarding disclosure
  recorded_by_role=Class teacher|DSL
SCHOOL ATTENDANCE 30 -,neglect | Attendance concern
  attendance_percent=71.0|84.6|88.9; attendance_period=Autumn term|Spring term
SCHOOL SUSPENSION 15 - | Suspension
  exclusion_days=1|2|5
SCHOOL PERM_EXCLUSION 1 - | Permanent exclusion
SCHOOL CME 4 disengagement | Child missing education
SCHOOL CNIS 2 disengagement | Children-not-in-school register entry
"""
_TEMPLATES: dict[str, list[_Parsed]] = {}
for _template in _parse(_POPULATION):
    _TEMPLATES.setdefault(_template[0][0], []).append(_template)
_TYPE_WEIGHTS = {"LA": 3.0, "POLICE": 1.5, "ICB": 3.0, "SCHOOL": 2.5}
# Ages (in whole years) at which a kind of event is plausible; others happen at any age.
_AGES = {
    "HV-CONCERN": range(0, 5),  # health visitors see under-fives
    "MISSING": range(10, 18),
    "EXPLOITATION": range(11, 18),
    "NRM": range(11, 18),
    "SUSPENSION": range(5, 18),
    "PERM_EXCLUSION": range(8, 18),
}


def _computed_extras(code: str, day: date, rng: random.Random) -> dict[str, Any]:
    """Extras that depend on the event's date rather than a fixed list."""
    if code == "ASMT_END":
        return {"assessment_start": (day - timedelta(days=rng.randint(5, 60))).strftime("%d/%m/%Y")}
    if code == "EXPLOITATION":
        review_by = (day + timedelta(days=90)).isoformat()
        reason = "Live investigation: sharing now could alert suspects"
        withheld = {"agency_type": "education", "reason": reason, "decided_by": "DS 4471"}
        return {"withheld_from": [{**withheld, "review_by": review_by}]}
    return {}


def _population(rng: random.Random, children: list[tuple[str, date]]) -> list[NativeRecord]:
    """Heavy-tailed event counts (Pareto, shape 1.2: most 1-5, a long tail), spread from
    birth (or the window start) to the end of 2025, across the four agency types."""
    types, weights = list(_TYPE_WEIGHTS), list(_TYPE_WEIGHTS.values())
    records: list[NativeRecord] = []
    for index, (nhs, birth) in enumerate(children):
        agencies = {**_AGENCIES, "SCHOOL": rng.choice(SCHOOLS)}
        tail = HEAVY_TAIL[index] if index < len(HEAVY_TAIL) else 0
        count = tail or min(600, int(rng.paretovariate(1.2)))
        first = max(WINDOW_START, birth + timedelta(days=1))
        for _ in range(count):
            day = first + timedelta(days=rng.randint(0, (LAST_EVENT_DAY - first).days))
            agency = rng.choices(types, weights)[0]
            age = (day - birth).days // 365
            if agency == "SCHOOL" and age < 4:
                agency = "ICB"  # under school age
            templates = [t for t in _TEMPLATES[agency] if age in _AGES.get(t[0][1], range(99))]
            chosen = rng.choices(templates, [float(t[0][2]) for t in templates])[0]
            (_, code, _, categories), summary, extras = chosen
            occurred = _at(day, f"{rng.randint(7, 20):02d}:{rng.randrange(60):02d}")
            delay = timedelta(days=rng.choice((0, 0, 0, 1, 2, 7)), minutes=rng.randint(20, 180))
            native = {key: rng.choice(values) for key, values in extras.items()}
            records.append(
                NativeRecord(
                    agency=agencies[agency],
                    code=code,
                    occurred=occurred,
                    recorded=occurred + delay,
                    summary=summary,
                    children=(nhs,),
                    categories=_categories(rng.choice(categories.split(","))),
                    extra=native | _computed_extras(code, day, rng),
                )
            )
    return records


def _corrections_and_retraction(
    rng: random.Random, records: list[NativeRecord]
) -> list[NativeRecord]:
    """Revision 2 of one record per agency type, and one retracted LA contact."""
    candidates = [r for r in records if r.recorded.date() < date(2025, 12, 20)]
    extra: list[NativeRecord] = []
    for agencies in ((LA,), (POLICE,), (ICB,), SCHOOLS):
        record = rng.choice([r for r in candidates if r.agency in agencies])
        summary = f"{record.summary} (corrected: details amended after review)"
        recorded = record.recorded + timedelta(days=2)
        extra.append(replace(record, revision=2, recorded=recorded, summary=summary))
    contact = rng.choice([r for r in candidates if r.agency == LA and r.code == "CONTACT"])
    retracted_at = contact.recorded + timedelta(days=1)
    retraction = NativeRecord(
        agency=LA,
        code="RETRACT",
        occurred=retracted_at,
        recorded=retracted_at + timedelta(hours=1),
        summary="Contact recorded against the wrong child",
        children=contact.children,
        supersedes=contact.record_id,
    )
    return [*extra, retraction]


def _bad_rows(rng: random.Random, children: list[tuple[str, date]]) -> list[NativeRecord]:
    """Two unmappable rows per agency file: a wrong check digit and an unknown native code."""
    codes = {LA: ("CONTACT", {}), POLICE: ("DOMESTIC", {"present": True}), ICB: ("HV-CONCERN", {})}
    bad = []
    for agency in (LA, POLICE, ICB, *SCHOOLS):
        code, extra = codes.get(agency, ("DISCLOSURE", {}))
        for spoil in ("nhs", "code"):
            occurred = _at(date(2025, rng.randint(1, 11), rng.randint(1, 28)), "12:00")
            bad.append(
                NativeRecord(
                    agency=agency,
                    code=code,
                    occurred=occurred,
                    recorded=occurred + timedelta(hours=1),
                    summary="Deliberately unmappable demo row",
                    children=(rng.choice(children)[0],),
                    extra=extra,
                    spoil=spoil,
                )
            )
    return bad


def generate_partnership(
    out_dir: Path, *, seed: int = 7, children: int = 400, provisional_id: str | None = None
) -> PartnershipManifest:
    """Write one native export per agency into `out_dir` (named `<agency id>.csv|json`) and
    say what was written.

    `children` counts every distinct child: the three siblings, the child first known by a
    provisional id, and the random population. `provisional_id` is the one the hub issued for
    the unborn child (the demo asks the hub first); without it a seeded one is drawn.
    """
    if children < 10:
        raise ValueError("the demo partnership needs at least 10 children")
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    numbers = _nhs_numbers(rng, children)
    siblings = dict(zip(SIBLINGS, numbers[:3], strict=True))
    seeded_provisional = _provisional_id(rng)  # drawn either way, so the seed's stream is stable
    provisional = validate_provisional_id(provisional_id) if provisional_id else seeded_provisional
    baby = numbers[3]
    others = [(n, date(2008, 1, 1) + timedelta(days=rng.randint(0, 6390))) for n in numbers[4:]]
    ids = RecordIds()
    cases = [
        *_timeline(_SIBLING_CASE, siblings, SIBLING_HOUSEHOLDS),
        *(
            replace(r, extra={"linked_nhs_number": baby}) if r.code == "ID_LINK" else r
            for r in _timeline(_PROVISIONAL_CASE, {"P": provisional, "B": baby})
        ),
    ]
    cases = [ids(r) for r in cases]
    population = [ids(r) for r in _population(rng, [*others, (baby, BABY_BORN)])]
    records = cases + population
    # Corrections and the retraction touch the random population only, so the two cases
    # read exactly as their timelines say.
    records += [ids(r) for r in _corrections_and_retraction(rng, population)]
    records += [ids(r) for r in _bad_rows(rng, others)]
    # Who each child is, from their own random stream: the draws above are unchanged.
    labelled = {SIBLINGS[token]: number for token, number in siblings.items()}
    children_known = demo_children(seed, labelled, others, (provisional, baby, BABY_BORN))
    records += child_details_records(records, children_known, ids)
    nominals = {n: f"N-{i:06d}" for i, n in enumerate(numbers, start=1)}
    exports = write_exports(out_dir, records, nominals)
    return PartnershipManifest(seed, children, exports, labelled, provisional, baby)
