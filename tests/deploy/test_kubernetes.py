"""The Kustomize deployment: both overlays render, validate offline, and carry what the
gateway depends on (topics, replication, probes, security, monitoring, scaling).

The gateway runs as two Deployments of one image: lgsp-connectors (LGSP_ROLES=connectors,
exactly one pod, Recreate) and lgsp-router (LGSP_ROLES=router, scaled by KEDA on lag).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

from gateway.settings import Settings, load_settings
from gateway.topics import Topics
from tests.deploy import tools
from tests.deploy.manifests import Manifest, containers, find, get_one, kinds
from tests.deploy.paths import ALERTS, K8S, REPO

# Kubernetes version whose schemas the core objects are validated against (bundled in
# kubernetes-validate, so no network). Raise it with the package.
KUBERNETES_VERSION = "1.37.0"

# Custom resources: no schema offline; their fields are checked by the tests below.
CUSTOM_KINDS = {
    ("kafka.strimzi.io/v1", "Kafka"),
    ("kafka.strimzi.io/v1", "KafkaNodePool"),
    ("kafka.strimzi.io/v1", "KafkaTopic"),
    ("kafka.strimzi.io/v1", "KafkaUser"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}
CORE_API_VERSIONS = {"v1", "apps/v1", "policy/v1", "networking.k8s.io/v1"}
# The application's name: the pods' app.kubernetes.io/name, the Prometheus job label, the
# ServiceMonitor and PrometheusRule. Each half is a Deployment, Service, PDB and
# NetworkPolicy named after it.
GATEWAY = "lgsp-gateway"
CONNECTORS = "lgsp-connectors"
ROUTER = "lgsp-router"
HALVES = (CONNECTORS, ROUTER)
# gateway/settings.py `roles` of each half (LGSP_ROLES).
ROLES = {CONNECTORS: ["connectors"], ROUTER: ["router"]}
STUB = "lgsp-ndxp-stub"
NON_ROOT_UID = 10001
DAY_MS = 86_400_000


def _connector_plugins() -> list[str]:
    """Built-in connector plugins, as declared in pyproject.toml's entry points.

    Each runs as a connector of the same name by convention, publishing to
    lgsp.src.<name>; a new plugin without a KafkaTopic fails test_topics_*.
    """
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return sorted(project["project"]["entry-points"]["lgsp.connectors"])


def _expected_topics() -> set[str]:
    topics = Topics("lgsp.")
    return {topics.source(c) for c in _connector_plugins()} | set(topics.system)


def _topics_by_name(docs: list[Manifest]) -> dict[str, Manifest]:
    return {t["spec"]["topicName"]: t for t in find(docs, "KafkaTopic")}


def _config_map_data(docs: list[Manifest], prefix: str) -> dict[str, str]:
    (found,) = [c for c in find(docs, "ConfigMap") if c["metadata"]["name"].startswith(prefix)]
    data: dict[str, str] = found["data"]
    return data


def _gateway_settings(
    docs: list[Manifest], half: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The settings the gateway would load in this overlay's pod of one half."""
    pod = get_one(docs, "Deployment", half)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args: list[str] = container["args"]
    config_path = Path(args[args.index("--config") + 1])
    # The --config file must come from the mounted ConfigMap.
    (mount,) = [
        m for m in container["volumeMounts"] if config_path.is_relative_to(m["mountPath"])
    ]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    config_map = get_one(docs, "ConfigMap", volume["configMap"]["name"])
    toml_file = tmp_path / half / config_path.name
    toml_file.parent.mkdir(exist_ok=True)
    toml_file.write_text(config_map["data"][config_path.name], encoding="utf-8")

    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            env |= get_one(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
        # The optional identity-provider Secret is absent here: local tokens only.
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            env[var["name"]] = "value-from-secret"
    # The developer's own LGSP_ variables must not leak into the pod's view.
    for key in [k for k in os.environ if k.upper().startswith("LGSP_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(toml_file, port=int(args[args.index("--port") + 1]))


def _pod_labels(docs: list[Manifest], half: str) -> dict[str, str]:
    labels: dict[str, str] = get_one(docs, "Deployment", half)["spec"]["template"][
        "metadata"]["labels"]
    return labels


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a matchLabels selector matches an object with these labels."""
    return selector.items() <= labels.items()


def _other(half: str) -> str:
    return ROUTER if half == CONNECTORS else CONNECTORS


def _unknown_keys(data: dict[str, Any], model: type[BaseModel], where: str = "") -> list[str]:
    """Keys of a TOML document that the settings model does not define, recursively.

    Nested sections of gateway/settings.py ignore unknown keys rather than refusing
    them, so a misspelt key in gateway.toml would silently fall back to the default.
    """
    unknown: list[str] = []
    for key, value in data.items():
        path = f"{where}{key}"
        field = model.model_fields.get(key)
        if field is None:
            unknown.append(path)
            continue
        nested = [t for t in (field.annotation, *get_args(field.annotation))
                  if isinstance(t, type) and issubclass(t, BaseModel)]
        if not nested:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                unknown += _unknown_keys(item, nested[0], f"{path}.")
    return unknown


# --- Rendering and schema validation ----------------------------------------------------


def test_only_expected_kinds(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    unexpected = {k for k in kinds(docs) if k[0] not in CORE_API_VERSIONS} - CUSTOM_KINDS
    assert unexpected == set()
    assert all(d["metadata"].get("namespace") == "lgsp" for d in docs if d["kind"] != "Namespace")


def test_core_objects_validate_against_kubernetes_schemas(
    overlay: tuple[str, list[Manifest]], rendered: dict[str, str]
) -> None:
    name, docs = overlay
    result = tools.run(
        [tools.kubernetes_validate(), "--strict", "-k", KUBERNETES_VERSION, "-"],
        stdin=rendered[name],
    )
    lines = result.stdout.splitlines()
    problems = [ln for ln in lines if ln.startswith(("ERROR", "FATAL"))]
    assert result.returncode == 0 and not problems, "\n".join(problems) or result.stderr
    passed = {m.group(1) for ln in lines if (m := re.search(r"passed for resource (\S+)", ln))}
    core = {f"{d['kind'].lower()}/{d['metadata']['name']}" for d in docs
            if (d["apiVersion"], d["kind"]) not in CUSTOM_KINDS}
    assert core - passed == set(), "core objects not validated"
    # Only the custom resources may lack a schema.
    for line in (ln for ln in lines if ln.startswith("WARN")):
        assert any(f"kind {k} with api version {api}" in line for api, k in CUSTOM_KINDS), line


def test_secret_example_validates_and_is_not_deployed(
    rendered: dict[str, str], prod: list[Manifest]
) -> None:
    example = K8S / "examples" / "ndxp-credentials.secret.example.yaml"
    result = tools.run([tools.kubernetes_validate(), "--strict", "-k", KUBERNETES_VERSION,
                        example])
    assert result.returncode == 0, result.stdout
    assert find(prod, "Secret") == [], "prod must not ship a Secret: it is created out of band"
    for text in rendered.values():
        assert "REPLACE-WITH-THE-SECRET" not in text


# --- Kafka -----------------------------------------------------------------------------


def test_topics_are_exactly_the_gateway_topics(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    topics = _topics_by_name(docs)
    assert set(topics) == _expected_topics()
    for topic in find(docs, "KafkaTopic"):
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "lgsp"


def test_topic_cleanup_and_retention_are_chosen(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    topics = _topics_by_name(docs)
    names = Topics("lgsp.")
    for name, topic in topics.items():
        config = topic["spec"]["config"]
        if name in names.compacted:
            assert config["cleanup.policy"] == "compact", name
            assert topic["spec"]["partitions"] == 1, f"{name}: one total order"
        else:
            assert config["cleanup.policy"] == "delete", name
            assert "retention.ms" in config, f"{name}: retention left to the broker default"
    retention = {n: t["spec"]["config"].get("retention.ms") for n, t in topics.items()}
    assert retention[names.dead_letter] >= 30 * DAY_MS
    assert retention[names.ledger] >= 90 * DAY_MS
    assert retention[names.ledger] >= retention[names.dead_letter]
    assert retention[names.replay_audit] == -1, "the audit trail is kept"
    for connector in _connector_plugins():
        assert retention[names.source(connector)] >= 7 * DAY_MS


def test_prod_kafka_is_replicated(prod: list[Manifest]) -> None:
    kafka = get_one(prod, "Kafka", "lgsp")
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["auto.create.topics.enable"] is False
    assert config["unclean.leader.election.enable"] is False
    pools = find(prod, "KafkaNodePool")
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert brokers >= 3
    assert controllers >= 3 and controllers % 2 == 1, "a KRaft quorum needs an odd count"
    for pool in pools:
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "lgsp"
        for volume in pool["spec"]["storage"]["volumes"]:
            assert volume["type"] == "persistent-claim"
            assert volume["deleteClaim"] is False
    for name, topic in _topics_by_name(prod).items():
        assert topic["spec"]["replicas"] == 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, name


def test_dev_kafka_is_one_node(dev: list[Manifest]) -> None:
    (pool,) = find(dev, "KafkaNodePool")
    assert pool["spec"]["replicas"] == 1
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    config = get_one(dev, "Kafka", "lgsp")["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 1
    assert config["auto.create.topics.enable"] is False
    for name, topic in _topics_by_name(dev).items():
        assert topic["spec"]["replicas"] == 1, name
        assert topic["spec"]["config"]["min.insync.replicas"] == 1, name


# --- The gateway's pods ----------------------------------------------------------------


def _assert_hardened(workload: Manifest) -> None:
    name = workload["metadata"]["name"]
    pod = workload["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False, name
    assert pod["enableServiceLinks"] is False, name
    pod_sc = pod["securityContext"]
    assert pod_sc["runAsNonRoot"] is True, name
    assert pod_sc["runAsUser"] == NON_ROOT_UID, name
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
    for container in containers(workload):
        where = f"{name}/{container['name']}"
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True, where
        assert sc["runAsUser"] == NON_ROOT_UID, where
        assert sc["allowPrivilegeEscalation"] is False, where
        assert sc["readOnlyRootFilesystem"] is True, where
        assert sc["capabilities"]["drop"] == ["ALL"], where
        assert "add" not in sc["capabilities"], where
        assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{where} has no {probe}"
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= resources[kind].keys(), f"{where} {kind}"
        # With a read-only root, everything written needs a volume.
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for path in ("/tmp", "/var/lib/lgsp"):  # noqa: S108 - an emptyDir mount point, not a temp file
            assert "emptyDir" in volumes[mounts[path]], f"{where}: {path} is not an emptyDir"


def test_every_workload_is_hardened(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    workloads = [d for d in docs if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet"}]
    assert workloads
    for workload in workloads:
        _assert_hardened(workload)


def test_gateway_is_exactly_the_two_halves(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    gateway_workloads = {
        d["metadata"]["name"] for d in find(docs, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name") == GATEWAY
    }
    assert gateway_workloads == set(HALVES), "one Deployment per role, no dual-role leftover"
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        assert not find(docs, kind, GATEWAY), f"{kind}/{GATEWAY} was split into the halves"


def test_each_half_runs_its_role(
    overlay: tuple[str, list[Manifest]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _name, docs = overlay
    for half in HALVES:
        (container,) = get_one(docs, "Deployment", half)["spec"]["template"]["spec"][
            "containers"]
        env = {v["name"]: v for v in container.get("env", [])}
        assert env["LGSP_ROLES"] == {"name": "LGSP_ROLES", "value": ",".join(ROLES[half])}
        # Not overridden on the command line, and not in the shared configuration.
        assert "--roles" not in container["args"], half
        # What the process really loads from its environment and config file.
        assert _gateway_settings(docs, half, tmp_path, monkeypatch).roles == ROLES[half]
    for config_map in find(docs, "ConfigMap"):
        assert "LGSP_ROLES" not in config_map["data"], "roles differ per Deployment"
    toml_text = _config_map_data(docs, "lgsp-gateway-config-")["gateway.toml"]
    assert "roles" not in tomllib.loads(toml_text)


def test_connectors_run_exactly_once(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    spec = get_one(docs, "Deployment", CONNECTORS)["spec"]
    assert spec["replicas"] == 1
    # Recreate: the old connectors pod is gone before the new one starts.
    assert spec["strategy"] == {"type": "Recreate"}
    for scaled in find(docs, "ScaledObject"):
        assert scaled["spec"]["scaleTargetRef"]["name"] != CONNECTORS
    # One replica: a PDB that forbids its eviction would block node drains forever.
    pdb = get_one(docs, "PodDisruptionBudget", CONNECTORS)["spec"]
    assert "minAvailable" not in pdb
    assert pdb["maxUnavailable"] == 1


def test_halves_do_not_overlap(overlay: tuple[str, list[Manifest]]) -> None:
    """Every selector of a half matches its own pods and never the other half's."""
    _name, docs = overlay
    for half in HALVES:
        own, other = _pod_labels(docs, half), _pod_labels(docs, _other(half))
        assert own["app.kubernetes.io/name"] == GATEWAY
        assert own["app.kubernetes.io/component"] == ROLES[half][0]
        selectors = {
            "Deployment": get_one(docs, "Deployment", half)["spec"]["selector"]["matchLabels"],
            "Service": get_one(docs, "Service", half)["spec"]["selector"],
            "PodDisruptionBudget": get_one(docs, "PodDisruptionBudget", half)["spec"][
                "selector"]["matchLabels"],
            "NetworkPolicy": get_one(docs, "NetworkPolicy", half)["spec"]["podSelector"][
                "matchLabels"],
        }
        for kind, selector in selectors.items():
            assert _selects(selector, own), f"{kind}/{half} misses its pods"
            assert not _selects(selector, other), f"{kind}/{half} selects {_other(half)}"


def test_gateway_probes_and_shutdown(
    overlay: tuple[str, list[Manifest]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _name, docs = overlay
    expected_ports = {CONNECTORS: {"http": 8083, "webhook": 8181, "metrics": 8084},
                      ROUTER: {"http": 8083, "metrics": 8084}}
    for half in HALVES:
        deployment = get_one(docs, "Deployment", half)
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"][0] == "run"
        assert container["args"][container["args"].index("--port") + 1] == "8083"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == expected_ports[half], half
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pre_stop >= 5, "endpoint removal needs a few seconds to reach every node"
        # preStop, then the router's drain and one last NDXP call, before SIGKILL. The
        # connectors stop faster; they get the same budget.
        settings = _gateway_settings(docs, half, tmp_path, monkeypatch)
        shutdown = pre_stop + settings.router.drain_timeout_s + settings.ndxp.request_timeout_s
        assert pod["terminationGracePeriodSeconds"] >= shutdown, half
    # Routers never drop below the current count during a rollout.
    strategy = get_one(docs, "Deployment", ROUTER)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_secret_is_referenced_never_inlined(overlay: tuple[str, list[Manifest]]) -> None:
    name, docs = overlay
    (container,) = get_one(docs, "Deployment", ROUTER)["spec"]["template"]["spec"]["containers"]
    (secret_var,) = [v for v in container["env"] if v["name"] == "LGSP_NDXP__CLIENT_SECRET"]
    ref = secret_var["valueFrom"]["secretKeyRef"]
    assert ref["key"] == "client-secret"
    assert ref["name"].startswith("lgsp-ndxp-credentials")
    for config_map in find(docs, "ConfigMap"):
        for key, value in config_map["data"].items():
            assert "SECRET" not in key.upper(), f"{config_map['metadata']['name']}: {key}"
            assert "client_secret" not in value, f"{config_map['metadata']['name']}: {key}"
    if name == "dev":
        names = {s["metadata"]["name"] for s in find(docs, "Secret")}
        assert ref["name"] in names, "kustomize rewrote the reference"
    # Only the router calls NDXP: the connectors pod gets no credentials for it (only the
    # identity provider's settings, like every half).
    (connectors,) = get_one(docs, "Deployment", CONNECTORS)["spec"]["template"]["spec"][
        "containers"]
    refs = [v["valueFrom"]["secretKeyRef"]["name"] for v in connectors.get("env", [])
            if "valueFrom" in v]
    assert not [r for r in refs if r.startswith("lgsp-ndxp-credentials")]
    assert [s["secretRef"]["name"] for s in connectors.get("envFrom", [])
            if "secretRef" in s] == ["lgsp-auth-oidc"]
    # Every other secret a pod gets is a reference too: Kafka passwords, the sealing key.
    for half in HALVES:
        (container,) = get_one(docs, "Deployment", half)["spec"]["template"]["spec"][
            "containers"]
        for var in container.get("env", []):
            if any(w in var["name"] for w in ("PASSWORD", "SECRET", "KEY")):
                assert "value" not in var, f"{half}: {var['name']} inlined"
                assert "secretKeyRef" in var["valueFrom"], f"{half}: {var['name']}"


def test_gateway_config_loads_with_the_gateway_settings(
    overlay: tuple[str, list[Manifest]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, docs = overlay
    for half in HALVES:
        settings = _gateway_settings(docs, half, tmp_path, monkeypatch)
        assert settings.host == "0.0.0.0"
        assert settings.port == 8083
        assert settings.topic_prefix == "lgsp."
        assert str(settings.state_dir) == "/var/lib/lgsp"
        assert settings.bootstrap_servers.split(":")[0] == "lgsp-kafka-bootstrap"
    settings = _gateway_settings(docs, ROUTER, tmp_path, monkeypatch)
    assert settings.router.routes, "an empty routing table forwards nothing"
    assert settings.ndxp.client_secret.get_secret_value() == "value-from-secret"
    if name == "dev":
        assert settings.ndxp.url == f"http://{STUB}:8090"
    else:
        assert STUB not in settings.ndxp.url
        assert settings.ndxp.url.startswith("https://")


def test_gateway_toml_uses_only_known_settings(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    toml_text = _config_map_data(docs, "lgsp-gateway-config-")["gateway.toml"]
    assert _unknown_keys(tomllib.loads(toml_text), Settings) == []
    env = _config_map_data(docs, "lgsp-gateway-env-")
    for key in env:
        section, _, rest = key.removeprefix("LGSP_").lower().partition("__")
        assert section in Settings.model_fields, key
        if rest:
            nested = Settings.model_fields[section].annotation
            assert isinstance(nested, type) and issubclass(nested, BaseModel)
            assert rest in nested.model_fields, key


def test_services_expose_admin_and_webhook(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    expected = {
        # The admin API integrators use for `lgsp connectors`, and the webhook's target.
        CONNECTORS: {"http": (8083, "http"), "webhook": (8181, "webhook"),
                     "metrics": (8084, "metrics")},
        # Replay/trace, and /metrics on its own port.
        ROUTER: {"http": (8083, "http"), "metrics": (8084, "metrics")},
    }
    for half in HALVES:
        service = get_one(docs, "Service", half)
        ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
        assert ports == expected[half], half
        assert _selects(service["spec"]["selector"], _pod_labels(docs, half)), half


def test_stub_runs_in_dev_only(dev: list[Manifest], prod: list[Manifest]) -> None:
    stub = get_one(dev, "Deployment", STUB)
    (container,) = stub["spec"]["template"]["spec"]["containers"]
    assert container["args"][:1] == ["stub"]
    get_one(dev, "Service", STUB)
    assert not [d for d in prod if STUB in d["metadata"]["name"]]
    # The stub admits the router, which is the half that calls it.
    (rule,) = get_one(dev, "NetworkPolicy", STUB)["spec"]["ingress"]
    pod_peers = [p["podSelector"]["matchLabels"] for p in rule["from"] if "podSelector" in p]
    assert any(_selects(peer, _pod_labels(dev, ROUTER)) for peer in pod_peers)


def _resources(docs: list[Manifest], half: str) -> dict[str, dict[str, str]]:
    (container,) = get_one(docs, "Deployment", half)["spec"]["template"]["spec"]["containers"]
    resources: dict[str, dict[str, str]] = container["resources"]
    return resources


def _cpu(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _memory_mi(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_prod_runs_three_spread_routers(prod: list[Manifest]) -> None:
    deployment = get_one(prod, "Deployment", ROUTER)
    # KEDA owns the count; a fixed `replicas` would be reset by every apply.
    assert "replicas" not in deployment["spec"]
    scaled = get_one(prod, "ScaledObject", ROUTER)
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (3, 6)
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"] == \
            deployment["spec"]["selector"]["matchLabels"], "spread counts routers only"
    pdb = get_one(prod, "PodDisruptionBudget", ROUTER)
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == 1
    dev_like = {"cpu": "100m", "memory": "192Mi"}
    assert _resources(prod, ROUTER)["requests"] != dev_like


def test_prod_gives_the_single_connectors_pod_headroom(
    prod: list[Manifest], dev: list[Manifest]
) -> None:
    assert get_one(prod, "Deployment", CONNECTORS)["spec"]["replicas"] == 1
    prod_limits, dev_limits = _resources(prod, CONNECTORS)["limits"], _resources(
        dev, CONNECTORS)["limits"]
    assert _cpu(prod_limits["cpu"]) > _cpu(dev_limits["cpu"])
    assert _memory_mi(prod_limits["memory"]) > _memory_mi(dev_limits["memory"])
    # It cannot scale out: its limits are at least the router's.
    router_limits = _resources(prod, ROUTER)["limits"]
    assert _memory_mi(prod_limits["memory"]) >= _memory_mi(router_limits["memory"])


def test_dev_runs_one_of_each_without_keda(dev: list[Manifest]) -> None:
    for half in HALVES:
        assert get_one(dev, "Deployment", half)["spec"]["replicas"] == 1, half
        assert _resources(dev, half)["requests"] == {"cpu": "100m", "memory": "192Mi"}, half
    assert find(dev, "ScaledObject") == []


# --- Scaling -----------------------------------------------------------------------------


def test_scaled_object_follows_router_lag(
    prod: list[Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (scaled,) = find(prod, "ScaledObject")
    assert scaled["metadata"]["name"] == ROUTER
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": ROUTER}
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    settings = _gateway_settings(prod, ROUTER, tmp_path, monkeypatch)
    assert settings.roles == ["router"], "the scaled Deployment runs the router only"
    assert trigger["metadata"]["consumerGroup"] == settings.router.group_id == "lgsp-router"
    bootstrap_host = trigger["metadata"]["bootstrapServers"].split(":")[0]
    assert bootstrap_host.split(".")[0] == settings.bootstrap_servers.split(":")[0]
    # Every lgsp.src.* topic counts: no single topic pinned.
    assert "topic" not in trigger["metadata"]
    partitions = {
        t["spec"]["partitions"] for n, t in _topics_by_name(prod).items()
        if n.startswith(Topics("lgsp.").source(""))
    }
    assert spec["minReplicaCount"] >= 1
    assert partitions == {spec["maxReplicaCount"]}, "max replicas = partitions per topic"


# --- Monitoring --------------------------------------------------------------------------


def test_service_monitor_scrapes_both_halves(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    monitor = get_one(docs, "ServiceMonitor", GATEWAY)
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = {s["metadata"]["name"] for s in find(docs, "Service")
                if _selects(selector, s["metadata"]["labels"])}
    assert selected == set(HALVES)
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == ["lgsp"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    job_label = monitor["spec"]["jobLabel"]
    for half in HALVES:
        service = get_one(docs, "Service", half)
        service_ports = {p["name"]: p for p in service["spec"]["ports"]}
        assert service_ports[endpoint["port"]]["port"] == 8084, half
        # prometheus-operator takes the job label from this Service label (it would be
        # the Service's name without one): both halves are job "lgsp-gateway", what
        # alerts.yml's up{job=...} expects.
        assert service["metadata"]["labels"][job_label] == GATEWAY, half


def test_prometheus_rule_carries_the_alerts(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    rule = get_one(docs, "PrometheusRule", GATEWAY)
    alerts: dict[str, Any] = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert rule["spec"]["groups"] == alerts["groups"]


# --- Network -----------------------------------------------------------------------------


def _egress_ports(policy: Manifest) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def _namespace_peer(namespace: str) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _ingress_ports_from(policy: Manifest) -> dict[int, list[Manifest]]:
    """Ingress port -> the peers admitted to it."""
    admitted: dict[int, list[Manifest]] = {}
    for rule in policy["spec"]["ingress"]:
        for port in rule["ports"]:
            admitted.setdefault(port["port"], []).extend(rule["from"])
    return admitted


def _environment_egress(policy: Manifest) -> list[Manifest]:
    """Egress peers beyond what both halves share (DNS and Kafka)."""
    return [peer for rule in policy["spec"]["egress"]
            if not {53, 9092} & {p["port"] for p in rule.get("ports", [])}
            for peer in rule["to"]]


def test_gateway_network_policies(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    for half in HALVES:
        policy = get_one(docs, "NetworkPolicy", half)
        spec = policy["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}, half
        for rule in spec["ingress"]:
            assert rule["from"], f"{half}: no ingress rule may be open to everyone"
        # Prometheus scrapes both, on the metrics port only: never the admin API.
        assert _ingress_ports_from(policy)[8084] == [_namespace_peer("monitoring")], half
        assert 8083 not in _ingress_ports_from(policy), half
        # Both need DNS and Kafka.
        assert {53, 9092} <= _egress_ports(policy), half
        kafka_rules = [r for r in spec["egress"]
                       if any(p["port"] == 9092 for p in r.get("ports", []))]
        (kafka_rule,) = kafka_rules
        assert kafka_rule["to"] == [{"podSelector": {"matchLabels": {
            "strimzi.io/cluster": "lgsp", "strimzi.io/broker-role": "true"}}}], half
        for rule in spec["egress"]:
            assert rule.get("to"), f"{half}: no egress rule may be open to everyone"
            for peer in rule["to"]:
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0", half
    # The webhook reaches the connectors only, and only through the ingress controller.
    assert _ingress_ports_from(get_one(docs, "NetworkPolicy", CONNECTORS))[8181] == [
        _namespace_peer("ingress-nginx")]
    assert set(_ingress_ports_from(get_one(docs, "NetworkPolicy", ROUTER))) == {8084}
    assert set(_ingress_ports_from(get_one(docs, "NetworkPolicy", CONNECTORS))) == {8084, 8181}


def test_only_the_router_reaches_the_national_endpoint(dev: list[Manifest],
                                                       prod: list[Manifest]) -> None:
    stub = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": STUB}}}
    dev_router = _environment_egress(get_one(dev, "NetworkPolicy", ROUTER))
    dev_connectors = _environment_egress(get_one(dev, "NetworkPolicy", CONNECTORS))
    assert dev_router == [stub]
    assert stub not in dev_connectors
    assert dev_connectors, "dev connectors reach the simulated provincial systems"
    # prod: NDXP (router) and the provincial systems (connectors) by address, HTTPS;
    # neither half gets the other's destination.
    prod_router_policy = get_one(prod, "NetworkPolicy", ROUTER)
    prod_connectors_policy = get_one(prod, "NetworkPolicy", CONNECTORS)
    router_cidrs = {p["ipBlock"]["cidr"] for p in _environment_egress(prod_router_policy)}
    connector_cidrs = {p["ipBlock"]["cidr"] for p in _environment_egress(prod_connectors_policy)}
    assert router_cidrs and connector_cidrs
    assert router_cidrs.isdisjoint(connector_cidrs)
    assert 443 in _egress_ports(prod_router_policy)


# --- Kafka security ------------------------------------------------------------------------

KAFKA_USERS = {CONNECTORS: "lgsp-connectors", ROUTER: "lgsp-router"}


def _acls(user: Manifest) -> list[tuple[str, str, str, set[str]]]:
    """(type, name, patternType, operations) of a KafkaUser's ACLs."""
    return [(a["resource"]["type"], a["resource"].get("name", ""),
             a["resource"].get("patternType", "literal"), set(a["operations"]))
            for a in user["spec"]["authorization"]["acls"]]


def test_kafka_listeners_are_tls_and_scram_only(overlay: tuple[str, list[Manifest]]) -> None:
    _name, docs = overlay
    kafka = get_one(docs, "Kafka", "lgsp")["spec"]
    for listener in kafka["kafka"]["listeners"]:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"] == {"type": "scram-sha-512"}, listener["name"]
    assert kafka["kafka"]["authorization"] == {"type": "simple"}
    assert "userOperator" in kafka["entityOperator"]


def test_each_component_is_its_own_kafka_user_with_acls_on_its_topics(
    overlay: tuple[str, list[Manifest]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, docs = overlay
    users = {u["metadata"]["name"]: u for u in find(docs, "KafkaUser")}
    assert set(KAFKA_USERS.values()) <= set(users)
    topics = _expected_topics() | {Topics("lgsp.").hold("QG.EXAMPLE")}
    for user in users.values():
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        for kind, resource, pattern, _ops in _acls(user):
            if kind != "topic":
                continue
            # Only the gateway's own topics: a prefix of them, or one of them.
            matches = [t for t in topics if (t.startswith(resource) if pattern == "prefix"
                                             else t == resource)]
            assert matches, f"{user['metadata']['name']}: {resource} is not a gateway topic"
    t = Topics("lgsp.")

    def may(user: str, op: str, topic: str) -> bool:
        return any(kind == "topic" and op in ops and (
            topic.startswith(res) if pattern == "prefix" else topic == res)
            for kind, res, pattern, ops in _acls(users[user]))

    connectors, router = KAFKA_USERS[CONNECTORS], KAFKA_USERS[ROUTER]
    assert may(connectors, "Write", t.source("ioffice"))
    assert may(connectors, "Write", t.connector_configs)
    assert not may(connectors, "Write", t.ledger) and not may(connectors, "Write", t.dead_letter)
    assert may(router, "Read", t.source("ioffice")) and may(router, "Write", t.ledger)
    assert not may(router, "Write", t.source("ioffice"))
    assert not may(router, "Read", t.connector_configs)
    assert may(router, "Create", t.hold("QG.DVCQG.DONGBOHOSO"))
    # Both halves answer changes on their admin API, so both append to the audit trail.
    assert may(connectors, "Write", t.audit) and may(router, "Write", t.audit)
    assert may(connectors, "Read", t.audit) and may(router, "Read", t.audit)
    assert not may(connectors, "Write", t.hold("QG.DVCQG.DONGBOHOSO"))
    groups = {u: [r for kind, r, _p, ops in _acls(users[u]) if kind == "group" and "Read" in ops]
              for u in users}
    assert groups[router] == ["lgsp-router"] and groups[connectors] == []
    for half, user_name in KAFKA_USERS.items():
        settings = _gateway_settings(docs, half, tmp_path, monkeypatch)
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.kafka.sasl_mechanism == "SCRAM-SHA-512"
        assert settings.kafka.sasl_username == user_name
        pod = get_one(docs, "Deployment", half)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (password,) = [v for v in container["env"] if v["name"] == "LGSP_KAFKA__SASL_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": user_name, "key": "password"}
        ca = settings.kafka.ssl_ca_file
        assert ca is not None
        (mount,) = [m for m in container["volumeMounts"] if ca.is_relative_to(m["mountPath"])]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "lgsp-cluster-ca-cert", name


def test_keda_logs_in_with_references_only(prod: list[Manifest]) -> None:
    (scaled,) = find(prod, "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["sasl"] == "scram_sha512"
    assert trigger["metadata"]["tls"] == "enable"
    auth = get_one(prod, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert refs["password"]["name"] == "lgsp-keda"
    assert refs["ca"]["name"] == "lgsp-cluster-ca-cert"
    assert "lgsp-keda" in {u["metadata"]["name"] for u in find(prod, "KafkaUser")}


def test_secrets_key_example_validates() -> None:
    example = K8S / "examples" / "secrets-key.secret.example.yaml"
    result = tools.run([tools.kubernetes_validate(), "--strict", "-k", KUBERNETES_VERSION,
                        example])
    assert result.returncode == 0, result.stdout


# --- Authentication ------------------------------------------------------------------------


def test_auth_comes_from_secrets(overlay: tuple[str, list[Manifest]], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    name, docs = overlay
    for half in HALVES:
        pod = get_one(docs, "Deployment", half)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        settings = _gateway_settings(docs, half, tmp_path, monkeypatch)
        assert settings.metrics_port == 8084
        assert settings.auth.mode == "auto"
        assert settings.auth.tokens_file == Path("/etc/lgsp/auth/tokens.json")
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/lgsp/auth"]
        assert mount["readOnly"] is True
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"].startswith("lgsp-auth")
        oidc = [s["secretRef"] for s in container["envFrom"] if "secretRef" in s]
        assert oidc == [{"name": "lgsp-auth-oidc", "optional": True}], half
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == settings.metrics_port
        if name == "prod":
            # One key shared by every replica, so `lgsp audit verify` knows it.
            assert settings.auth.audit_key_file == Path("/etc/lgsp/auth/signing.key")
    secrets = {s["metadata"]["name"].rsplit("-", 1)[0] for s in find(docs, "Secret")}
    # dev generates its fake one; prod's is created out of band.
    assert ("lgsp-auth" in secrets) == (name == "dev")
    for example in ("auth.secret.example.yaml", "auth-oidc.secret.example.yaml"):
        result = tools.run([tools.kubernetes_validate(), "--strict", "-k",
                            KUBERNETES_VERSION, K8S / "examples" / example])
        assert result.returncode == 0, result.stdout
