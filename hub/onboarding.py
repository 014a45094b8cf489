"""Agency onboarding: an agency's topic, its Kafka principal, and the hub's record of the agency
(its credential and ACLs are made on the broker by `hub.transports.kafka_provisioning`).

Two guards keep an agency to its own topic:
- on the broker, ACLs: principal `User:agency-<id>` may WRITE and DESCRIBE the literal topic
  `hub.events.<id>` only (the broker runs with `allow.everyone.if.no.acl.found=false`);
- in the hub, ingest takes the publishing agency from the topic a message arrived on and
  quarantines an event that claims another agency (`wrong-agency`), so even a broker
  without an authorizer cannot be used to publish as someone else.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

from hub.adapters.agency_registries import AgencyRegistry
from hub.domain.agency_records import (
    AgencyRecord,
    OnboardingError,
    agency_topic,
    principal_name,
)
from hub.domain.taxonomy import AgencyType

AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")  # as the canonical event's agency.id
SHOWN_TEXT_MAX = 200  # an agency's name or contact, as shown to practitioners
CANONICAL_ADAPTER = "canonical"  # the agency publishes canonical events itself


def new_agency(
    agency_id: str,
    agency_type: str,
    adapter: str,
    at: datetime,
    *,
    name: str | None = None,
    contact: str | None = None,
) -> AgencyRecord:
    """Check a registration and build its record (no I/O). `name` and `contact` are what
    practitioners are shown: the agency as people know it, and whom to ask about its records."""
    from hub.adapters.agencies.registry import ADAPTERS

    shown: dict[str, str | None] = {}
    for field, value in (("name", name), ("contact", contact)):
        text = " ".join((value or "").split())
        if len(text) > SHOWN_TEXT_MAX or any(not c.isprintable() for c in text):
            raise OnboardingError(
                f"--{field} must be at most {SHOWN_TEXT_MAX} printable characters"
            )
        shown[field] = text or None

    if not AGENCY_ID.match(agency_id):
        raise OnboardingError(
            f"agency id {agency_id!r} must be 2-63 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    types = [t.value for t in AgencyType]
    if agency_type not in types:
        raise OnboardingError(f"agency type {agency_type!r} is not one of {', '.join(types)}")
    if adapter != CANONICAL_ADAPTER:
        if adapter not in ADAPTERS:
            known = ", ".join([*sorted(ADAPTERS), CANONICAL_ADAPTER])
            raise OnboardingError(f"unknown adapter {adapter!r}; valid adapters are: {known}")
        if ADAPTERS[adapter].agency_type != agency_type:
            raise OnboardingError(
                f"adapter {adapter!r} reads {ADAPTERS[adapter].agency_type} exports, "
                f"not {agency_type}"
            )
    return AgencyRecord(
        agency_id=agency_id,
        agency_type=agency_type,
        adapter=adapter,
        topic=agency_topic(agency_id),
        principal=principal_name(agency_id),
        registered_at=at.astimezone(UTC).isoformat(),
        name=shown["name"],
        contact=shown["contact"],
    )


class RegisteredAgencies:
    """The agency register as ingest reads it, on every transport and in every mode: which
    type each agency is registered as. Read once and kept; read again when an agency is not
    found (one registered since), so a registration takes effect at once. Registrations are
    never removed or retyped (`register` refuses a change of type), so a kept entry stays true.
    """

    def __init__(self, registry: AgencyRegistry) -> None:
        self._registry = registry
        self._types: dict[str, AgencyType] = {}
        self._lock = threading.Lock()

    def registered_type(self, agency_id: str) -> AgencyType | None:
        found = self._types.get(agency_id)
        if found is None:
            with self._lock:
                self._types = {
                    record.agency_id: AgencyType(record.agency_type)
                    for record in self._registry.all()
                }
            found = self._types.get(agency_id)
        return found
