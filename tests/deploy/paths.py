"""Where the operator kit and its checking tools live in the repository."""

from __future__ import annotations

__all__ = [
    "ALERTS",
    "ALERTS_TEST",
    "DASHBOARD",
    "DEPLOY",
    "DOCKERFILE",
    "INSTALL_TOOLS",
    "K8S",
    "KUBERNETES_VALIDATE",
    "KUSTOMIZE",
    "PROMETHEUS_CONFIG",
    "PROMETHEUS_RULE",
    "REPO",
]

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "lgsp-gateway.json"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
K8S = DEPLOY / "k8s"
PROMETHEUS_RULE = K8S / "base" / "monitoring" / "prometheusrule.yaml"
INSTALL_TOOLS = REPO / "scripts" / "install-tools.sh"

# Installed by scripts/install-tools.sh: kustomize into the ignored tools folder,
# kubernetes-validate into the interpreter's environment (the project venv).
KUSTOMIZE = REPO / ".lgsp" / "tools" / "bin" / "kustomize"
KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
