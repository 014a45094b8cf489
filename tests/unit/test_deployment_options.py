"""The hub-side options the deployment relies on (issue 9): secrets from files, Kafka security
settings, the static partition assignment of scale-out ingest, the key directory that never
mints keys, agency onboarding's checks and ACL bindings, and the metrics/health port."""

from __future__ import annotations

import stat
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kafka import TopicPartition
from kafka.admin import ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourceType
from prometheus_client import REGISTRY

from hub.adapters import metrics
from hub.adapters.secrets import SecretConfigurationError
from hub.adapters.structured_logging import configure_logging
from hub.adapters.tokens import TokenVerifier
from hub.bootstrap import bootstrap
from hub.cli import main
from hub.cli.operations import worker_index
from hub.domain.agency_records import OnboardingError, agency_topic
from hub.onboarding import new_agency
from hub.settings import HubSettings
from hub.transports.kafka import owner_worker
from hub.transports.kafka_provisioning import agency_acls, read_or_create_password
from tests.tcp_proxy import free_port

NOW = datetime(2026, 11, 22, tzinfo=UTC)


# Settings -----------------------------------------------------------------------------------


def test_settings_come_from_secret_files_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hub_postgres_dsn").write_text("postgresql://hub:from-file@db:5432/hub\n")
    (tmp_path / "hub_kafka_password").write_text("kafka-secret-from-file\n")
    monkeypatch.setenv("HUB_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("HUB_KAFKA_USERNAME", "hub-ingest")
    settings = HubSettings()
    assert settings.postgres_dsn == "postgresql://hub:from-file@db:5432/hub"
    assert settings.kafka_password is not None
    assert settings.kafka_password.get_secret_value() == "kafka-secret-from-file"
    assert "kafka-secret-from-file" not in repr(settings)  # a SecretStr: never printed

    monkeypatch.setenv("HUB_POSTGRES_DSN", "postgresql://hub@other/hub")
    assert HubSettings().postgres_dsn == "postgresql://hub@other/hub"


def test_a_secrets_dir_that_is_not_there_is_an_error_not_a_silent_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SECRETS_DIR", str(tmp_path / "not-mounted"))
    with pytest.raises(ValueError, match="not a directory"):
        HubSettings()


def test_sasl_needs_a_username_and_password() -> None:
    with pytest.raises(ValueError, match="HUB_KAFKA_PASSWORD"):
        HubSettings(kafka_security_protocol="SASL_SSL", kafka_username="hub-ingest")


def test_an_openid_issuer_without_an_audience_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_DEV_TOKENS", "false")  # never with OIDC (tests/conftest.py: true)
    monkeypatch.setenv("HUB_OIDC_ISSUER", "https://login.example.org/realms/safeguarding")
    monkeypatch.setenv("HUB_OIDC_JWKS_URL", "https://login.example.org/certs")
    assert main(["status"]) == 1  # every command, `hub serve` included, refuses to start
    assert "HUB_OIDC_ISSUER is set without HUB_OIDC_AUDIENCE" in capsys.readouterr().err
    with pytest.raises(ValueError, match="audience"):
        TokenVerifier(
            dev_key=None, oidc_issuer="https://idp.example", oidc_jwks_url="https://idp.example/k"
        )
    monkeypatch.setenv("HUB_OIDC_AUDIENCE", "safeguarding-hub")
    assert HubSettings().oidc_audience == "safeguarding-hub"
    monkeypatch.delenv("HUB_OIDC_JWKS_URL")
    with pytest.raises(ValueError, match="HUB_OIDC_JWKS_URL or HUB_OIDC_JWKS_FILE"):
        HubSettings()
    monkeypatch.delenv("HUB_OIDC_ISSUER")
    with pytest.raises(ValueError, match="without HUB_OIDC_ISSUER"):
        HubSettings()


def test_kafka_client_options_by_security_protocol(tmp_path: Path) -> None:
    assert HubSettings().kafka_client_options() == {"security_protocol": "PLAINTEXT"}
    sasl_ssl = HubSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_username="hub-ingest",
        kafka_password="pw-from-a-file",  # type: ignore[arg-type]
        kafka_ca_file=tmp_path / "ca.crt",
    ).kafka_client_options()
    assert sasl_ssl == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hub-ingest",
        "sasl_plain_password": "pw-from-a-file",
        "ssl_check_hostname": True,
        "ssl_cafile": str(tmp_path / "ca.crt"),
    }


# Scale-out ingest ------------------------------------------------------------------------------

TOPICS = [agency_topic(a) for a in ("shire-county-council", "shire-constabulary", "shire-icb")]


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_every_partition_has_exactly_one_worker_spread_evenly_within_each_topic(
    workers: int,
) -> None:
    for topic in TOPICS:
        for partitions in (3, 6, 12):
            owners = [owner_worker(TopicPartition(topic, p), workers) for p in range(partitions)]
            assert all(0 <= owner < workers for owner in owners)
            per_worker = Counter(owners)
            spread = [per_worker.get(w, 0) for w in range(workers)]
            assert max(spread) - min(spread) <= 1, (topic, partitions, spread)


def test_worker_index_from_a_number_or_the_statefulset_hostname() -> None:
    assert worker_index("1", 2) == 1
    assert worker_index("auto", 3, hostname="hub-ingest-2") == 2
    with pytest.raises(ValueError, match="does not end in"):
        worker_index("auto", 2, hostname="ingest")
    with pytest.raises(ValueError, match=r"not in 0\.\.1"):
        worker_index("auto", 2, hostname="hub-ingest-2")
    with pytest.raises(ValueError, match="number or 'auto'"):
        worker_index("one", 2)


# Keys ------------------------------------------------------------------------------------------


def test_an_explicit_keys_dir_never_mints_keys_and_keys_init_creates_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    settings = HubSettings(data_dir=tmp_path / "data", keys_dir=keys)
    with pytest.raises(SecretConfigurationError, match="hub keys init"):
        bootstrap(settings)
    assert not keys.exists()  # nothing half-made either

    monkeypatch.setenv("HUB_KEYS_DIR", str(keys))
    assert main(["keys", "init", "--data-dir", str(tmp_path / "data")]) == 0
    made = {p.relative_to(keys): p.read_bytes() for p in keys.rglob("*") if p.is_file()}
    assert {str(p) for p in made} >= {
        "kek/current",
        "pseudonym.key",
        "api-token.key",
        "checkpoint-signing.pem",
        "discovery-oprf.seed",
        "federation-encryption.pem",
    }
    for path in made:
        if path.name != "current":  # names the current KEK file; not itself a secret
            assert stat.S_IMODE((keys / path).stat().st_mode) & 0o077 == 0, path
    assert main(["keys", "init", "--data-dir", str(tmp_path / "data")]) == 0
    assert {p.relative_to(keys): p.read_bytes() for p in keys.rglob("*") if p.is_file()} == made
    printed = capsys.readouterr().out
    assert "already present" in printed
    for path, content in made.items():
        if path.name != "current":
            assert content.strip()[:20] not in printed.encode()  # never key material
    bootstrap(settings).close()


def test_the_cli_reports_a_missing_key_volume_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_KEYS_DIR", str(tmp_path / "unmounted"))
    # (a command that starts a hub: `status` refuses an empty data directory before the keys)
    inbox = str(tmp_path / "inbox")
    assert main(["ingest", "--inbox", inbox, "--once", "--data-dir", str(tmp_path / "data")]) == 1
    assert "hub keys init" in capsys.readouterr().err


# Onboarding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agency_id", "agency_type", "adapter", "message"),
    [
        ("Shire Police", "police", "police-json", "agency id"),
        ("shire-police", "constabulary", "police-json", "agency type"),
        ("shire-police", "police", "police-xml", "unknown adapter"),
        ("shire-police", "police", "la-csv", "reads local-authority exports"),
    ],
)
def test_a_registration_is_checked_before_anything_is_created(
    agency_id: str, agency_type: str, adapter: str, message: str
) -> None:
    with pytest.raises(OnboardingError, match=message):
        new_agency(agency_id, agency_type, adapter, NOW)


def test_an_agencys_acls_let_it_write_its_own_topic_and_nothing_else() -> None:
    record = new_agency("shire-police", "police", "canonical", NOW)
    assert (record.topic, record.principal) == ("hub.events.shire-police", "agency-shire-police")
    acls = agency_acls(record)
    assert {acl.operation for acl in acls} == {ACLOperation.WRITE, ACLOperation.DESCRIBE}
    for acl in acls:
        assert acl.principal == "User:agency-shire-police"
        assert acl.permission_type == ACLPermissionType.ALLOW
        pattern = acl.resource_pattern
        assert pattern.resource_type == ResourceType.TOPIC
        assert pattern.resource_name == "hub.events.shire-police"
        # Literal: a prefix would also grant hub.events.shire-police-<anything>.
        assert pattern.pattern_type == ACLResourcePatternType.LITERAL


def test_the_agency_password_is_generated_private_or_read_and_never_short(tmp_path: Path) -> None:
    path = tmp_path / "handover" / "shire-police"
    password = read_or_create_password(path)
    assert len(password) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_password(path) == password
    short = tmp_path / "short"
    short.write_text("letmein\n")
    with pytest.raises(OnboardingError, match="shorter than 16"):
        read_or_create_password(short)


# Metrics and health ----------------------------------------------------------------------------


def test_ingest_and_access_counters() -> None:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("hub_ingest_events_total", agency="unit-agency", outcome="accepted")
    before_q = value("hub_ingest_quarantined_total", reason="malformed-json")
    metrics.record_ingest("unit-agency", 5, 1, {"malformed-json": 2})
    assert value("hub_ingest_events_total", agency="unit-agency", outcome="accepted") == before + 5
    assert value("hub_ingest_events_total", agency="unit-agency", outcome="quarantined") >= 2
    assert value("hub_ingest_quarantined_total", reason="malformed-json") == before_q + 2

    denied = value("hub_denials_total", action="unit-view")
    glass = value("hub_break_glass_total")
    metrics.count_access("unit-view", "denied", break_glass=False)
    metrics.count_access("unit-view", "disclosed", break_glass=True)
    assert value("hub_denials_total", action="unit-view") == denied + 1
    assert value("hub_disclosures_total", action="unit-view", outcome="disclosed") >= 1
    assert value("hub_break_glass_total") == glass + 1


def test_the_metrics_port_serves_metrics_liveness_and_readiness() -> None:
    configure_logging("warning")  # to this test's stdout (an earlier test's may be closed)
    broken = {"now": False}

    def ready_check() -> None:
        if broken["now"]:
            raise ConnectionError("store gone")

    health = metrics.Health(ready_check=ready_check, stall_after_s=60)
    port = free_port()
    server = metrics.serve_metrics(port, health, host="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{port}"
        assert "hub_ingest_events_total" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        broken["now"] = True
        not_ready = httpx.get(f"{base}/readyz")
        assert (not_ready.status_code, not_ready.text) == (503, "ConnectionError\n")
        health.stall_after_s = -1  # the main loop has not beaten within the limit
        assert httpx.get(f"{base}/healthz").status_code == 503
        assert httpx.get(f"{base}/anything-else").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
