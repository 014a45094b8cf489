"""An agency's Kafka credential and ACLs, made through the broker's admin API when it is
onboarded (`hub agency register`): WRITE and DESCRIBE on its own topic and nothing else (see
`hub.onboarding` for the two guards that keep an agency to its own topic)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.domain.agency_records import AgencyRecord, OnboardingError
from hub.transports.kafka import ensure_topic

SCRAM_ITERATIONS = 8192


def agency_acls(record: AgencyRecord) -> list[Any]:
    """The ACL bindings for an agency's producer: WRITE and DESCRIBE on its own topic, by
    literal name (never a prefix, which would also match `hub.events.<id>-other`)."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    topic = ResourcePattern(ResourceType.TOPIC, record.topic, ACLResourcePatternType.LITERAL)
    return [
        ACL(f"User:{record.principal}", "*", operation, ACLPermissionType.ALLOW, topic)
        for operation in (ACLOperation.WRITE, ACLOperation.DESCRIBE)
    ]


def read_or_create_password(path: Path) -> str:
    """The agency's Kafka password from `path`; a new random one written there (mode 0600)
    when the file does not exist yet. Never printed or logged."""
    if path.exists():
        password = path.read_text().strip()
        if len(password) < 16:
            raise OnboardingError(f"the password in {path} is shorter than 16 characters")
        return password
    password = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("x") as handle:
        path.chmod(0o600)
        handle.write(password + "\n")
    return password


@dataclass(frozen=True)
class KafkaProvisioning:
    topic_partitions: int
    credential: str  # "created or updated"
    acls: str  # "created" or "skipped: <why>"


def provision_on_kafka(
    record: AgencyRecord,
    bootstrap: str,
    password: str,
    *,
    partitions: int,
    client_options: dict[str, Any],
    acls: bool = True,
    replication_factor: int = 1,
) -> KafkaProvisioning:
    """Create the topic (if missing), upsert the agency's SCRAM-SHA-512 credential and create
    its ACLs, through the Kafka admin API as the operator's principal. Idempotent."""
    from kafka import KafkaAdminClient
    from kafka.admin import ScramMechanism, UserScramCredentialUpsertion
    from kafka.errors import KafkaError

    ensure_topic(bootstrap, record.topic, partitions, client_options, replication_factor)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="hub-onboarding", **client_options
    )
    try:
        errors = admin.alter_user_scram_credentials(
            [
                UserScramCredentialUpsertion(
                    record.principal,
                    ScramMechanism.SCRAM_SHA_512,
                    password,
                    iterations=SCRAM_ITERATIONS,
                )
            ]
        )
        if errors.get(record.principal):
            raise OnboardingError(
                f"the broker refused the credential for {record.principal}: "
                f"{errors[record.principal]}"
            )
        acl_state = "skipped: --skip-acls (the broker must have no other way in)"
        if acls:
            try:
                result = admin.create_acls(agency_acls(record))
            except KafkaError as error:
                raise OnboardingError(
                    f"the broker did not create the agency's ACLs ({type(error).__name__}). "
                    "The credential exists but grants nothing while the broker denies by "
                    "default; the agency is not registered. A broker without an authorizer "
                    "cannot keep an agency to its own topic (--skip-acls is for test brokers)"
                ) from error
            failed = result.get("failed") or []
            if failed:
                raise OnboardingError(f"the broker refused the agency's ACLs: {failed}")
            acl_state = "created"
    finally:
        admin.close()
    return KafkaProvisioning(partitions, "created or updated", acl_state)
