"""The metric-name extraction the dashboard and alert checks rely on."""

from __future__ import annotations

import pytest

from gateway.metrics import GATEWAY, STUB, render
from tests.deploy.metric_names import (
    exposed_metric_names,
    promql_metric_names,
    unknown_metric_names,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('up{job="lgsp-gateway"} == 0 or absent(up{job="lgsp-gateway"})', {"up"}),
        (
            'sum by (service) (rate(lgsp_transactions_total{outcome=~"retried|x"}[5m])) > 0.25',
            {"lgsp_transactions_total"},
        ),
        (
            "histogram_quantile(0.99, sum by (le, service) "
            '(rate(lgsp_forward_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
            {"lgsp_forward_duration_seconds_bucket"},
        ),
        (
            "deriv(sum by (topic) (max by (topic, partition) (lgsp_consumer_lag))[15m:1m]) > 0",
            {"lgsp_consumer_lag"},
        ),
        (
            "a unless a offset 10m and on () count(b offset 1w) > 1e3",
            {"a", "b"},
        ),
        (
            'label_replace(x, "dst", "$1", "src", "(.*)") * on (dst) group_left (info) y',
            {"x", "y"},
        ),
        ('{__name__="lgsp_ingested_total", connector="ioffice"}', {"lgsp_ingested_total"}),
        (
            "sum(rate(ns:recorded:rate5m[5m])) # a comment naming not_a_metric",
            {"ns:recorded:rate5m"},
        ),
        ("max_over_time(x[1m:10s] @ start()) BY (a) AND y", {"x", "y"}),
        ("vector(1) + time()", set()),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_exposed_names_follow_prometheus_suffixes() -> None:
    text = "\n".join([
        "# HELP c_total A counter.",
        "# TYPE c_total counter",
        'c_total{a="1"} 3.0',
        'c_created{a="1"} 1.7e9',
        "# TYPE om counter",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="+Inf"} 1.0',
        "# TYPE g gauge",
        "# TYPE s summary",
    ])
    assert exposed_metric_names(text) == {
        "c_total", "c_created", "om", "om_total", "h_seconds_bucket", "h_seconds_sum",
        "h_seconds_count", "g", "s", "s_sum", "s_count",
    }


def test_gateway_registry_exposes_the_documented_metrics() -> None:
    gateway = exposed_metric_names(render(GATEWAY).decode())
    assert {
        "lgsp_transactions_total", "lgsp_forward_duration_seconds_bucket",
        "lgsp_end_to_end_latency_seconds_count", "lgsp_dead_lettered_total",
        "lgsp_circuit_state", "lgsp_consumer_lag", "lgsp_connector_state",
        "lgsp_ingested_total", "lgsp_replayed_total", "lgsp_in_flight_transactions",
        "lgsp_kafka_ready",
    } <= gateway
    # Histograms are only queryable through their suffixed series.
    assert "lgsp_forward_duration_seconds" not in gateway
    assert "lgsp_stub_requests_total" in exposed_metric_names(render(STUB).decode())


def test_unknown_metric_names_reports_per_expression() -> None:
    exposed = frozenset({"lgsp_consumer_lag"})
    exprs = ["sum(lgsp_consumer_lag)", "rate(lgsp_typo_total[5m]) + up"]
    assert unknown_metric_names(exprs, exposed, allowed={"up"}) == {
        "rate(lgsp_typo_total[5m]) + up": frozenset({"lgsp_typo_total"}),
    }
