"""The Grafana dashboard and the provisioning files for a local Grafana."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from gateway.metrics import GATEWAY, STUB, render
from tests.deploy.metric_names import (
    exposed_metric_names,
    promql_metric_names,
    unknown_metric_names,
)
from tests.deploy.paths import DASHBOARD, DEPLOY

GRID_WIDTH = 24
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*(\w+)\s*\)")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]


def _variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def test_dashboard_is_importable_shape(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 38
    assert dashboard["uid"] == "lgsp-gateway"
    assert dashboard["title"]
    # An importable file carries no instance-specific id.
    assert "id" not in dashboard or dashboard["id"] is None
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_datasource_and_filter_variables(dashboard: dict[str, Any]) -> None:
    variables = _variables(dashboard)
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    exposed = exposed_metric_names(render(GATEWAY).decode())
    for name in ("connector", "service"):
        var = variables[name]
        assert var["type"] == "query"
        assert var["datasource"]["uid"] == "${datasource}"
        match = _LABEL_VALUES.fullmatch(var["query"]["query"])
        assert match, var["query"]
        assert match.group(1) in exposed
        assert match.group(2) == name


def test_every_panel_queries_the_selected_datasource(dashboard: dict[str, Any]) -> None:
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_panels_use_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    exposed = exposed_metric_names(render(GATEWAY).decode())
    exposed |= exposed_metric_names(render(STUB).decode())
    assert unknown_metric_names(_exprs(dashboard), exposed) == {}


def test_required_views_are_present(dashboard: dict[str, Any]) -> None:
    exprs = _exprs(dashboard)
    used = frozenset().union(*(promql_metric_names(e) for e in exprs))
    assert {
        "lgsp_transactions_total", "lgsp_forward_duration_seconds_bucket",
        "lgsp_end_to_end_latency_seconds_bucket", "lgsp_circuit_state",
        "lgsp_consumer_lag", "lgsp_dead_lettered_total", "lgsp_connector_state",
        "lgsp_replayed_total", "lgsp_ingested_total", "lgsp_in_flight_transactions",
    } <= used
    joined = "\n".join(exprs)
    for quantile in ("0.5", "0.95", "0.99"):
        for histogram in ("lgsp_forward_duration_seconds_bucket",
                          "lgsp_end_to_end_latency_seconds_bucket"):
            assert re.search(rf"histogram_quantile\({quantile}, [^\n]*{histogram}", joined), (
                quantile, histogram)
    assert 'outcome="retried"' in joined
    assert any("by (connector, service, outcome)" in e for e in exprs)
    assert any('outcome="delivered"' in e and 'outcome=~"delivered|dead_lettered"' in e
               for e in exprs), "delivery success ratio"
    assert any("by (reason)" in e and "lgsp_dead_lettered_total" in e for e in exprs)


def test_layout_fits_the_grid_without_overlaps(dashboard: dict[str, Any]) -> None:
    # Panels of collapsed rows are laid out when the row opens: check each level apart.
    levels = [dashboard["panels"]] + [p["panels"] for p in dashboard["panels"] if p.get("panels")]
    for panels in levels:
        taken: set[tuple[int, int]] = set()
        for panel in panels:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= GRID_WIDTH, panel["title"]
            cells = {(pos["x"] + dx, pos["y"] + dy)
                     for dx in range(pos["w"]) for dy in range(pos["h"])}
            assert not cells & taken, f"{panel['title']} overlaps another panel"
            taken |= cells


def test_provisioning_points_at_prometheus_and_this_folder() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load(
        (provisioning / "datasources" / "lgsp-prometheus.yaml").read_text(encoding="utf-8"))
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://127.0.0.1:9090"
    providers = yaml.safe_load(
        (provisioning / "dashboards" / "lgsp.yaml").read_text(encoding="utf-8"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
