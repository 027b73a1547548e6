"""Alert rules, their unit tests, the demo scrape config and the generated PrometheusRule."""

from __future__ import annotations

from typing import Any

import yaml

from gateway.metrics import GATEWAY, render
from tests.deploy import tools
from tests.deploy.metric_names import exposed_metric_names, unknown_metric_names
from tests.deploy.paths import ALERTS, ALERTS_TEST, PROMETHEUS_CONFIG, PROMETHEUS_RULE
from tests.deploy.prometheusrule import render_prometheus_rule

REQUIRED_ALERTS = {
    "NationalServiceFailing", "CircuitOpen", "DeadLetterGrowing", "ConsumerLagGrowing",
    "ConnectorFailed", "ConnectorSilent", "GatewayDown",
}
SEVERITIES = {"critical", "warning", "info"}


def _alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _unit_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))["tests"]
    return tests


def test_promtool_accepts_the_rules() -> None:
    result = tools.run([tools.promtool(), "check", "rules", ALERTS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    # ~15 s of CPU; a loaded two-core machine may need several times that.
    result = tools.run([tools.promtool(), "test", "rules", ALERTS_TEST], cwd=ALERTS_TEST.parent,
                       timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_demo_config() -> None:
    # Also loads alerts.yml through rule_files, relative to the config's directory.
    result = tools.run([tools.promtool(), "check", "config", PROMETHEUS_CONFIG])
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_scrapes_gateway_and_stub() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert config["global"]["scrape_interval"] == "5s"
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {
        "lgsp-gateway": ["127.0.0.1:8083"],
        "lgsp-ndxp-stub": ["127.0.0.1:8090"],
    }


def test_required_alerts_exist_with_severity_for_and_runbook() -> None:
    rules = _alert_rules()
    assert {r["alert"] for r in rules} >= REQUIRED_ALERTS
    for rule in rules:
        name = rule["alert"]
        assert rule.get("for"), f"{name} has no for: duration"
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= annotations.keys(), name
        runbook = annotations["runbook"]
        assert "What it means" in runbook, name
        assert "What to do" in runbook, name


def test_alert_expressions_use_only_gateway_metrics() -> None:
    exposed = exposed_metric_names(render(GATEWAY).decode())
    exprs = [r["expr"] for r in _alert_rules()]
    # `up` is Prometheus' own per-target series.
    assert unknown_metric_names(exprs, exposed, allowed={"up"}) == {}


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in _unit_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in _alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def test_endpoint_outage_case_fires_dead_letter_and_national_alerts() -> None:
    """One scenario with dead letters growing must fire both alerts (promtool runs it)."""
    for test in _unit_tests():
        fired = {c["alertname"] for c in test.get("alert_rule_test", []) if c.get("exp_alerts")}
        grows = any(
            s["series"].startswith("lgsp_dead_lettered_total") for s in test["input_series"]
        )
        if grows and {"DeadLetterGrowing", "NationalServiceFailing"} <= fired:
            return
    raise AssertionError("no unit test where dead letters grow fires both alerts")


def test_prometheusrule_is_generated_from_alerts() -> None:
    expected = render_prometheus_rule(ALERTS.read_text(encoding="utf-8"))
    assert PROMETHEUS_RULE.read_text(encoding="utf-8") == expected, (
        "deploy/k8s/base/monitoring/prometheusrule.yaml is stale: run "
        ".venv/bin/python -m tests.deploy.prometheusrule --write"
    )
