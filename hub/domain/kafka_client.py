"""How a Kafka client connects: the security protocol, SASL/SCRAM and TLS, as kafka-python
options. One function for every client the hub opens: its own brokers (`HubSettings`) and,
for a partner hub with its own `client` block in the register, that partner's brokers
(`hub.domain.federation.PartnerKafkaClient`).

Pure: the password is passed in (read by whoever holds it), never read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


def needs_sasl_credentials(security_protocol: KafkaSecurityProtocol) -> bool:
    return security_protocol.startswith("SASL")


def kafka_client_options(
    security_protocol: KafkaSecurityProtocol,
    *,
    sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512",
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> dict[str, Any]:
    """kafka-python connection options: SASL settings when the protocol is SASL_*, TLS
    settings (hostname checked) when it ends in SSL."""
    options: dict[str, Any] = {"security_protocol": security_protocol}
    if needs_sasl_credentials(security_protocol):
        if not (username and password):
            raise ValueError(f"{security_protocol} needs a username and a password")
        options.update(
            sasl_mechanism=sasl_mechanism,
            sasl_plain_username=username,
            sasl_plain_password=password,
        )
    if security_protocol.endswith("SSL"):
        options["ssl_check_hostname"] = True
        if ca_file:
            options["ssl_cafile"] = str(ca_file)
        if cert_file:
            options["ssl_certfile"] = str(cert_file)
        if key_file:
            options["ssl_keyfile"] = str(key_file)
    return options
