"""`hub find`: find a child by family name and date of birth (given name optional), through
the blind index and the disclosure gate (docs/find.md). A search is a disclosure: audited,
with its terms kept sealed in the audit ledger."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from hub.cli.common import EXIT_OK, EXIT_USAGE, emit, open_hub

# The command line's name for each search term, in error messages.
FLAGS = {"family_name": "--family-name", "date_of_birth": "--dob", "given_name": "--given-name"}
HOW_TO_FIND = (
    "to find a child by name and date of birth: "
    "hub find --as ID --family-name NAME --dob YYYY-MM-DD [--given-name NAME] --purpose P"
)


def day_words(day: date) -> str:
    """`2 June 2020`."""
    return f"{day.day} {day:%B %Y}"


def spaced(identifier: str) -> str:
    """An NHS number as people write it (`999 082 0104`); a provisional id as it is."""
    if len(identifier) == 10 and identifier.isdigit():
        return f"{identifier[:3]} {identifier[3:6]} {identifier[6:]}"
    return identifier


def add_commands(
    commands: Any, common: argparse.ArgumentParser, formatted: argparse.ArgumentParser
) -> None:
    from hub.domain.access import CHRONOLOGY_PURPOSES

    find = commands.add_parser(
        "find",
        parents=[common, formatted],
        help="find a child by family name and date of birth (policy-checked and audited)",
    )
    find.add_argument("--as", dest="as_practitioner", required=True, help="practitioner id")
    find.add_argument("--family-name", required=True, help="the child's family name")
    find.add_argument("--dob", required=True, metavar="YYYY-MM-DD", help="date of birth")
    find.add_argument("--given-name", help="a given name, to narrow the results")
    find.add_argument(
        "--purpose",
        choices=[p.value for p in CHRONOLOGY_PURPOSES],
        help="why you need it (required to see anything)",
    )
    find.set_defaults(handler=cmd_find)


def _print(answer: Any, agencies: dict[str, str]) -> None:
    terms = answer.terms
    given = f", given name {terms.given_name}" if terms.given_name else ""
    print(
        f"Children named {terms.family_name}, born {day_words(terms.date_of_birth)}{given}, "
        f"that you may see: {len(answer.results)}"
    )
    if not answer.results:
        print(
            "  No child you may see matches. A search shows only children you have a "
            "relationship with, unless you are in the front door or the multi-agency child "
            "protection team and searching for child protection."
        )
        return
    for number, found in enumerate(answer.results, 1):
        born = f"born {day_words(found.date_of_birth)}, {found.age}" if found.date_of_birth else ""
        known = f" (known as {found.known_as})" if found.known_as else ""
        facts = ", ".join(f for f in (born, found.sex or "") if f)
        print(f"  {number}. {found.name}{known}: {facts}")
        match = "same family name" if found.match == "exact" else "similar family name"
        if found.given_name_matched:
            match += ", given name matches"
        print(f"     NHS number or id {spaced(found.identifier)}; {match}")
        recorded = ", ".join(agencies.get(a, a) for a in found.published_by)
        print(f"     recorded by {recorded}; audit {found.audit_ref}")
        if found.shielded:
            print(f"     not shown (shielded by the publisher): {', '.join(found.shielded)}")
    print("To open a chronology: hub chronology NHS_NUMBER --as ID --purpose P")


def cmd_find(args: argparse.Namespace) -> int:
    from hub.child_search import SearchTermError
    from hub.domain.access import Purpose

    hub = open_hub(args)
    try:
        agencies = {r.agency_id: r.display_name for r in hub.agencies.all()}
        answer = hub.child_search.find(
            args.as_practitioner,
            args.family_name,
            args.dob,
            args.given_name,
            Purpose(args.purpose) if args.purpose else None,
        )
    except SearchTermError as error:  # names the field, never the value
        print(f"hub find: {FLAGS[error.field]}: {error.problem}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        hub.close()
    emit(args, answer.as_dict(), lambda: _print(answer, agencies))
    return EXIT_OK
