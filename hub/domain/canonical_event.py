"""The canonical event, schema v1: the contract every adapter produces and every transport
carries. Unknown fields are rejected, never ignored, so a publisher's mistake is seen at once.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.domain.access import Role
from hub.domain.details import NhsNumber, ProvisionalId
from hub.domain.identity import PROVISIONAL_PREFIX, validate_nhs_number, validate_provisional_id
from hub.domain.taxonomy import KINDS, AgencyType, HarmCategory
from hub.domain.uk_time import uk_date

SCHEMA_VERSION = 1
EARLIEST_OCCURRED_AT = datetime(1990, 1, 1, tzinfo=UTC)
MAX_SUMMARY_LENGTH = 1000
_RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,99}$"

Sensitivity = Literal["standard", "sensitive", "restricted"]
LawfulBasis = Literal[
    "public-task",
    "legal-obligation",
    "recognised-legitimate-interest-safeguarding",
    "vital-interests",
    "consent",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agency(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="the hub's id for the agency")
    type: AgencyType


class ChildRef(_Strict):
    """The child: by NHS number (the SUI), or by a hub-issued provisional id until one is known."""

    nhs_number: NhsNumber | None = None
    provisional_id: ProvisionalId | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.nhs_number is None) == (self.provisional_id is None):
            raise ValueError("child needs exactly one of nhs_number or provisional_id")
        return self

    @property
    def identifier(self) -> str:
        return self.nhs_number or self.provisional_id or ""


def child_ref(identifier: str) -> ChildRef:
    """The child a person or a request names: an NHS number (spaces allowed) or a provisional
    id. Raises InvalidIdentifierError saying what is wrong, never repeating what was given."""
    text = identifier.strip()
    if text.upper().startswith(PROVISIONAL_PREFIX):
        return ChildRef(provisional_id=validate_provisional_id(text))
    return ChildRef(nhs_number=validate_nhs_number(text))


def validate_child_identifier(identifier: str) -> str:
    """For request models: the identifier as given if it names a child validly."""
    child_ref(identifier)
    return identifier.strip()


class Withholding(_Strict):
    """A publisher's decision that sharing this item with some recipients would be more
    detrimental to the child than not sharing it. The recipients are named by an agency type or
    a role from the hub's role list: anything else is an error, because a typo would otherwise
    withhold the item from nobody."""

    agency_type: AgencyType | None = None
    role: Role | None = None
    reason: str = Field(min_length=1, max_length=1000)
    decided_by: str = Field(min_length=1, max_length=200)
    review_by: date

    @model_validator(mode="after")
    def _names_recipients(self) -> Self:
        if (self.agency_type is None) == (self.role is None):
            raise ValueError("withheld_from entry needs exactly one of agency_type or role")
        return self


class Supersedes(_Strict):
    event_id: str = Field(pattern=_RECORD_ID_PATTERN)
    revision: int | None = Field(default=None, ge=1)


class CanonicalEvent(_Strict):
    """One safeguarding-relevant event about one child, from one agency."""

    schema_version: Literal[1]
    event_id: str = Field(pattern=_RECORD_ID_PATTERN, description="the agency's own record id")
    revision: int = Field(ge=1, le=10_000, description="corrections increment it")
    agency: Agency
    child: ChildRef
    kind: str = Field(description="one of the kinds in docs/taxonomy.md")
    categories: list[HarmCategory] = Field(default_factory=list, max_length=12)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_LENGTH)
    details: dict[str, JsonValue] = Field(default_factory=dict)
    sensitivity: Sensitivity
    lawful_basis: LawfulBasis
    withheld_from: list[Withholding] = Field(default_factory=list)
    shielded_fields: list[str] = Field(default_factory=list)
    supersedes: Supersedes | None = None
    household_ref: str | None = Field(
        default=None,
        pattern=_RECORD_ID_PATTERN,
        description="the publisher's own household/family reference, shared by the events "
        "about siblings in one household",
    )

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            # The value is not repeated: a reason is read by operators and may reach logs.
            raise ValueError("not a kind of schema v1; see docs/taxonomy.md for the kinds")
        return kind

    @field_validator("categories")
    @classmethod
    def _unique_categories(cls, categories: list[HarmCategory]) -> list[HarmCategory]:
        if len(set(categories)) != len(categories):
            raise ValueError("categories are listed more than once")
        return categories

    @field_validator("occurred_at")
    @classmethod
    def _not_before_1990(cls, occurred_at: datetime) -> datetime:
        if occurred_at < EARLIEST_OCCURRED_AT:
            raise ValueError("occurred_at is before 1990-01-01; check the date format")
        return occurred_at

    @field_validator("details")
    @classmethod
    def _details_fit_kind(cls, details: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        spec = KINDS.get(kind) if isinstance(kind, str) else None
        if spec is None or spec.details is None:
            return details
        # Details that are judged by when the record was made (a date of birth is not after
        # it) are judged by the event's own recorded_at, so they validate the same when read.
        recorded_at = info.data.get("recorded_at")
        context = {"recorded_on": uk_date(recorded_at)} if isinstance(recorded_at, datetime) else {}
        try:
            return spec.details.model_validate(details, context=context).model_dump(
                mode="json", exclude_none=True
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{field_path(e['loc']) or '(details)'}: {e['msg']}"
                for e in error.errors(include_url=False, include_input=False, include_context=False)
            )
            raise ValueError(f"details do not fit kind {kind!r}: {problems}") from None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        spec = KINDS[self.kind]
        if self.agency.type not in spec.publishers:
            allowed = ", ".join(sorted(spec.publishers))
            raise ValueError(
                f"kind {self.kind!r} is published by {allowed} agencies, not {self.agency.type}"
            )
        if self.occurred_at > self.recorded_at:
            raise ValueError(
                "occurred_at is after recorded_at: an event is recorded after it happens"
            )
        if self.kind == "record.retracted" and self.supersedes is None:
            raise ValueError(
                "a record.retracted event must name the record it retracts in supersedes"
            )
        if self.kind.startswith("identity.") and self.child.provisional_id is None:
            raise ValueError(f"{self.kind} events are published against the provisional id")
        for index, path in enumerate(self.shielded_fields):
            if path != "summary" and not (path.startswith("details.") and path[8:] in self.details):
                raise ValueError(
                    f"shielded_fields[{index}] must be 'summary' "
                    "or 'details.<a field present in details>'"
                )
        return self

    @property
    def idempotency_key(self) -> str:
        """What makes a publication the same publication: agency, record id and revision."""
        return f"{self.agency.id}\x1f{self.event_id}\x1f{self.revision}"


def canonical_json_schema() -> dict[str, Any]:
    """The published JSON Schema, with each kind's details shape under `x-kinds`."""
    schema = CanonicalEvent.model_json_schema()
    schema["$id"] = "https://schemas.safeguarding-hub.example/canonical-event/v1.json"
    schema["x-kinds"] = {
        kind: {
            "description": spec.description,
            "publishers": sorted(spec.publishers),
            "details": spec.details.model_json_schema() if spec.details else {"type": "object"},
        }
        for kind, spec in KINDS.items()
    }
    return schema


def _field_names(model: type[BaseModel], into: set[str]) -> set[str]:
    for name, info in model.model_fields.items():
        into.add(name)
        for candidate in getattr(info.annotation, "__args__", (info.annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _field_names(candidate, into)
    return into


@functools.cache
def _schema_field_names() -> frozenset[str]:
    names = _field_names(CanonicalEvent, set())
    for spec in KINDS.values():
        if spec.details is not None:
            _field_names(spec.details, names)
    return frozenset(names)


UNNAMED_FIELD = "(a field the schema does not define)"


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """A validation error's location as a dotted path of the schema's own field names. A
    key the schema does not define (an extra field, a key of free-form details) is content
    the publisher chose, possibly personal data, so it is named only as such."""
    known = _schema_field_names()
    return ".".join(
        str(part) if isinstance(part, int) or part in known else UNNAMED_FIELD for part in loc
    )


def describe_validation_error(error: ValidationError) -> str:
    """`field.path: message` for each problem, joined. Pydantic's default rendering includes
    `input_value`, which would copy personal data into a reason that operators read; keys the
    schema does not define are not repeated either (`field_path`)."""
    return "; ".join(
        f"{field_path(item['loc']) or '(event)'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    )
