"""The deployed shape, run here: PostgreSQL store, a real Kafka-protocol broker, two ingest
workers sharing the partitions, the API and the Operation Encompass consumer, each its own
process started the way deploy/compose and deploy/k8s start them (secrets from files in
HUB_SECRETS_DIR, keys in HUB_KEYS_DIR made by `hub keys init`, agencies onboarded with
`hub agency register`), and driven only through public interfaces: Kafka for agencies, HTTP
for practitioners, /metrics, /healthz and /readyz for operators, the CLI for the rest.

One ingest worker is SIGKILLed mid-run and restarted: every message is still recorded
exactly once, and each worker only ever ingested the partitions it owns.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.agency_records import agency_topic
from hub.domain.records import ChildRecordEntry
from hub.settings import HubSettings
from hub.transports.kafka import DEFAULT_PARTITIONS, owner_worker
from tests.brokers import tansu_broker
from tests.conftest import POSTGRES_DSN
from tests.e2e.test_faults_ingest import AGENCIES, publish
from tests.factories import VALID_NHS_NUMBER, event_dict, register_agencies
from tests.integration.test_disclosure import CASE
from tests.tcp_proxy import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

BULK = 20_000
WORKERS = 2
AGENCY_TYPES = {agency: kind for agency, kind, *_ in AGENCIES} | {"school-100001": "education"}
ADAPTERS = {
    "local-authority": "la-csv",
    "police": "police-json",
    "health": "health-fhir",
    "education": "school-csv",
}


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    bootstrap: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    api_url: str = ""

    def hub(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert not check or done.returncode == 0, f"hub {' '.join(args)}: {done.stderr[-3000:]}"
        return done

    def start(self, name: str, *args: str) -> None:
        port = self.metrics_ports.setdefault(name, free_port())
        log = (self.root / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args, "--metrics-port", str(port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def metrics(self, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", timeout=10).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def probe(self, name: str, path: str) -> int:
        try:
            url = f"http://127.0.0.1:{self.metrics_ports[name]}{path}"
            return httpx.get(url, timeout=5).status_code
        except httpx.TransportError:
            return 0

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")


def wait_for(what: str, condition: Callable[[], bool], deployment: Deployment, limit: float = 120):
    """Poll a condition (bounded); on timeout, fail with the processes' log tails."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for name, process in deployment.processes.items():
            assert process.poll() is None, f"{name} exited: {deployment.log(name)[-3000:]}"
        if condition():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {n}\n{deployment.log(n)[-1500:]}" for n in deployment.processes)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


@pytest.fixture
def deployment(tmp_path: Path, postgres_schema: str) -> Iterator[Deployment]:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "hub_postgres_dsn").write_text(POSTGRES_DSN + "\n")  # a file, not an env literal
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_SECRETS_DIR": str(secrets),
        "HUB_KEYS_DIR": str(tmp_path / "keys"),
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_STORE": "postgres",
        "HUB_POSTGRES_SCHEMA": postgres_schema,
        "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH),
        "HUB_BATCH_SIZE": "500",
        "HUB_DEV_TOKENS": "true",  # practitioners' tokens here stand in for the OIDC provider's
    }
    with tansu_broker() as port:
        deployed = Deployment(tmp_path, env, f"127.0.0.1:{port}")
        try:
            yield deployed
        finally:
            for process in deployed.processes.values():
                process.terminate()
            for process in deployed.processes.values():
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def produce(bootstrap_address: str, messages: dict[str, list[bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap_address, acks="all")
    try:
        for agency, values in messages.items():
            for value in values:
                producer.send(agency_topic(agency), value=value)
        producer.flush()
    finally:
        producer.close()


def identifiers(messages: dict[str, list[bytes]]) -> set[tuple[str, str, int]]:
    """(agency, event id, revision): a correction is the same event id, a new revision."""
    return {
        (agency, document["event_id"], document["revision"])
        for agency, values in messages.items()
        for document in map(json.loads, values)
    }


def recorded(hub: Hub) -> Counter[tuple[str, str, int]]:
    return Counter(
        (record.body["agency"]["id"], record.body["event_id"], record.body["revision"])
        for record in hub.store.records(ChildRecordEntry)
        if isinstance(record, ChildRecordEntry) and record.entry_type == "agency-event"
    )


def committed(deployment: Deployment) -> int:
    status = json.loads(deployment.hub("status", "--format", "json").stdout)
    total = sum(source["position"] + 1 for source in status["sources"])
    return total


def test_two_ingest_workers_api_and_a_consumer_as_deployed(deployment: Deployment) -> None:
    d = deployment
    # Setup, as the one-shot jobs do it: keys, then each agency's topic and credential.
    keys = json.loads(d.hub("keys", "init", "--format", "json").stdout)
    assert set(keys["created"]) == {
        "kek/current",
        "pseudonym.key",
        "api-token.key",
        "checkpoint-signing.pem",
        "discovery-oprf.seed",
        "federation-encryption.pem",
    }
    for agency, agency_type in AGENCY_TYPES.items():
        d.hub(
            "agency", "register", agency, "--type", agency_type,
            "--adapter", ADAPTERS[agency_type], "--kafka", d.bootstrap,
            "--password-file", str(d.root / "agency-passwords" / agency),
            "--skip-acls",  # tansu has no authorizer; the ACL bindings are unit-tested
        )  # fmt: skip
    listed = json.loads(d.hub("agency", "list", "--format", "json").stdout)
    assert {a["agency_id"] for a in listed} == set(AGENCY_TYPES)

    # The services.
    api_port = free_port()
    d.api_url = f"http://127.0.0.1:{api_port}"
    d.start("api", "serve", "--port", str(api_port))
    for index in range(WORKERS):
        d.start(
            f"ingest-{index}", "ingest", "--kafka", d.bootstrap,
            "--workers", str(WORKERS), "--worker-index", str(index),
        )  # fmt: skip
    d.start("encompass", "consumer", "run", "encompass", "--poll", "0.5")
    for name in d.processes:
        wait_for(f"{name} ready", lambda n=name: d.probe(n, "/readyz") == 200, d)  # type: ignore[misc]
        assert d.probe(name, "/healthz") == 200

    # Agencies publish: the case (enrolment, allocation, s47...), then bulk traffic during
    # which one worker is killed, then a domestic abuse incident for the enrolled child.
    produce(d.bootstrap, CASE)
    messages = sum(map(len, CASE.values()))
    wait_for("the case ingested", lambda: committed(d) == messages, d)
    expected = identifiers(CASE)
    bulk = publish(d.bootstrap, 0, BULK)
    wait_for("some bulk ingested", lambda: committed(d) > len(expected) + BULK // 4, d)
    d.processes["ingest-1"].send_signal(signal.SIGKILL)
    d.processes["ingest-1"].wait(timeout=10)
    d.start(
        "ingest-1", "ingest", "--kafka", d.bootstrap,
        "--workers", str(WORKERS), "--worker-index", "1",
    )  # fmt: skip
    expected |= {(agency, event_id, 1) for agency, event_id in bulk}
    messages += BULK
    at = time.time() - 3600
    incident = event_dict(
        event_id="DA-DEPLOYED-1",
        agency={"id": "shire-constabulary", "type": "police"},
        kind="police.domestic-abuse-incident",
        categories=["domestic-abuse"],
        occurred_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(at)),
        recorded_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(at + 600)),
        summary="Officers attended a disturbance",
        details={"child_present": True, "police_reference": "OE-DEPLOYED-1"},
    )
    produce(d.bootstrap, {"shire-constabulary": [json.dumps(incident).encode()]})
    expected.add(("shire-constabulary", "DA-DEPLOYED-1", 1))
    messages += 1
    wait_for("everything ingested", lambda: committed(d) == messages, d, limit=300)

    # Exactly once, across two workers and a kill.
    settings = HubSettings(
        data_dir=d.root / "data",
        keys_dir=d.root / "keys",
        store="postgres",
        postgres_dsn=POSTGRES_DSN,
        postgres_schema=d.env["HUB_POSTGRES_SCHEMA"],
    )
    hub = bootstrap(settings)
    register_agencies(hub)
    try:
        counts = recorded(hub)
    finally:
        hub.close()
    assert set(counts) == expected
    assert [key for key, n in counts.items() if n > 1] == []
    status = json.loads(d.hub("status", "--format", "json").stdout)
    assert (status["duplicates"], status["quarantined"]) == (0, 0)

    # Each worker reports lag for exactly the partitions it owns, and all of it drains.
    partitions = {
        (agency_topic(agency), p) for agency in AGENCY_TYPES for p in range(DEFAULT_PARTITIONS)
    }
    owned: dict[str, set[tuple[str, int]]] = {}
    for index in range(WORKERS):
        name = f"ingest-{index}"

        def drained(n: str = name) -> bool:
            lags = {k: v for k, v in d.metrics(n).items() if k[0] == "hub_ingest_lag"}
            return len(lags) > 0 and all(v == 0 for v in lags.values())

        wait_for(f"{name} lag 0", drained, d)
        owned[name] = {
            (dict(labels)["topic"], int(dict(labels)["partition"]))
            for metric, labels in d.metrics(name)
            if metric == "hub_ingest_lag"
        }
        assert owned[name] == {(t, p) for t, p in partitions if owner_worker_of(t, p) == index}
    assert owned["ingest-0"] | owned["ingest-1"] == partitions
    assert not owned["ingest-0"] & owned["ingest-1"]
    accepted_by_0 = sum(
        v
        for (metric, labels), v in d.metrics("ingest-0").items()
        if metric == "hub_ingest_events_total" and dict(labels)["outcome"] == "accepted"
    )
    assert 0 < accepted_by_0 < len(expected)  # the work was shared

    # The consumer delivered the notice; practitioners see it, and a chronology, over HTTP.
    wait_for(
        "encompass caught up",
        lambda: d.metrics("encompass").get(("hub_consumer_lag", (("consumer", "encompass"),))) == 0,
        d,
    )
    dsl = {"Authorization": f"Bearer {token(d, 'dsl-100001')}"}
    notices: list[dict[str, Any]] = []

    def notice_listed() -> bool:
        listed = httpx.get(f"{d.api_url}/api/v1/notices", headers=dsl).json()["notices"]
        notices[:] = [n for n in listed if n["police_reference"] == "OE-DEPLOYED-1"]
        return len(notices) == 1

    wait_for("the notice listed", notice_listed, d)
    assert (notices[0]["child"], notices[0]["child_present"]) == (VALID_NHS_NUMBER, True)
    shown = httpx.post(
        f"{d.api_url}/api/v1/chronology",
        json={"child": VALID_NHS_NUMBER},
        headers={
            "Authorization": f"Bearer {token(d, 'lcpp-0001')}",
            "X-Hub-Purpose": "child-protection-enquiry",
        },
        timeout=60,
    )
    assert shown.json()["outcome"] == "disclosed"
    api_metrics = d.metrics("api")
    assert (
        api_metrics[("hub_disclosures_total", (("action", "view"), ("outcome", "disclosed")))] >= 1
    )

    # Operators: verify's result reaches the API's metrics; /metrics is not on the user port.
    assert api_metrics[("hub_verify_ok", ())] == -1  # never ran yet
    d.hub("verify")
    assert d.metrics("api")[("hub_verify_ok", ())] == 1
    assert httpx.get(f"{d.api_url}/metrics").status_code in {401, 404}
    assert httpx.get(f"{d.api_url}/readyz").status_code == 200

    # SIGTERM (what `docker stop` and Kubernetes send) stops a worker cleanly.
    d.processes["ingest-0"].terminate()
    assert d.processes.pop("ingest-0").wait(timeout=30) == 0

    # Nothing personal in any process's log.
    for name in ("api", "ingest-0", "ingest-1", "encompass"):
        assert VALID_NHS_NUMBER not in d.log(name), name


def owner_worker_of(topic: str, partition: int) -> int:
    from kafka import TopicPartition

    return owner_worker(TopicPartition(topic, partition), WORKERS)


def token(d: Deployment, practitioner: str) -> str:
    return d.hub("token", "issue", "--practitioner", practitioner).stdout.strip()
