"""The Docker Compose deployment (deploy/compose/) keeps the deployment contract.

No Docker engine runs here, so the stack is not started: the compose files (alone and merged
the way `docker compose -f compose.yaml -f compose.kafka-3.yaml` merges them) are validated
against the compose-spec JSON schema vendored by check-jsonschema, then checked for the
contract's rules (secrets only from files, health checks, published ports, ingest worker
indexes, one hub image, SASL_SSL to Kafka, dependency order). Each rule is also shown to
fail on a config that breaks it. `bin/init-secrets` is run for real into a temporary folder
and its certificate chain verified with openssl.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hub.consumer_registry import built_in_consumer_names

ROOT = Path(__file__).parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
KAFKA_3 = COMPOSE_DIR / "compose.kafka-3.yaml"
INIT_SECRETS = COMPOSE_DIR / "bin" / "init-secrets"
UP = COMPOSE_DIR / "up"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"

Config = dict[str, Any]

BUILT_IN_CONSUMERS = built_in_consumer_names()  # each its own service
HUB_SERVICES = {"setup", "api", "ingest-0", "ingest-1", *BUILT_IN_CONSUMERS}
DEFAULT_SERVICES = {"kafka", "kafka-setup", "postgres", *HUB_SERVICES}
# Federation with partner hubs: opt-in, only with `--profile federation`.
FEDERATION = "federation"
FEDERATION_LONG_RUNNING = {"federation-receive", "federation-answer", "transfers"}
FEDERATION_HUB_SERVICES = {*FEDERATION_LONG_RUNNING, "federation-publish-holdings"}
FEDERATION_SERVICES = {*FEDERATION_HUB_SERVICES, "federation-kafka-setup"}
FEDERATION_KEYS = {"checkpoint-signing.pem", "discovery-oprf.seed", "federation-encryption.pem"}
ONE_SHOTS = {"setup", "kafka-setup", "federation-kafka-setup", "federation-publish-holdings"}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|DSN|SECRET|KEY|JAAS|CREDENTIAL", re.IGNORECASE)
STORE_TYPES = {"PKCS12", "PEM", "JKS"}
KAFKA_SECRETS_DIR = "/etc/kafka/secrets"  # where the apache/kafka image reads its TLS files

# --------------------------------------------------------------------------------------------
# Loading, interpolation and merging the way compose does it
# --------------------------------------------------------------------------------------------

VARIABLE = re.compile(
    r"\$\$"  # an escaped dollar
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<default>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def load(path: Path) -> Config:
    data = yaml.safe_load(path.read_text())  # resolves anchors and << merge keys, like compose
    assert isinstance(data, dict)
    return data


def variables(node: Any) -> Iterator[re.Match[str]]:
    """Every interpolation in a config's string values."""
    if isinstance(node, dict):
        for value in node.values():
            yield from variables(value)
    elif isinstance(node, list):
        for value in node:
            yield from variables(value)
    elif isinstance(node, str):
        yield from (m for m in VARIABLE.finditer(node) if m.group(0) != "$$")


def interpolate(node: Any) -> Any:
    """The config as compose would see it with no variables set: defaults applied."""
    if isinstance(node, dict):
        return {key: interpolate(value) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value) for value in node]
    if isinstance(node, str):

        def one(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            if m.group("op") in (":-", "-"):
                return m.group("default") or ""
            return ""

        return VARIABLE.sub(one, node)
    return node


def mount_target(item: Any, kind: str) -> str:
    """Where a service's volume or secret entry lands in the container."""
    if kind == "volumes":
        if isinstance(item, dict):
            return str(item["target"])
        parts = str(item).split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    if isinstance(item, str):
        return f"/run/secrets/{item}"
    target = str(item.get("target") or item["source"])
    return target if target.startswith("/") else f"/run/secrets/{target}"


def merge(base: Any, override: Any, path: tuple[str, ...] = ()) -> Any:
    """Compose's merge of two files: mappings merge by key; command, entrypoint and
    healthcheck.test are replaced; volumes and secrets merge by container target; other
    sequences (ports, expose, ...) are concatenated without duplicates."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value, (*path, key)) if key in base else value
        return copy.deepcopy(merged)
    if isinstance(base, list) and isinstance(override, list):
        key = path[-1] if path else ""
        in_service = len(path) == 3 and path[0] == "services"
        if key in ("command", "entrypoint", "test"):
            return copy.deepcopy(override)
        if in_service and key in ("volumes", "secrets"):
            by_target = {mount_target(item, key): item for item in base}
            by_target.update({mount_target(item, key): item for item in override})
            return copy.deepcopy(list(by_target.values()))
        return copy.deepcopy(base + [item for item in override if item not in base])
    return copy.deepcopy(override)


def with_profiles(config: Config, *profiles: str) -> Config:
    """The services compose starts with these profiles active: those with no `profiles`, and
    those naming an active one."""
    out = copy.deepcopy(config)
    out["services"] = {
        name: service
        for name, service in config["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }
    return out


def single() -> Config:
    return load(COMPOSE)


def kafka_3() -> Config:
    return merge(load(COMPOSE), load(KAFKA_3))


VARIANTS: dict[str, Callable[[], Config]] = {"single": single, "kafka-3": kafka_3}
# Each way to start the stack: a compose file variant with the profiles `up` is given.
STARTS: dict[str, tuple[Callable[[], Config], tuple[str, ...]]] = {
    "single": (single, ()),
    "kafka-3": (kafka_3, ()),
    "single+federation": (single, (FEDERATION,)),
    "kafka-3+federation": (kafka_3, (FEDERATION,)),
}


@pytest.fixture(params=sorted(STARTS))
def config(request: pytest.FixtureRequest) -> Config:
    """The effective configuration (defaults interpolated, inactive profiles dropped) of each
    way to start the stack."""
    variant, profiles = STARTS[request.param]
    return interpolate(with_profiles(variant(), *profiles))  # type: ignore[no-any-return]


def federating(config: Config) -> bool:
    return any(FEDERATION in (s.get("profiles") or []) for s in config["services"].values())


def environment(service: Config) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def command(service: Config) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def secret_targets(service: Config) -> dict[str, str]:
    """Container path -> top-level secret name, for one service."""
    out = {}
    for item in service.get("secrets") or []:
        source = item if isinstance(item, str) else item["source"]
        out[mount_target(item, "secrets")] = source
    return out


def is_kafka_node(service: Config) -> bool:
    return "KAFKA_PROCESS_ROLES" in environment(service)


def hub_services(config: Config) -> dict[str, Config]:
    """Every service that is not infrastructure (Kafka, its setup job, PostgreSQL)."""
    return {
        name: service
        for name, service in config["services"].items()
        if not str(service.get("image", "")).startswith(("apache/kafka", "postgres"))
    }


def published(config: Config) -> set[tuple[str, int, int]]:
    """(service, host port, container port) for every published port."""
    out = set()
    for name, service in config["services"].items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                out.add((name, int(port["published"]), int(port["target"])))
                continue
            parts = str(port).split("/")[0].split(":")
            assert len(parts) in (2, 3), f"{name}: port {port} must name host and container"
            out.add((name, int(parts[-2]), int(parts[-1])))
    return out


def listeners(env: dict[str, str]) -> dict[str, int]:
    """KAFKA_LISTENERS as listener name -> port."""
    out = {}
    for item in env["KAFKA_LISTENERS"].split(","):
        name, address = item.split("://")
        out[name] = int(address.rsplit(":", 1)[1])
    return out


def protocol_map(env: dict[str, str]) -> dict[str, str]:
    return dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))


def option(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


# --------------------------------------------------------------------------------------------
# The contract's rules, each returning the problems it finds (empty: rule kept)
# --------------------------------------------------------------------------------------------


def secret_literal_problems(config: Config) -> list[str]:
    """No secret-looking environment variable holds a value: it names a mounted secret file."""
    problems = []
    for name, service in config["services"].items():
        mounted = secret_targets(service)
        for key, value in environment(service).items():
            where = f"{name}: {key}={value!r}"
            if re.search(r"-----BEGIN|password=|://[^/@\s]*:[^/@\s]*@", value, re.IGNORECASE):
                problems.append(f"{where} holds a credential")
            if not SECRET_NAME.search(key):
                continue
            if key.endswith("_FILE"):
                if not value.startswith("/run/secrets/") or value not in mounted:
                    problems.append(f"{where} is not a secret mounted under /run/secrets")
            elif key.endswith("_DIR"):
                if not value.startswith("/") or ("SECRET" in key and value != "/run/secrets"):
                    problems.append(f"{where} is not the expected directory")
            elif key.endswith(("_CREDENTIALS", "_FILENAME")):
                # apache/kafka reads these as file names inside /etc/kafka/secrets
                if f"{KAFKA_SECRETS_DIR}/{value}" not in mounted:
                    problems.append(f"{where} is not a secret mounted in {KAFKA_SECRETS_DIR}")
            elif key.endswith("_TYPE"):
                if value not in STORE_TYPES:
                    problems.append(f"{where} is not a store type")
            else:
                problems.append(f"{where} looks like a secret in the environment")
    return problems


def healthcheck_problems(config: Config) -> list[str]:
    problems = []
    hub = hub_services(config)
    for name, service in config["services"].items():
        restart = service.get("restart")
        if name in ONE_SHOTS:
            if restart != "no":
                problems.append(f"{name}: a one-shot job must not restart")
            continue
        if restart not in ("unless-stopped", "always"):
            problems.append(f"{name}: long-running but restart={restart!r}")
        check = service.get("healthcheck") or {}
        test = " ".join(str(part) for part in check.get("test") or [])
        if check.get("disable") or not test or test == "NONE":
            problems.append(f"{name}: long-running without a health check")
        elif name in hub and "http://127.0.0.1:9100/readyz" not in test:
            problems.append(f"{name}: hub health check must ask :9100/readyz")
        elif is_kafka_node(service) and not (
            "kafka-broker-api-versions" in test and "/run/secrets/kafka_admin.properties" in test
        ):
            problems.append(f"{name}: Kafka health check must use the admin client config")
        elif name == "postgres" and "pg_isready" not in test:
            problems.append(f"{name}: PostgreSQL health check must use pg_isready")
    return problems


def port_problems(config: Config) -> list[str]:
    """Only the API's 8080 and each Kafka node's EXTERNAL listener (9093) reach the host."""
    problems = []
    hosts = [host for _, host, _ in published(config)]
    if len(hosts) != len(set(hosts)):
        problems.append(f"a host port is published twice: {sorted(hosts)}")
    for name, host, target in sorted(published(config)):
        service = config["services"][name]
        if (name, target) == ("api", 8080) and host == 8080:
            continue
        if is_kafka_node(service) and target == 9093:
            continue
        problems.append(f"{name}: publishes {host}:{target}")
    if ("api", 8080, 8080) not in published(config):
        problems.append("api: 8080 is not published")
    if ("kafka", 9093, 9093) not in published(config):
        problems.append("kafka: 9093 is not published")
    return problems


def ingest_problems(config: Config) -> list[str]:
    """Ingest workers: indexes 0..N-1, each once, all agreeing on N; same Kafka as settings."""
    problems = []
    workers = {
        name: command(service)
        for name, service in config["services"].items()
        if command(service)[:1] == ["ingest"]
    }
    if not workers:
        return ["no ingest worker"]
    counts = {int(option(args, "--workers")) for args in workers.values()}
    indexes = sorted(int(option(args, "--worker-index")) for args in workers.values())
    if counts != {len(workers)}:
        problems.append(f"--workers {counts} disagrees with {len(workers)} ingest services")
    if indexes != list(range(len(workers))):
        problems.append(f"worker indexes {indexes} are not 0..{len(workers) - 1}, once each")
    for name, args in workers.items():
        env = environment(config["services"][name])
        if option(args, "--kafka") != env.get("HUB_KAFKA_BOOTSTRAP"):
            problems.append(f"{name}: --kafka differs from HUB_KAFKA_BOOTSTRAP")
        if option(args, "--metrics-port") != "9100":
            problems.append(f"{name}: --metrics-port must be 9100")
    return problems


def hub_problems(config: Config) -> list[str]:
    """One image for every hub process, all reading secrets from HUB_SECRETS_DIR."""
    problems = []
    hub = hub_services(config)
    expected_hub = HUB_SERVICES | (FEDERATION_HUB_SERVICES if federating(config) else set())
    if set(hub) != expected_hub:
        problems.append(f"hub services are {sorted(hub)}, expected {sorted(expected_hub)}")
    images = {str(service.get("image")) for service in hub.values()}
    if len(images) != 1:
        problems.append(f"hub services use several images: {sorted(images)}")
    for name, service in hub.items():
        env = environment(service)
        mounted = secret_targets(service)
        build = service.get("build") or {}
        if build.get("dockerfile") != "deploy/Dockerfile":
            problems.append(f"{name}: not built from deploy/Dockerfile")
        expected = {
            "HUB_SECRETS_DIR": "/run/secrets",
            "HUB_STORE": "postgres",
            "HUB_DATA_DIR": "/var/lib/hub",
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        }
        for key, value in expected.items():
            if env.get(key) != value:
                problems.append(f"{name}: {key}={env.get(key)!r}, expected {value!r}")
        if "/run/secrets/hub_postgres_dsn" not in mounted:
            problems.append(f"{name}: hub_postgres_dsn is not mounted")
        if env.get("HUB_KAFKA_CA_FILE") not in mounted:
            problems.append(f"{name}: HUB_KAFKA_CA_FILE is not a mounted secret")
        args = command(service)
        if name not in ONE_SHOTS and option(args, "--metrics-port") != "9100":
            problems.append(f"{name}: metrics must be on 9100")
        password = mounted.get("/run/secrets/hub_kafka_password")
        user = env.get("HUB_KAFKA_USERNAME", "")
        # Federation: User:hub-<this hub id>, whose password is the federation one.
        role = "hub_federation" if "HUB_FEDERATION_REGISTER" in env else user.replace("-", "_")
        if password is not None and password != f"kafka_{role}_password":
            problems.append(f"{name}: hub_kafka_password is {password}, user is {user}")
    consumers = {command(hub[n])[2] for n in hub if command(hub[n])[:2] == ["consumer", "run"]}
    if consumers != set(BUILT_IN_CONSUMERS) | ({"transfers"} if federating(config) else set()):
        problems.append(f"consumers run: {sorted(consumers)}")
    return problems


def kafka_problems(config: Config) -> list[str]:
    """SASL_SSL for every client, StandardAuthorizer with no default access, replication."""
    problems = []
    nodes = {name: s for name, s in config["services"].items() if is_kafka_node(s)}
    hub_ports = {
        int(address.rsplit(":", 1)[1])
        for service in hub_services(config).values()
        for address in environment(service).get("HUB_KAFKA_BOOTSTRAP", "").split(",")
        if address
    }
    same_everywhere = (
        "KAFKA_LISTENERS",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        "KAFKA_SASL_ENABLED_MECHANISMS",
        "KAFKA_AUTHORIZER_CLASS_NAME",
        "KAFKA_SUPER_USERS",
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
        "KAFKA_MIN_INSYNC_REPLICAS",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM",
        "CLUSTER_ID",
    )
    for key in same_everywhere:
        values = {environment(s).get(key) for s in nodes.values()}
        if len(values) != 1:
            problems.append(f"Kafka nodes disagree on {key}: {values}")
    for name, service in nodes.items():
        env = environment(service)
        ports = listeners(env)
        protocols = protocol_map(env)
        controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
        client_listeners = {n for n, p in ports.items() if p == 9093 or p in hub_ports}
        if not client_listeners or controller in client_listeners:
            problems.append(f"{name}: clients must have listeners apart from the controller's")
        for listener in client_listeners:
            mechanisms = env.get(
                f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS",
                env.get("KAFKA_SASL_ENABLED_MECHANISMS", ""),
            )
            if protocols.get(listener) != "SASL_SSL" or mechanisms != "SCRAM-SHA-512":
                problems.append(f"{name}: client listener {listener} is not SASL_SSL/SCRAM")
        for listener, protocol in protocols.items():
            if protocol not in ("SASL_SSL", "SSL"):
                problems.append(f"{name}: listener {listener} is {protocol}")
        expected = {
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_AUTHORIZER_CLASS_NAME": (
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            ),
            "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        }
        for key, value in expected.items():
            if env.get(key) != value:
                problems.append(f"{name}: {key}={env.get(key)!r}, expected {value!r}")
        if "User:admin" not in env.get("KAFKA_SUPER_USERS", "").split(";"):
            problems.append(f"{name}: User:admin is not a super user")
        if not re.fullmatch(r"apache/kafka:(3\.9|4)\.[0-9.]+", str(service.get("image"))):
            problems.append(f"{name}: image {service.get('image')}")
    voters = environment(nodes["kafka"])["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    ids = sorted(environment(s)["KAFKA_NODE_ID"] for s in nodes.values())
    if sorted(v.split("@")[0] for v in voters) != ids or len(set(ids)) != len(ids):
        problems.append(f"voters {voters} do not match node ids {ids}")
    replication = "1" if len(nodes) == 1 else "3"
    min_isr = "1" if len(nodes) == 1 else "2"
    for name, service in nodes.items():
        env = environment(service)
        for key in ("DEFAULT_REPLICATION_FACTOR", "OFFSETS_TOPIC_REPLICATION_FACTOR"):
            if env.get(f"KAFKA_{key}") != replication:
                problems.append(f"{name}: {key} must be {replication} on {len(nodes)} node(s)")
        for key in ("MIN_INSYNC_REPLICAS", "TRANSACTION_STATE_LOG_MIN_ISR"):
            if env.get(f"KAFKA_{key}") != min_isr:
                problems.append(f"{name}: {key} must be {min_isr} on {len(nodes)} node(s)")
    return problems


def dependency_problems(config: Config) -> list[str]:
    problems = []
    services = config["services"]
    nodes = {name for name, s in services.items() if is_kafka_node(s)}

    def needs(name: str, other: str, condition: str) -> None:
        got = ((services[name].get("depends_on") or {}).get(other) or {}).get("condition")
        if got != condition:
            problems.append(f"{name} must wait for {other} ({condition}), has {got}")

    for name, service in services.items():
        for other, spec in (service.get("depends_on") or {}).items():
            if other not in services:
                problems.append(f"{name} depends on unknown {other}")
            elif spec.get("condition") == "service_healthy" and not (
                services[other].get("healthcheck") or {}
            ).get("test"):
                problems.append(f"{name} waits for {other} to be healthy; it has no check")
    for node in nodes:
        needs("kafka-setup", node, "service_healthy")
    needs("setup", "postgres", "service_healthy")
    needs("setup", "kafka-setup", "service_completed_successfully")
    for name in HUB_SERVICES - {"setup"}:
        needs(name, "setup", "service_completed_successfully")
        needs(name, "postgres", "service_healthy")
    for name in ("ingest-0", "ingest-1"):
        needs(name, "kafka-setup", "service_completed_successfully")
        for node in nodes:
            needs(name, node, "service_healthy")
    if federating(config):
        needs("federation-kafka-setup", "kafka-setup", "service_completed_successfully")
        for node in nodes:
            needs("federation-kafka-setup", node, "service_healthy")
        for name in FEDERATION_HUB_SERVICES:
            needs(name, "setup", "service_completed_successfully")
            needs(name, "postgres", "service_healthy")
            needs(name, "federation-kafka-setup", "service_completed_successfully")
            for node in nodes:
                needs(name, node, "service_healthy")
    return problems


def secret_and_volume_problems(config: Config) -> list[str]:
    problems = []
    declared = config.get("secrets") or {}
    for name, spec in declared.items():
        if not str(spec.get("file", "")).startswith("./secrets/"):
            problems.append(f"secret {name} is not a file in ./secrets")
    volumes = set(config.get("volumes") or {})
    for required in ("kafka-data", "postgres-data", "hub-data", "hub-keys"):
        if required not in volumes:
            problems.append(f"volume {required} is not declared")
    for name, service in config["services"].items():
        for source in secret_targets(service).values():
            if source not in declared:
                problems.append(f"{name}: secret {source} is not declared")
        for item in service.get("volumes") or []:
            source = item["source"] if isinstance(item, dict) else str(item).split(":")[0]
            if not source.startswith((".", "/")) and source not in volumes:
                problems.append(f"{name}: volume {source} is not declared")
    for name, service in hub_services(config).items():
        keys = [str(v) for v in service.get("volumes") or [] if "/var/lib/hub-keys" in str(v)]
        writable = name == "setup"
        if keys != ([f"hub-keys:/var/lib/hub-keys{'' if writable else ':ro'}"]):
            problems.append(f"{name}: hub-keys mount {keys}")
    return problems


RULES = [
    secret_literal_problems,
    healthcheck_problems,
    port_problems,
    ingest_problems,
    hub_problems,
    kafka_problems,
    dependency_problems,
    secret_and_volume_problems,
]


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


def compose_schema() -> Any:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def check_jsonschema() -> list[str]:
    beside = Path(sys.executable).with_name("check-jsonschema")
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "check_jsonschema"]


def test_both_compose_files_pass_check_jsonschema_compose_spec() -> None:
    result = subprocess.run(
        [
            *check_jsonschema(),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
            str(KAFKA_3),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_merged_configuration_is_valid_compose(variant: str) -> None:
    validator = jsonschema.Draft202012Validator(compose_schema())
    for data in (VARIANTS[variant](), interpolate(VARIANTS[variant]())):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert errors == []


def test_the_kafka_3_merge_makes_three_nodes_and_keeps_node_1() -> None:
    merged = interpolate(kafka_3())
    nodes = [name for name, s in merged["services"].items() if is_kafka_node(s)]
    assert sorted(nodes) == ["kafka", "kafka-2", "kafka-3"]
    kafka = environment(merged["services"]["kafka"])
    assert kafka["KAFKA_NODE_ID"] == "1"
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
    assert merged["services"]["kafka"]["ports"] == ["9093:9093"]
    assert environment(merged["services"]["setup"])["HUB_KAFKA_USERNAME"] == "admin"


def test_every_variable_has_a_default_and_no_dollar_is_left_unescaped() -> None:
    for path in (COMPOSE, KAFKA_3):
        found = list(variables(load(path)))
        assert [m.group(0) for m in found if m.group("bare")] == [], path
        assert [m.group(0) for m in found if m.group("op") not in (":-", "-")] == [], path


# --------------------------------------------------------------------------------------------
# The rules hold, and each one bites
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_deployment_contract_holds(rule: Callable[[Config], list[str]], config: Config) -> None:
    assert rule(config) == []


def _set_env(name: str, key: str, value: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        config["services"][name]["environment"] = {
            **environment(config["services"][name]),
            key: value,
        }

    return mutate


def _set(name: str, key: str, value: Any) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        config["services"][name][key] = value

    return mutate


def _listener_protocol(protocol: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        env = environment(config["services"]["kafka"])
        env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] = env[
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"
        ].replace("EXTERNAL:SASL_SSL", f"EXTERNAL:{protocol}")
        config["services"]["kafka"]["environment"] = env

    return mutate


BREAKAGES: dict[str, tuple[Callable[[Config], None], Callable[[Config], list[str]]]] = {
    "dsn literal": (
        _set_env("api", "HUB_POSTGRES_DSN", "postgresql://hub:pw@postgres/hub"),
        secret_literal_problems,
    ),
    "password literal": (
        _set_env("postgres", "POSTGRES_PASSWORD", "hunter2"),
        secret_literal_problems,
    ),
    "password file outside /run/secrets": (
        _set_env("postgres", "POSTGRES_PASSWORD_FILE", "/tmp/pw"),
        secret_literal_problems,
    ),
    "kafka key password literal": (
        _set_env("kafka", "KAFKA_SSL_KEY_PASSWORD", "changeit"),
        secret_literal_problems,
    ),
    "secrets dir elsewhere": (
        _set_env("clocks", "HUB_SECRETS_DIR", "/etc/hub"),
        hub_problems,
    ),
    "healthcheck removed": (
        _set("indicators", "healthcheck", {"disable": True}),
        healthcheck_problems,
    ),
    "postgres published": (_set("postgres", "ports", ["5432:5432"]), port_problems),
    "metrics published": (_set("api", "ports", ["8080:8080", "9100:9100"]), port_problems),
    "duplicate worker index": (
        _set(
            "ingest-1",
            "command",
            [
                "ingest",
                "--kafka",
                "kafka:9092",
                "--workers",
                "2",
                "--worker-index",
                "0",
                "--metrics-port",
                "9100",
            ],
        ),
        ingest_problems,
    ),
    "other image": (_set("encompass", "image", "python:3.11-slim"), hub_problems),
    "plaintext client listener": (_listener_protocol("PLAINTEXT"), kafka_problems),
    "ssl without sasl for agencies": (_listener_protocol("SSL"), kafka_problems),
    "no wait for setup": (_set("api", "depends_on", {}), dependency_problems),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_config_breaking_the_contract_is_caught(breakage: str) -> None:
    mutate, rule = BREAKAGES[breakage]
    broken = interpolate(single())
    assert rule(broken) == []
    mutate(broken)
    assert rule(broken) != []


# --------------------------------------------------------------------------------------------
# Federation with partner hubs: the opt-in profile
# --------------------------------------------------------------------------------------------


def opt_in_problems(config: Config) -> list[str]:
    """Federation runs only with `--profile federation`; the default start is unchanged."""
    problems = []
    services = config["services"]
    profiled = {name for name, s in services.items() if s.get("profiles")}
    if profiled != FEDERATION_SERVICES:
        problems.append(f"services with profiles: {sorted(profiled)}")
    for name in profiled:
        if services[name]["profiles"] != [FEDERATION]:
            problems.append(f"{name}: profiles {services[name]['profiles']}")
    default = with_profiles(config)["services"]
    nodes = {name for name, s in services.items() if is_kafka_node(s)}  # kafka-3: three
    if set(default) != DEFAULT_SERVICES | nodes:
        problems.append(f"default services are {sorted(default)}")
    for name, service in default.items():
        for other in service.get("depends_on") or {}:
            if other not in default:
                problems.append(f"{name} (default) depends on {other} (profile only)")
    return problems


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_federation_is_an_opt_in_profile_and_the_default_start_is_unchanged(variant: str) -> None:
    assert opt_in_problems(interpolate(VARIANTS[variant]())) == []


def test_a_federation_service_outside_the_profile_is_caught() -> None:
    broken = interpolate(single())
    del broken["services"]["federation-receive"]["profiles"]
    assert opt_in_problems(broken) != []


def test_the_federation_services_run_the_federation_commands() -> None:
    from hub.cli import build_parser

    services = interpolate(with_profiles(single(), FEDERATION))["services"]
    assert command(services["federation-receive"]) == [
        "federation", "receive", "--metrics-port", "9100", "--quiet"
    ]  # fmt: skip
    assert command(services["federation-answer"]) == [
        "federation", "answer", "--metrics-port", "9100", "--quiet"
    ]  # fmt: skip
    assert command(services["transfers"]) == [
        "consumer", "run", "transfers", "--metrics-port", "9100"
    ]  # fmt: skip
    assert command(services["federation-publish-holdings"])[:2] == [
        "federation", "publish-holdings"
    ]  # fmt: skip
    for name in FEDERATION_HUB_SERVICES:
        build_parser().parse_args(command(services[name]))  # the hub's CLI accepts it
    # Receive, answer and the transfers consumer run until stopped (no --once, no shell
    # loop), restarted by Docker and health-checked on their metrics port; publishing
    # holdings is a one-shot the host runs daily.
    for name in FEDERATION_LONG_RUNNING:
        assert "--once" not in command(services[name]), name
        assert services[name]["restart"] == "unless-stopped", name
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:9100/readyz" in test, name
    publish = services["federation-publish-holdings"]
    assert publish["restart"] == "no" and publish["healthcheck"] == {"disable": True}


def test_federation_services_mount_the_register_the_keys_and_each_partners_credential() -> None:
    from hub.adapters.federation_register import load_register
    from hub.cli.keys import KEY_FILES
    from hub.settings import HubSettings

    fields = {f"HUB_{name.upper()}" for name in HubSettings.model_fields}
    assert {"HUB_FEDERATION_REGISTER", "HUB_KAFKA_USERNAME", "HUB_KEYS_DIR"} <= fields
    config = interpolate(with_profiles(single(), FEDERATION))
    register_file = COMPOSE_DIR / config["configs"]["federation_register"]["file"]
    register = load_register(register_file)  # the sample register by default
    assert register.partners
    assert set(KEY_FILES) >= FEDERATION_KEYS  # `setup` (hub keys init) makes them in hub-keys
    for name in FEDERATION_HUB_SERVICES:
        service = config["services"][name]
        env = environment(service)
        # the register, read-only (a compose config), where HUB_FEDERATION_REGISTER says
        (register_mount,) = service["configs"]
        assert register_mount == {
            "source": "federation_register",
            "target": env["HUB_FEDERATION_REGISTER"],
        }
        # the keys: the hub-keys volume, read-only, at HUB_KEYS_DIR
        assert f"hub-keys:{env['HUB_KEYS_DIR']}:ro" in service["volumes"], name
        # its own principal on this hub's brokers, named after this hub as partners know it
        assert env["HUB_KAFKA_USERNAME"] == f"hub-{register.this_hub.id}", name
        mounted = secret_targets(service)
        assert mounted["/run/secrets/hub_kafka_password"] == "kafka_hub_federation_password"
        assert mounted[env["HUB_KAFKA_CA_FILE"]] == "kafka_ca.crt"
        # each partner's credential where the register's client block says
        for partner in register.partners:
            client = partner.kafka.client
            assert client is not None, partner.id
            assert mounted[str(client.password_file)] == f"federation_{partner.id}_password"
            assert mounted[str(client.ca_file)] == f"federation_{partner.id}_ca.crt"


def test_kafka_3_federation_services_bootstrap_from_every_node() -> None:
    services = interpolate(with_profiles(kafka_3(), FEDERATION))["services"]
    for name in FEDERATION_HUB_SERVICES:
        assert environment(services[name])["HUB_KAFKA_BOOTSTRAP"] == (
            "kafka:9092,kafka-2:9092,kafka-3:9092"
        ), name
        assert environment(services[name])["HUB_KAFKA_USERNAME"] == "hub-shire", name


# --------------------------------------------------------------------------------------------
# bin/init-secrets, up, Dockerfile
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [INIT_SECRETS, UP], ids=lambda p: p.name)
def test_the_shell_scripts_parse_and_are_executable(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert os.access(script, os.X_OK)


def test_the_kafka_setup_script_parses_after_interpolation() -> None:
    script = interpolate(single())["services"]["kafka-setup"]["command"][0]
    subprocess.run(["bash", "-n", "-c", script], check=True)
    assert "$(cat " in script and "--resource-pattern-type prefixed" in script
    script = interpolate(single())["services"]["federation-kafka-setup"]["command"][0]
    subprocess.run(["bash", "-n", "-c", script], check=True)
    assert 'hub_id="shire"' in script and "/run/secrets/kafka_hub_federation_password" in script


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to run bin/init-secrets")
    target = tmp_path_factory.mktemp("compose") / "secrets"
    env = {**os.environ, "HUB_KAFKA_PUBLIC_HOST": "hub.example.org"}
    subprocess.run([str(INIT_SECRETS), str(target)], check=True, env=env, capture_output=True)
    return target


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True).stdout


def test_init_secrets_creates_every_secret_compose_mounts(secrets_dir: Path) -> None:
    for variant in VARIANTS.values():
        for name, spec in variant()["secrets"].items():
            if name.startswith("federation_"):
                continue  # a partner's credential for this hub: its operators supply it
            path = secrets_dir / Path(spec["file"]).name
            assert path.is_file() and path.stat().st_size > 0, name
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((secrets_dir / "kafka_ca.key").stat().st_mode) == 0o600


def test_init_secrets_certificate_chain_verifies(secrets_dir: Path) -> None:
    ca, broker = secrets_dir / "kafka_ca.crt", secrets_dir / "kafka_broker.crt"
    assert _openssl("verify", "-CAfile", str(ca), str(broker)).strip().endswith("OK")
    sans = _openssl("x509", "-in", str(broker), "-noout", "-ext", "subjectAltName")
    names = {item.strip() for item in sans.splitlines()[-1].split(",")}
    for name in ("kafka", "kafka-2", "kafka-3", "localhost", "hub.example.org"):
        assert f"DNS:{name}" in names, name
    # The keystore opens with its password and holds the broker certificate and its key.
    password = secrets_dir / "kafka_keystore_password"
    keystore = secrets_dir / "kafka.keystore.p12"
    certs = _openssl("pkcs12", "-in", str(keystore), "-passin", f"file:{password}", "-nokeys")
    assert "CN = kafka-broker" in certs
    key = _openssl(
        "pkcs12", "-in", str(keystore), "-passin", f"file:{password}", "-nocerts", "-nodes"
    )
    assert "PRIVATE KEY" in key


def test_init_secrets_derived_files_agree_with_the_passwords(secrets_dir: Path) -> None:
    read = {p.name: p.read_text() for p in secrets_dir.iterdir() if p.suffix != ".p12"}
    assert read["hub_postgres_dsn"] == (
        f"postgresql://hub:{read['postgres_password']}@postgres:5432/hub"
    )
    assert f'password="{read["kafka_admin_password"]}"' in read["kafka_admin.properties"]
    assert f'user_admin="{read["kafka_admin_password"]}"' in read["kafka_server_jaas.conf"]
    assert "ssl.truststore.location=/run/secrets/kafka_ca.crt" in read["kafka_admin.properties"]
    passwords = [v for k, v in read.items() if k.endswith("_password")]
    assert len(set(passwords)) == len(passwords)
    assert all(re.fullmatch(r"[0-9a-f]{48}", p) for p in passwords)


def test_init_secrets_is_idempotent(secrets_dir: Path) -> None:
    before = {p.name: p.read_bytes() for p in secrets_dir.iterdir()}
    result = subprocess.run(
        [str(INIT_SECRETS), str(secrets_dir)], check=True, capture_output=True, text=True
    )
    assert "nothing changed" in result.stdout
    assert {p.name: p.read_bytes() for p in secrets_dir.iterdir()} == before


def test_the_dockerfile_builds_the_contract_image() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert 'pip install ".[postgres]"' in text
    assert re.search(r"^USER 10001(:10001)?$", text, re.MULTILINE)
    assert re.search(r"^WORKDIR /var/lib/hub$", text, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["hub"\]$', text, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".git", ".hub*", "benchmarks/results", "deploy/compose/secrets"):
        assert entry in ignored
