"""The Kubernetes PrometheusRule, generated from deploy/prometheus/alerts.yml.

A PrometheusRule's `spec` has the same shape as a Prometheus rule file (`groups: ...`),
so the generated file is a fixed header plus alerts.yml's `groups:` block indented under
`spec:`, comments included. Regenerate after editing alerts.yml:

    .venv/bin/python -m tests.deploy.prometheusrule --write

tests/deploy/test_prometheus.py fails while the two differ.
"""

from __future__ import annotations

__all__ = ["render_prometheus_rule"]

import argparse
import sys

from tests.deploy.paths import ALERTS, PROMETHEUS_RULE, REPO

_HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml - do not edit by hand; regenerate with
#   .venv/bin/python -m tests.deploy.prometheusrule --write
# The same alert rules as the demo's Prometheus, for prometheus-operator.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: lgsp-gateway
  labels:
    app.kubernetes.io/name: lgsp-gateway
    # kube-prometheus-stack selects rules by its release label unless configured
    # otherwise: add it in an overlay if your Prometheus needs it.
spec:
"""


def render_prometheus_rule(alerts_text: str) -> str:
    """The PrometheusRule manifest carrying the rule groups of `alerts_text`."""
    lines = alerts_text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    except StopIteration:
        raise ValueError("the alert rules have no top-level 'groups:' key") from None
    body = "".join(f"  {line}\n" if line.strip() else "\n" for line in lines[start:])
    return _HEADER + body


def main(argv: list[str] | None = None) -> int:
    """Print the PrometheusRule, or with --write update the file in deploy/k8s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help=f"write {PROMETHEUS_RULE.relative_to(REPO)} instead of printing")
    args = parser.parse_args(argv)
    rendered = render_prometheus_rule(ALERTS.read_text(encoding="utf-8"))
    if args.write:
        PROMETHEUS_RULE.write_text(rendered, encoding="utf-8")
    else:
        sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
