"""The hub's record of a registered agency: who it is, what type, which adapter reads its
exports, its Kafka topic and principal, and the name and contact practitioners are shown.
Registering one is `hub.onboarding`'s; storing the records is `hub.adapters.agency_registries`'.
"""

from __future__ import annotations

from dataclasses import dataclass

TOPIC_PREFIX = "hub.events."  # an agency's channel on Kafka: hub.events.<agency id>


class OnboardingError(ValueError):
    """The registration is not valid; the message says what to change."""


@dataclass(frozen=True)
class AgencyRecord:
    agency_id: str
    agency_type: str
    adapter: str
    topic: str
    principal: str
    registered_at: str
    name: str | None = None  # how people know it, e.g. "Shire County Council children's services"
    contact: str | None = None  # whom a practitioner asks about its records (duty team phone/email)

    @property
    def display_name(self) -> str:
        return self.name or self.agency_id


def agency_topic(agency_id: str) -> str:
    return f"{TOPIC_PREFIX}{agency_id}"


def principal_name(agency_id: str) -> str:
    return f"agency-{agency_id}"
