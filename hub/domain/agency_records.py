"""The hub's record of a registered agency: who it is, what type, which adapter reads its
exports, its Kafka topic and principal. Registering one is `hub.onboarding`'s; storing the
records is `hub.adapters.agency_registries`'."""

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


def agency_topic(agency_id: str) -> str:
    return f"{TOPIC_PREFIX}{agency_id}"


def principal_name(agency_id: str) -> str:
    return f"agency-{agency_id}"
