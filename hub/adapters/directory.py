"""The practitioner directory: who a practitioner id is, where they work, and in which role.

Sharing decisions need to know the person behind an id (their organisation, role, teams and
whether they still work there), but the hub is not the partnership's identity system. The
`PractitionerDirectory` protocol is the seam: an identity provider adapter (Entra ID, a SCIM
feed, NHS CIS2) implements it in deployment; `YamlPractitionerDirectory` is the embedded
default, read from a YAML file the partnership maintains (docs/practitioners.md has the format).

The file is read and validated once, at construction, so a broken directory stops the hub at
start-up rather than turning into a wrong access decision mid-request. Errors name the file, the
entry's index and id and the field, never the values: a directory holds people's names.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Protocol

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from hub.domain.access import Practitioner, Role
from hub.domain.taxonomy import AgencyType

SAMPLE_DIRECTORY_PATH = Path(__file__).resolve().parents[1] / "samples" / "practitioners.yaml"
"""The demo partnership's directory, shipped with the hub."""

_PRACTITIONER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
_AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"  # as the canonical event's agency.id
_TEAM_PATTERN = r"^[a-z0-9][a-z0-9._:-]{0,99}$"
_MAX_REPORTED_PROBLEMS = 20

# A team id such as `macpt:shire-county-council` (see `hub.domain.access.macpt_team`).
TeamId = Annotated[str, StringConstraints(pattern=_TEAM_PATTERN)]


class DirectoryError(ValueError):
    """The directory file cannot be used; the message says where and which field, not values."""


class PractitionerDirectory(Protocol):
    """What the hub needs from an identity system: look a practitioner up, or list them all."""

    def get(self, practitioner_id: str) -> Practitioner | None:
        """The practitioner with that id, or None if the directory does not know them."""
        ...

    def all(self) -> list[Practitioner]:
        """Every practitioner, including those no longer active (reviews replay past dates)."""
        ...


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_PRACTITIONER_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(pattern=_AGENCY_ID_PATTERN)
    agency_type: AgencyType
    role: Role
    teams: list[TeamId] = Field(default_factory=list, max_length=50)
    active_from: date | None = None
    active_to: date | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must not be blank")
        return name

    @field_validator("active_to")
    @classmethod
    def _ends_after_start(cls, active_to: date | None, info: ValidationInfo) -> date | None:
        active_from = info.data.get("active_from")
        if active_to is not None and isinstance(active_from, date) and active_to < active_from:
            raise ValueError("is before active_from")
        return active_to

    def to_practitioner(self) -> Practitioner:
        dates: dict[str, date] = {}
        if self.active_from is not None:
            dates["active_from"] = self.active_from
        return Practitioner(
            id=self.id,
            name=self.name,
            organisation=self.organisation,
            agency_type=self.agency_type,
            role=self.role,
            teams=frozenset(self.teams),
            active_to=self.active_to,
            **dates,
        )


class _StrictSafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys: PyYAML silently keeps the last one, so a
    second `role:` in an entry would change someone's access without anyone noticing."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are resolved by the base loader
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base loader reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "found a duplicate key", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class YamlPractitionerDirectory:
    """The embedded directory: a YAML file read and validated once, at construction."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        practitioners = _parse(self._path)
        self._by_id = {practitioner.id: practitioner for practitioner in practitioners}
        self._ordered = practitioners

    @property
    def path(self) -> Path:
        return self._path

    def get(self, practitioner_id: str) -> Practitioner | None:
        return self._by_id.get(practitioner_id)

    def all(self) -> list[Practitioner]:
        """In file order, so listings match what the partnership maintains."""
        return list(self._ordered)


def load_directory(path: Path | str) -> YamlPractitionerDirectory:
    """Read and validate a directory file; raises `DirectoryError` if it cannot be used."""
    return YamlPractitionerDirectory(Path(path))


def _parse(path: Path) -> list[Practitioner]:
    document = _read_yaml(path)
    if not isinstance(document, dict):
        raise DirectoryError(f"{path}: expected a mapping with a 'practitioners' list at the top")
    unknown = sorted(str(key) for key in document if key != "practitioners")
    if unknown:
        raise DirectoryError(
            f"{path}: unknown top-level field(s) {', '.join(unknown)}; only 'practitioners'"
        )
    entries = document.get("practitioners")
    if not isinstance(entries, list):
        raise DirectoryError(f"{path}: 'practitioners' must be a list of practitioner entries")

    problems: list[str] = []
    practitioners: list[Practitioner] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(entries):
        where = f"practitioners[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping of practitioner fields")
            continue
        label = _safe_id_label(raw.get("id"))
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as error:
            problems.extend(f"{where}{label}: {problem}" for problem in _describe(error))
            continue
        if entry.id in first_index:
            problems.append(
                f"{where}{label}: id: duplicates the id of practitioners[{first_index[entry.id]}]"
            )
            continue
        first_index[entry.id] = index
        practitioners.append(entry.to_practitioner())

    if problems:
        shown = problems[:_MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        suffix = f"; and {more} more" if more else ""
        raise DirectoryError(f"{path}: " + "; ".join(shown) + suffix)
    return practitioners


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise DirectoryError(f"{path}: practitioner directory file not found") from error
    except UnicodeDecodeError as error:
        raise DirectoryError(f"{path}: not UTF-8 text") from error
    except OSError as error:
        raise DirectoryError(f"{path}: cannot read the file ({error.strerror})") from error
    try:
        # A SafeLoader subclass: only plain YAML types are constructed, never Python objects.
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506
    except yaml.MarkedYAMLError as error:
        # The default rendering quotes the offending line, which may hold a name.
        mark = error.problem_mark
        position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = _redact_quoted(error.problem or "cannot be parsed")
        raise DirectoryError(f"{path}: not valid YAML{position}: {problem}") from None
    except yaml.YAMLError:
        raise DirectoryError(f"{path}: not valid YAML") from None


def _redact_quoted(problem: str) -> str:
    """PyYAML quotes tags, anchors and aliases from the file in its problem text; keep only the
    short tokens that say what is wrong (a character, `'<stream end>'`), not what was written."""

    def keep_token(match: re.Match[str]) -> str:
        inner = match.group(1)
        return match.group(0) if len(inner) <= 2 or re.fullmatch(r"<[a-z ]+>", inner) else "'…'"

    return re.sub(r"'([^']*)'", keep_token, problem)


def _safe_id_label(value: object) -> str:
    """The entry's id for the message, only when it is a well-formed id: a malformed one might
    be a name typed into the wrong field, and must not be echoed."""
    if isinstance(value, str) and re.fullmatch(_PRACTITIONER_ID_PATTERN, value):
        return f" (id {value!r})"
    return ""


def _describe(error: ValidationError) -> list[str]:
    """`field: message` per problem, without pydantic's input values."""
    return [
        f"{'.'.join(str(part) for part in item['loc']) or '(entry)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]
