"""The YAML practitioner directory: the shipped sample, and files that must be refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hub.adapters.directory import (
    SAMPLE_DIRECTORY_PATH,
    DirectoryError,
    PractitionerDirectory,
    YamlPractitionerDirectory,
    load_directory,
)
from hub.domain.access import Practitioner, Role
from hub.domain.taxonomy import AgencyType

GOOD_ENTRY = """\
  - id: sw-0001
    name: Zelda Quist
    organisation: shire-county-council
    agency_type: local-authority
    role: social-worker
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(text)
    return path


def problem(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "Zelda Quist" not in message  # names are never echoed
    return message


def test_the_sample_directory_holds_the_demo_partnership() -> None:
    directory: PractitionerDirectory = load_directory(SAMPLE_DIRECTORY_PATH)
    assert [p.id for p in directory.all()] == [
        "lcpp-0001",
        "sw-0001",
        "sw-0002",
        "sw-0099",
        "mash-0001",
        "fh-0001",
        "po-0001",
        "po-0002",
        "hp-0001",
        "dsl-100001",
        "dsl-100002",
        "dsl-100003",
        "dsl-100004",
        "dpo-0001",
        "dpo-0002",
        "dpo-0003",
        "dpo-0004",
        "rev-0001",
    ]
    expected = {
        # id: (role, organisation, agency type, teams)
        "mash-0001": (
            Role.SOCIAL_WORKER,
            "shire-county-council",
            AgencyType.LOCAL_AUTHORITY,
            {"front-door:shire-county-council"},
        ),
        "lcpp-0001": (
            Role.LEAD_CHILD_PROTECTION_PRACTITIONER,
            "shire-county-council",
            AgencyType.LOCAL_AUTHORITY,
            {"macpt:shire-county-council"},
        ),
        "sw-0001": (
            Role.SOCIAL_WORKER,
            "shire-county-council",
            AgencyType.LOCAL_AUTHORITY,
            {"macpt:shire-county-council"},
        ),
        "sw-0002": (Role.SOCIAL_WORKER, "shire-county-council", AgencyType.LOCAL_AUTHORITY, set()),
        "fh-0001": (
            Role.FAMILY_HELP_WORKER,
            "shire-county-council",
            AgencyType.LOCAL_AUTHORITY,
            set(),
        ),
        "po-0001": (
            Role.POLICE_OFFICER,
            "shire-constabulary",
            AgencyType.POLICE,
            {"macpt:shire-county-council"},
        ),
        "po-0002": (Role.POLICE_OFFICER, "shire-constabulary", AgencyType.POLICE, set()),
        "hp-0001": (
            Role.HEALTH_PRACTITIONER,
            "shire-icb",
            AgencyType.HEALTH,
            {"macpt:shire-county-council"},
        ),
        **{
            f"dsl-10000{n}": (Role.SCHOOL_DSL, f"school-10000{n}", AgencyType.EDUCATION, set())
            for n in range(1, 5)
        },
        "dpo-0001": (
            Role.DATA_PROTECTION_OFFICER,
            "shire-county-council",
            AgencyType.LOCAL_AUTHORITY,
            set(),
        ),
        "rev-0001": (
            Role.PRACTICE_REVIEWER,
            "shire-county-council",
            AgencyType.LOCAL_AUTHORITY,
            set(),
        ),
    }
    for pid, (role, organisation, agency_type, teams) in expected.items():
        practitioner = directory.get(pid)
        assert practitioner is not None, pid
        assert (
            practitioner.role,
            practitioner.organisation,
            practitioner.agency_type,
            practitioner.teams,
        ) == (role, organisation, agency_type, frozenset(teams)), pid
        assert practitioner.name.strip() and practitioner.is_active(date(2025, 1, 6)), pid


def test_the_sample_leaver_is_inactive_after_leaving() -> None:
    leaver = load_directory(SAMPLE_DIRECTORY_PATH).get("sw-0099")
    assert leaver is not None
    assert leaver.role is Role.SOCIAL_WORKER and leaver.active_to == date(2024, 6, 30)
    assert leaver.is_active(date(2024, 6, 30))
    assert not leaver.is_active(date(2024, 7, 1))


def test_an_entry_becomes_a_practitioner_with_defaults_for_optional_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "practitioners:\n"
        + GOOD_ENTRY
        + """\
  - id: po-0001
    name: Yusuf Arkwright
    organisation: shire-constabulary
    agency_type: police
    role: police-officer
    teams: [macpt:shire-county-council, macpt:wold-borough-council]
    active_from: 2020-01-06
    active_to: 2025-03-31
""",
    )
    directory = YamlPractitionerDirectory(path)
    assert directory.path == path
    assert directory.get("sw-0001") == Practitioner(
        id="sw-0001",
        name="Zelda Quist",
        organisation="shire-county-council",
        agency_type=AgencyType.LOCAL_AUTHORITY,
        role=Role.SOCIAL_WORKER,
        teams=frozenset(),
        active_from=date(1990, 1, 1),
        active_to=None,
    )
    assert directory.get("po-0001") == Practitioner(
        id="po-0001",
        name="Yusuf Arkwright",
        organisation="shire-constabulary",
        agency_type=AgencyType.POLICE,
        role=Role.POLICE_OFFICER,
        teams=frozenset({"macpt:shire-county-council", "macpt:wold-borough-council"}),
        active_from=date(2020, 1, 6),
        active_to=date(2025, 3, 31),
    )
    assert directory.get("nobody") is None
    listed = directory.all()
    listed.clear()  # a copy: callers cannot change the directory
    assert len(directory.all()) == 2


def test_the_file_is_read_once_at_construction(tmp_path: Path) -> None:
    path = write(tmp_path, "practitioners:\n" + GOOD_ENTRY)
    directory = load_directory(str(path))
    path.write_text("practitioners: []\n")
    assert directory.get("sw-0001") is not None


def test_a_bad_role_names_the_file_index_id_and_field_but_not_the_value(tmp_path: Path) -> None:
    message = problem(
        tmp_path,
        "practitioners:\n"
        + GOOD_ENTRY
        + """\
  - id: sw-0002
    name: Zelda Quist
    organisation: shire-county-council
    agency_type: local-authority
    role: Top Secret Squirrel
""",
    )
    assert "practitioners[1] (id 'sw-0002'): role: Input should be" in message
    assert "Top Secret Squirrel" not in message
    assert "practitioners[0]" not in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("    nickname: Zed\n", "practitioners[0] (id 'sw-0001'): nickname: Extra inputs"),
        ("    agency_type: charity\n", "practitioners[0] (id 'sw-0001'): agency_type: Input"),
        (
            "    active_from: 2024-07-01\n    active_to: 2024-06-30\n",
            "practitioners[0] (id 'sw-0001'): active_to: Value error, is before active_from",
        ),
        ("    teams: macpt:shire\n", "practitioners[0] (id 'sw-0001'): teams: Input should be"),
        ("    teams: [Zelda's team]\n", "practitioners[0] (id 'sw-0001'): teams.0: String"),
        ("    active_to: last June\n", "practitioners[0] (id 'sw-0001'): active_to: Input"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, change: str, expected: str) -> None:
    text = "practitioners:\n" + GOOD_ENTRY.replace("    agency_type: local-authority\n", "")
    if "agency_type" not in change:
        text += "    agency_type: local-authority\n"
    message = problem(tmp_path, text + change)
    assert expected in message
    for value in ("Zed", "charity", "Zelda's team", "last June"):
        assert value not in message


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    message = problem(
        tmp_path, "practitioners:\n" + GOOD_ENTRY.replace("    name: Zelda Quist\n", "")
    )
    assert message.endswith("practitioners[0] (id 'sw-0001'): name: Field required")


def test_a_malformed_id_is_not_echoed(tmp_path: Path) -> None:
    message = problem(
        tmp_path, "practitioners:\n" + GOOD_ENTRY.replace("id: sw-0001", "id: Zelda Quist")
    )
    assert "practitioners[0]: id: String should match pattern" in message


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "practitioners:\n" + GOOD_ENTRY + GOOD_ENTRY)
    assert message.endswith(
        "practitioners[1] (id 'sw-0001'): id: duplicates the id of practitioners[0]"
    )


def test_every_problem_is_listed(tmp_path: Path) -> None:
    bad_role = GOOD_ENTRY.replace("role: social-worker", "role: boss")
    message = problem(tmp_path, "practitioners:\n" + bad_role + bad_role.replace("0001", "0002"))
    assert "practitioners[0] (id 'sw-0001'): role:" in message
    assert "practitioners[1] (id 'sw-0002'): role:" in message


def test_a_duplicate_key_in_an_entry_is_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "practitioners:\n" + GOOD_ENTRY + "    role: police-officer\n")
    assert message.endswith("not valid YAML at line 7, column 5: found a duplicate key")


def test_a_yaml_syntax_error_gives_the_position_not_the_text(tmp_path: Path) -> None:
    message = problem(tmp_path, "practitioners:\n  - id: sw-0001\n    name: [Zelda Quist\n")
    assert "not valid YAML at line" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a mapping with a 'practitioners' list"),
        ("- Zelda Quist\n", "expected a mapping with a 'practitioners' list"),
        ("practitioners: Zelda Quist\n", "'practitioners' must be a list"),
        ("staff: []\npractitioners: []\n", "unknown top-level field(s) staff"),
        ("practitioners:\n  - Zelda Quist\n", "practitioners[0]: must be a mapping"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problem(tmp_path, text)


def test_a_missing_file_is_a_directory_error(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="practitioner directory file not found"):
        load_directory(tmp_path / "absent.yaml")


def test_an_empty_list_is_an_empty_directory(tmp_path: Path) -> None:
    assert load_directory(write(tmp_path, "practitioners: []\n")).all() == []


def test_python_objects_are_never_constructed(tmp_path: Path) -> None:
    message = problem(tmp_path, "practitioners: !!python/object/apply:os.system ['true']\n")
    assert "not valid YAML at line 1" in message


def test_yaml_tags_and_aliases_from_the_file_are_not_echoed(tmp_path: Path) -> None:
    assert problem(tmp_path, "practitioners: !Zelda x\n").endswith(
        "line 1, column 16: could not determine a constructor for the tag '…'"
    )
    assert problem(tmp_path, "practitioners: *Zelda\n").endswith("found undefined alias '…'")
