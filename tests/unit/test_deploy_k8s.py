"""The Kubernetes manifests in deploy/k8s are valid and keep the deployment contract.

Every document is validated against the Kubernetes OpenAPI schema (kubernetes-validate,
strict: unknown fields fail). Then the properties the contract depends on: resources, probes
and non-root for every container, secrets only as files, the ingest workers matching their
replicas, and network policies that let users reach only the API and agencies only Kafka.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hub.consumer_registry import built_in_consumer_names

K8S = Path(__file__).parents[2] / "deploy" / "k8s"
FEDERATION = K8S / "federation"  # an opt-in kustomize Component, not in the default kustomization
NAMESPACE = "safeguarding-hub"
KUBERNETES_VERSION = "1.30"
EXAMPLE_SECRETS = "secrets.example.yaml"
HUB_IMAGE = "ghcr.io/safeguarding-hub/hub:"
BUILT_IN_CONSUMERS = built_in_consumer_names()  # each its own Deployment

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    """Every manifest, the opt-in federation component's included (checked by every test)."""
    return sorted(
        path
        for path in [*K8S.glob("*.yaml"), *FEDERATION.glob("*.yaml")]
        if path.name != "kustomization.yaml"
    )


def load(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def documents(include_examples: bool = False) -> list[Doc]:
    return [
        doc
        for path in manifest_files()
        if include_examples or path.name != EXAMPLE_SECRETS
        for doc in load(path)
    ]


def of_kind(kind: str) -> list[Doc]:
    return [doc for doc in documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> Doc:
    (doc,) = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    return doc


# --- workloads ---------------------------------------------------------------------------

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")
LONG_RUNNING = ("Deployment", "StatefulSet")
# Long-running processes whose command has no --metrics-port (so no /healthz, /readyz or
# /metrics to probe or scrape): the workload and the command. None now; the test below fails
# if a command listed here gains the option, so the probes are added then.
WITHOUT_HEALTH_PORT: dict[str, list[str]] = {}


def pod_template(workload: Doc) -> Doc:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def workloads() -> list[Doc]:
    return [doc for doc in documents() if doc["kind"] in WORKLOAD_KINDS]


def containers(workload: Doc) -> list[Doc]:
    spec = pod_template(workload)["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def all_containers() -> Iterator[tuple[str, Doc, Doc]]:
    for workload in workloads():
        for container in containers(workload):
            yield f"{workload['kind']}/{workload['metadata']['name']}", workload, container


def hub_workloads() -> list[Doc]:
    return [w for w in workloads() if containers(w)[0]["image"].startswith(HUB_IMAGE)]


# --- label selectors and network policies -------------------------------------------------


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pods_selected(selector: Doc) -> set[str]:
    """Names of the workloads in this namespace whose pods the selector matches."""
    return {
        w["metadata"]["name"]
        for w in workloads()
        if selects(selector, pod_template(w)["metadata"]["labels"])
    }


def hub_pod_names() -> set[str]:
    return {w["metadata"]["name"] for w in hub_workloads()}


def network_policies() -> list[Doc]:
    return of_kind("NetworkPolicy")


def peer_origin(peer: Doc | None) -> str:
    """Where traffic allowed by a `from` peer comes from.

    "anywhere" (a rule without `from`), "ip" (an ipBlock), "namespace:<name>" (another
    namespace, by name), "other-namespaces" (any other namespace selector), or "this-namespace"
    (a bare podSelector).
    """
    if peer is None:
        return "anywhere"
    if "ipBlock" in peer:
        return "ip"
    if "namespaceSelector" in peer:
        labels = peer["namespaceSelector"].get("matchLabels") or {}
        name = labels.get("kubernetes.io/metadata.name")
        return "this-namespace" if name == NAMESPACE else f"namespace:{name or '*'}"
    return "this-namespace"


def ingress_grants() -> Iterator[tuple[str, set[str], Doc | None, set[int]]]:
    """(policy, target workloads, peer, ports) for every ingress peer of every policy.

    A rule without ports allows every port: reported as {0}.
    """
    for policy in network_policies():
        targets = pods_selected(policy["spec"]["podSelector"])
        for rule in policy["spec"].get("ingress") or []:
            ports = {int(p["port"]) for p in rule.get("ports") or [{"port": 0}]}
            peers = rule.get("from") or [None]
            for peer in peers:
                yield policy["metadata"]["name"], targets, peer, ports


def grants_from(origin_matches) -> list[tuple[str, set[str], Doc | None, set[int]]]:
    return [grant for grant in ingress_grants() if origin_matches(peer_origin(grant[2]))]


def command_of(container: Doc) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


# --- schema ----------------------------------------------------------------------------------


def test_the_kustomization_lists_every_manifest_and_not_the_example_secrets() -> None:
    (kustomization,) = load(K8S / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == NAMESPACE
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    expected = {p.name for p in manifest_files() if p.parent == K8S} - {EXAMPLE_SECRETS}
    assert set(listed) == expected
    assert not any("federation" in entry for entry in listed), "federation is opt-in"
    assert (K8S / "README.md").exists()


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_document_is_valid_kubernetes(path: Path) -> None:
    docs = load(path)
    assert docs, f"{path.name} holds no documents"
    for doc in docs:
        where = f"{path.name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path_in_doc = ".".join(str(part) for part in error.path)
            pytest.fail(f"{where} is invalid at {path_in_doc}: {error.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
            pytest.fail(f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, where


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = named("Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- containers ------------------------------------------------------------------------------


def test_every_container_has_resource_requests_and_limits() -> None:
    for where, _, container in all_containers():
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"


def test_every_long_running_container_has_liveness_and_readiness_probes() -> None:
    for where, workload, container in all_containers():
        if workload["kind"] in LONG_RUNNING:
            if workload["metadata"]["name"] in WITHOUT_HEALTH_PORT:
                continue
            assert "livenessProbe" in container, where
            assert "readinessProbe" in container, where


def test_every_container_runs_as_non_root_with_a_locked_down_context() -> None:
    for where, workload, container in all_containers():
        pod = pod_template(workload)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod.get("automountServiceAccountToken") is False, where
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert not container["image"].endswith(":latest") and ":" in container["image"], where


SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|DSN|CREDENTIAL|PRIVATE|_KEY$", re.IGNORECASE)
SECRET_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@|BEGIN [A-Z ]*PRIVATE KEY")


def not_a_secret(value: str) -> bool:
    """A secret-sounding setting may only be a file path or a switch."""
    return value.startswith("/") or value in {"true", "false"}


def test_no_environment_variable_or_config_map_holds_a_secret() -> None:
    for where, _, container in all_containers():
        for variable in container.get("env", []):
            name = variable["name"]
            assert "secretKeyRef" not in variable.get("valueFrom", {}), (
                f"{where}: {name} comes from a Secret as environment; mount it as a file"
            )
            value = variable.get("value", "")
            assert not SECRET_VALUE.search(value), f"{where}: {name}"
            if SECRET_NAME.search(name):
                assert not_a_secret(value), f"{where}: {name}"
        for source in container.get("envFrom", []):
            assert "secretRef" not in source, where
    for config_map in of_kind("ConfigMap"):
        for name, value in config_map["data"].items():
            assert not SECRET_VALUE.search(value), f"ConfigMap {config_map['metadata']['name']}"
            if SECRET_NAME.search(name):
                assert not_a_secret(value), name
    assert not of_kind("Secret"), "Secrets are created out of band, never applied from the repo"


def test_the_hub_config_is_a_real_deployment_configuration() -> None:
    data = named("ConfigMap", "hub-config")["data"]
    assert data["HUB_STORE"] == "postgres"
    assert data["HUB_SECRETS_DIR"] == "/run/secrets"
    assert data["HUB_KEYS_DIR"] == "/run/keys"
    assert data["HUB_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["HUB_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert data["HUB_KAFKA_USERNAME"] == "hub-ingest"
    assert data["HUB_DEV_TOKENS"] == "false"
    assert data["HUB_COOKIE_SECURE"] == "true"
    assert all(server.endswith(":9093") for server in data["HUB_KAFKA_BOOTSTRAP"].split(","))
    for key in ("HUB_OIDC_ISSUER", "HUB_OIDC_AUDIENCE", "HUB_OIDC_JWKS_URL"):
        assert data[key]


def test_every_hub_container_mounts_the_keys_and_secrets_read_only_where_settings_say() -> None:
    config = named("ConfigMap", "hub-config")["data"]
    for workload in hub_workloads():
        pod = pod_template(workload)["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod["containers"]:
            assert {"configMapRef": {"name": "hub-config"}} in container["envFrom"]
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            ca_dir = str(Path(config["HUB_KAFKA_CA_FILE"]).parent)
            for path in (config["HUB_KEYS_DIR"], config["HUB_SECRETS_DIR"], ca_dir):
                assert mounts[path].get("readOnly") is True, (workload["metadata"]["name"], path)
            keys = volumes[mounts[config["HUB_KEYS_DIR"]]["name"]]["secret"]
            assert keys["secretName"] == "hub-keys"
            laid_out = {item["path"] for item in keys["items"]}
            assert {"kek/current", "pseudonym.key", "api-token.key", "checkpoint-signing.pem"} <= (
                laid_out
            )
            assert any(re.fullmatch(r"kek/[^/]+\.kek", path) for path in laid_out)


def test_every_secret_the_manifests_mount_is_documented_in_the_example() -> None:
    examples = {doc["metadata"]["name"]: doc for doc in load(K8S / EXAMPLE_SECRETS)}
    assert {"hub-keys", "hub-config-secrets", "kafka-tls", "kafka-credentials"} <= set(examples)
    for secret in examples.values():
        assert secret["kind"] == "Secret"
        for key, value in secret["stringData"].items():
            assert "PLACEHOLDER" in value or key == "kek-current", (secret["metadata"]["name"], key)
    for workload in workloads():
        for volume in pod_template(workload)["spec"].get("volumes", []):
            sources = [volume["secret"]] if "secret" in volume else []
            sources += [
                {"secretName": s["secret"]["name"], "items": s["secret"].get("items", [])}
                for s in volume.get("projected", {}).get("sources", [])
                if "secret" in s
            ]
            for source in sources:
                documented = examples[source["secretName"]]["stringData"]
                for item in source.get("items", []):
                    assert item["key"] in documented, (source["secretName"], item["key"])
    documented_kek = examples["hub-keys"]["stringData"]["kek-current"]
    assert f"{documented_kek}.kek" in examples["hub-keys"]["stringData"]


# --- processes -------------------------------------------------------------------------------


def test_the_ingest_statefulset_runs_one_worker_per_replica_with_the_ordinal_as_index() -> None:
    ingest = named("StatefulSet", "hub-ingest")
    (container,) = ingest["spec"]["template"]["spec"]["containers"]
    command = command_of(container)
    assert command[:2] == ["hub", "ingest"]
    assert option(command, "--kafka") == "$(HUB_KAFKA_BOOTSTRAP)"
    assert int(option(command, "--workers")) == ingest["spec"]["replicas"] == 2
    assert option(command, "--worker-index") == "auto"
    assert option(command, "--metrics-port") == "9100"
    assert ingest["spec"]["podManagementPolicy"] == "Parallel"


def test_the_ingest_disruption_budget_selects_exactly_the_ingest_pods() -> None:
    ingest_budgets = [
        pdb
        for pdb in of_kind("PodDisruptionBudget")
        if "hub-ingest" in pods_selected(pdb["spec"]["selector"])
    ]
    (budget,) = ingest_budgets
    assert pods_selected(budget["spec"]["selector"]) == {"hub-ingest"}
    assert budget["spec"].get("maxUnavailable") == 1 or budget["spec"].get("minAvailable") == 1


def test_each_consumer_is_a_single_process_on_the_contract_command() -> None:
    for name in BUILT_IN_CONSUMERS:
        deployment = named("Deployment", f"hub-consumer-{name}")
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert command_of(container) == ["hub", "consumer", "run", name, "--metrics-port", "9100"]


def test_the_api_serves_users_on_8080_and_health_on_the_metrics_port() -> None:
    api = named("Deployment", "hub-api")
    assert api["spec"]["replicas"] == 2
    (container,) = api["spec"]["template"]["spec"]["containers"]
    command = command_of(container)
    assert command[:2] == ["hub", "serve"]
    assert (option(command, "--port"), option(command, "--metrics-port")) == ("8080", "9100")
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert ports[container["readinessProbe"]["httpGet"]["port"]] == 9100
    service = named("Service", "hub-api")
    assert service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    assert pods_selected({"matchLabels": service["spec"]["selector"]}) == {"hub-api"}


def test_every_long_running_hub_process_is_scraped_on_9100() -> None:
    for workload in hub_workloads():
        if workload["kind"] not in LONG_RUNNING:
            continue
        if workload["metadata"]["name"] in WITHOUT_HEALTH_PORT:
            continue
        annotations = pod_template(workload)["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "9100"
        assert annotations["prometheus.io/path"] == "/metrics"
        (container,) = pod_template(workload)["spec"]["containers"]
        assert option(command_of(container), "--metrics-port") == "9100"


def test_kafka_is_a_three_node_kraft_cluster_that_denies_by_default() -> None:
    kafka = named("StatefulSet", "kafka")
    assert kafka["spec"]["replicas"] == 3
    assert kafka["spec"]["volumeClaimTemplates"]
    properties = dict(
        line.split("=", 1)
        for line in named("ConfigMap", "kafka-config")["data"]["server.properties"].splitlines()
        if line and not line.startswith("#")
    )
    assert properties["process.roles"] == "broker,controller"
    assert len(properties["controller.quorum.voters"].split(",")) == 3
    assert "CLIENT://:9093" in properties["listeners"].split(",")
    assert "CLIENT:SASL_SSL" in properties["listener.security.protocol.map"].split(",")
    assert properties["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["default.replication.factor"] == "3"
    assert properties["min.insync.replicas"] == "2"
    budget = named("PodDisruptionBudget", "kafka")
    assert budget["spec"]["maxUnavailable"] == 1
    assert pods_selected(budget["spec"]["selector"]) == {"kafka"}


def test_postgres_takes_its_password_from_a_secret_file() -> None:
    postgres = named("StatefulSet", "postgres")
    (container,) = postgres["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("postgres:16")
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    assert "POSTGRES_PASSWORD" not in env
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    secret_dir = str(Path(env["POSTGRES_PASSWORD_FILE"]).parent)
    volumes = {v["name"]: v for v in postgres["spec"]["template"]["spec"]["volumes"]}
    assert "secret" in volumes[mounts[secret_dir]]
    assert postgres["spec"]["volumeClaimTemplates"]


def test_the_verify_cronjob_runs_hub_verify_daily() -> None:
    cron = named("CronJob", "hub-verify")
    assert len(cron["spec"]["schedule"].split()) == 5
    assert cron["spec"]["schedule"].split()[2:] == ["*", "*", "*"]
    (container,) = pod_template(cron)["spec"]["containers"]
    assert command_of(container) == ["hub", "verify"]


def test_the_setup_job_registers_agencies_with_the_contract_command() -> None:
    (container,) = pod_template(named("Job", "hub-setup"))["spec"]["containers"]
    script = command_of(container)[-1]
    assert "hub agency register" in script
    for flag in ("--type", "--adapter", "--kafka", "--password-file"):
        assert flag in shlex.split(script, comments=True)


# --- network policies ------------------------------------------------------------------------


def test_everything_is_denied_unless_a_policy_allows_it() -> None:
    assert any(
        policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
        for policy in network_policies()
    )


def test_users_outside_the_namespace_reach_only_the_api_on_8080() -> None:
    def from_users(origin: str) -> bool:
        return origin == "anywhere" or (
            origin.startswith("namespace:") and origin != "namespace:monitoring"
        )

    grants = grants_from(from_users)
    assert grants, "users cannot reach the API at all"
    for policy, targets, _, ports in grants:
        assert targets == {"hub-api"}, policy
        assert ports == {8080}, policy


def test_agency_networks_reach_only_kafka_on_9093() -> None:
    grants = grants_from(lambda origin: origin == "ip")
    assert grants, "agencies cannot reach Kafka"
    for policy, targets, peer, ports in grants:
        assert targets == {"kafka"}, policy
        assert ports == {9093}, policy
        assert peer is not None and peer["ipBlock"]["cidr"] != "0.0.0.0/0", policy


def test_prometheus_reaches_only_the_metrics_port_of_hub_pods() -> None:
    grants = grants_from(lambda origin: origin == "namespace:monitoring")
    assert grants
    for policy, targets, _, ports in grants:
        assert ports == {9100}, policy
        assert targets <= hub_pod_names(), policy
    scraped = set().union(*(targets for _, targets, _, _ in grants))
    long_running = {
        w["metadata"]["name"]
        for w in hub_workloads()
        if w["kind"] in LONG_RUNNING and w["metadata"]["name"] not in WITHOUT_HEALTH_PORT
    }
    assert long_running <= scraped


def test_postgres_accepts_connections_only_from_hub_pods_in_the_namespace() -> None:
    grants = [grant for grant in ingress_grants() if "postgres" in grant[1]]
    assert grants, "nothing can reach PostgreSQL"
    for policy, targets, peer, ports in grants:
        assert targets == {"postgres"}, policy
        assert ports == {5432}, policy
        assert peer_origin(peer) == "this-namespace" and peer is not None, policy
        assert "namespaceSelector" not in peer, policy
        assert pods_selected(peer["podSelector"]) <= hub_pod_names(), policy


def test_kafka_listeners_are_reachable_only_from_kafka_clients_agencies_and_other_brokers() -> None:
    for policy, targets, peer, ports in ingress_grants():
        if "kafka" not in targets:
            continue
        origin = peer_origin(peer)
        assert origin in {"ip", "this-namespace"}, policy
        if origin == "this-namespace":
            assert peer is not None
            sources = pods_selected(peer["podSelector"])
            if sources == {"kafka"}:
                assert ports <= {9094, 9095}, policy
            else:
                assert ports == {9093}, policy
                assert "hub-api" not in sources, policy


def test_every_pod_may_resolve_names_through_kube_dns_only() -> None:
    dns = [
        rule
        for policy in network_policies()
        if policy["spec"]["podSelector"] == {}
        for rule in policy["spec"].get("egress") or []
    ]
    assert dns
    for rule in dns:
        assert {port["port"] for port in rule["ports"]} == {53}
        for peer in rule["to"]:
            assert peer["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": "kube-system"
            }


# --- federation (opt-in component) ---------------------------------------------------------

FEDERATION_DEPLOYMENTS = (
    "hub-federation-receive",
    "hub-federation-answer",
    "hub-consumer-transfers",
)
PARTNER_CLIENTS = {
    "hub-federation-answer",
    "hub-consumer-transfers",
    "hub-federation-publish-holdings",
}


def federation_workloads() -> list[Doc]:
    return [doc for doc in load(FEDERATION / "federation.yaml") if doc["kind"] in WORKLOAD_KINDS]


def test_federation_is_an_opt_in_component_listing_its_manifests() -> None:
    (component,) = load(FEDERATION / "kustomization.yaml")
    assert component["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    assert component["kind"] == "Component"
    listed = component["resources"]
    assert set(listed) == {p.name for p in FEDERATION.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_processes_without_a_health_port_still_lack_the_option() -> None:
    from hub.cli import build_parser

    for workload, command in WITHOUT_HEALTH_PORT.items():
        named("Deployment", workload)
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--metrics-port", "9100"])


def test_the_federation_processes_run_the_federation_commands() -> None:
    for name in FEDERATION_DEPLOYMENTS:
        deployment = named("Deployment", name)
        assert deployment["spec"]["replicas"] == 1, name
        assert deployment["spec"]["strategy"]["type"] == "Recreate", name
    (receive,) = named("Deployment", "hub-federation-receive")["spec"]["template"]["spec"][
        "containers"
    ]
    assert command_of(receive)[:3] == ["hub", "federation", "receive"]
    assert "--once" not in command_of(receive), "runs until stopped, no shell loop"
    (answer,) = named("Deployment", "hub-federation-answer")["spec"]["template"]["spec"][
        "containers"
    ]
    assert command_of(answer)[:3] == ["hub", "federation", "answer"]
    assert "--once" not in command_of(answer)
    (transfers,) = named("Deployment", "hub-consumer-transfers")["spec"]["template"]["spec"][
        "containers"
    ]
    assert command_of(transfers) == [
        "hub", "consumer", "run", "transfers", "--metrics-port", "9100"
    ]  # fmt: skip
    cron = named("CronJob", "hub-federation-publish-holdings")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    (publish,) = pod_template(cron)["spec"]["containers"]
    assert command_of(publish)[:3] == ["hub", "federation", "publish-holdings"]


def test_federation_settings_are_hub_settings_and_the_register_is_mounted(tmp_path: Path) -> None:
    from hub.adapters.federation_register import load_register
    from hub.settings import HubSettings

    fields = {f"HUB_{name.upper()}" for name in HubSettings.model_fields}
    (register_map,) = [doc for doc in of_kind("ConfigMap") if doc["metadata"]["name"] == (
        "hub-federation-register"
    )]  # fmt: skip
    (tmp_path / "register.yaml").write_text(register_map["data"]["register.yaml"])
    register = load_register(tmp_path / "register.yaml")
    assert register.partners
    workloads_here = federation_workloads()
    assert {w["metadata"]["name"] for w in workloads_here} == {
        *FEDERATION_DEPLOYMENTS,
        "hub-federation-publish-holdings",
    }
    for workload in workloads_here:
        pod = pod_template(workload)["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        (container,) = pod["containers"]
        env = {variable["name"]: variable["value"] for variable in container["env"]}
        assert set(env) <= fields, workload["metadata"]["name"]
        # its own principal, named after this hub as partners' clusters know it
        assert env["HUB_KAFKA_USERNAME"] == f"hub-{register.this_hub.id}"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        register_dir = mounts[str(Path(env["HUB_FEDERATION_REGISTER"]).parent)]
        assert register_dir["readOnly"] is True
        assert volumes[register_dir["name"]]["configMap"]["name"] == "hub-federation-register"
        keys = volumes[mounts["/run/keys"]["name"]]["secret"]["items"]
        assert {"key": "discovery-oprf.seed", "path": "discovery-oprf.seed"} in keys
        assert {"key": "federation-encryption.pem", "path": "federation-encryption.pem"} in keys
        secrets = volumes[mounts["/run/secrets"]["name"]]["projected"]["sources"]
        password = [s["secret"] for s in secrets if s["secret"]["name"] == "hub-federation-secrets"]
        assert password and password[0]["items"][0] == {
            "key": "hub_kafka_password",
            "path": "hub_kafka_password",
        }
        # A pod that sends to partners has each partner's own credential where the register's
        # client block says (never this hub's own password presented to a partner's cluster).
        if pod_template(workload)["metadata"]["labels"].get("safeguarding-hub/partner-hub-client"):
            mounted = {f"/run/secrets/{i['path']}" for i in password[0]["items"]} | {
                f"/etc/hub/kafka-ca/{i['path']}"
                for i in volumes[mounts["/etc/hub/kafka-ca"]["name"]]["secret"]["items"]
            }
            for partner in register.partners:
                client = partner.kafka.client
                assert client is not None, partner.id
                assert {str(client.password_file), str(client.ca_file)} <= mounted, partner.id
        labels = pod_template(workload)["metadata"]["labels"]
        assert labels["safeguarding-hub/kafka-client"] == "true"


def test_only_the_processes_that_send_to_partners_reach_partner_brokers_on_9093() -> None:
    policy = named("NetworkPolicy", "hub-to-partner-hubs")
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert pods_selected(policy["spec"]["podSelector"]) == PARTNER_CLIENTS
    for rule in policy["spec"]["egress"]:
        assert {int(port["port"]) for port in rule["ports"]} == {9093}
        for peer in rule["to"]:
            assert peer["ipBlock"]["cidr"] != "0.0.0.0/0"
