"""Plugin discovery: entry points found, checked, and broken ones named with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import orjson
import pytest

from gateway.connect import ENTRY_POINT_GROUP, PluginCatalog, discover_plugins
from gateway.connect.plugin import ConnectorConfig
from gateway.errors import ConnectorError, UnknownPluginError
from tests.connect.plugins import CounterSource, ReturningSource


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, ENTRY_POINT_GROUP)


def test_good_plugins_load_and_broken_ones_are_named_with_the_reason() -> None:
    catalog = discover_plugins(found=[
        _ep("counter", "tests.connect.plugins:CounterSource"),
        _ep("missing", "tests.connect.no_such_module:Connector"),
        _ep("not-a-class", "tests.connect.plugins:MESSAGE_TYPE"),
        _ep("abstract", "gateway.connect.plugin:SourceConnector"),
        _ep("config", "tests.connect.plugins:CounterConfig"),
    ])
    assert catalog.names() == ["counter"]
    assert catalog.get("counter") is CounterSource
    assert catalog.broken == {
        "missing": "tests.connect.no_such_module:Connector cannot be imported: "
                   "ModuleNotFoundError: No module named 'tests.connect.no_such_module'",
        "not-a-class": "tests.connect.plugins:MESSAGE_TYPE: 'reporting.report_submission' is "
                       "not a SourceConnector subclass",
        "abstract": "gateway.connect.plugin:SourceConnector: SourceConnector does not "
                    "implement run",
        "config": "tests.connect.plugins:CounterConfig: <class "
                  "'tests.connect.plugins.CounterConfig'> is not a SourceConnector subclass",
    }
    with pytest.raises(UnknownPluginError) as broken:
        catalog.get("missing")
    assert str(broken.value) == (
        "connector plugin 'missing' is installed but unusable: "
        + catalog.broken["missing"]
    )
    with pytest.raises(UnknownPluginError, match="unknown connector plugin 'x'; installed: "):
        catalog.get("x")


def test_a_name_claimed_twice_is_refused() -> None:
    catalog = discover_plugins(found=[
        _ep("counter", "tests.connect.plugins:CounterSource"),
        _ep("counter", "tests.connect.plugins:ReturningSource"),
    ])
    assert catalog.names() == []
    assert "registered twice" in catalog.broken["counter"]


def test_catalog_of_classes_and_its_listing() -> None:
    catalog = PluginCatalog.of(CounterSource, ReturningSource)
    infos = {i.name: i for i in catalog.infos()}
    assert infos["counter"].class_path == "tests.connect.plugins.CounterSource"
    assert infos["counter"].source_system == "counter"
    assert infos["counter"].description == "Numbered test records."
    assert catalog.resolve("tests.connect.plugins.ReturningSource") == "returning"

    class Nameless(ReturningSource):
        plugin_name = ""

    with pytest.raises(ConnectorError, match="has no plugin_name"):
        PluginCatalog.of(Nameless)

    class BadModel(ReturningSource):
        config_model = dict  # type: ignore[assignment]  # deliberately breaks the contract

    with pytest.raises(ConnectorError, match="config_model must be a ConnectorConfig subclass"):
        PluginCatalog.of(BadModel)
    assert issubclass(ReturningSource.config_model, ConnectorConfig)


def test_an_installed_package_is_found_through_its_entry_point(
    example_plugin_path: Path,
) -> None:
    """pip-installed tests/plugins/lgsp-example-connector is discovered in a fresh process."""
    script = (
        "import orjson; from gateway.connect import discover_plugins; "
        "c = discover_plugins(); "
        "print(orjson.dumps({'infos': [i.name + ' ' + i.version + ' ' + i.class_path "
        "for i in c.infos()], 'broken': c.broken}).decode())"
    )
    env = {**os.environ, "PYTHONPATH": str(example_plugin_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    found = orjson.loads(result.stdout)
    assert "example 0.1.0 lgsp_example_connector.ExampleConnector" in found["infos"]
    assert "example" not in found["broken"]
