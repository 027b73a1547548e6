"""Routes layer over the defaults; the national catalogue is extended by settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from structlog.testing import capture_logs

from gateway.app import Gateway
from gateway.connect import ConnectorConfig, PluginCatalog, SourceConnector
from gateway.errors import ConfigError, NoRouteError
from gateway.ndxp.catalogue import catalogue_from
from gateway.router.routing import RoutingTable, unlisted_services, with_plugin_routes
from gateway.settings import BUILT_IN_ROUTES, RouteRule, Settings, load_settings


class _RadioConnector(SourceConnector[ConnectorConfig]):
    plugin_name: ClassVar[str] = "radio"
    source_system: ClassVar[str] = "radio"
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    default_routes: ClassVar[dict[str, str]] = {
        "radio.licence": "QG.TANSO.CAPPHEP",
        "ioffice.document": "QG.RADIO.WANTS.DOCUMENTS",  # a built-in type: the built-in wins
    }

    async def run(self) -> None:
        return None


def _table(settings: Settings, *plugins: type[SourceConnector[Any]]) -> RoutingTable:
    catalog = PluginCatalog.of(*plugins)
    return RoutingTable(with_plugin_routes(settings.router, catalog.default_routes()).routes)


def test_a_config_file_naming_one_route_keeps_the_built_in_ones(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[[router.routes]]\nmessage_type = "radio.licence"\n'
                      'service = "QG.TANSO.CAPPHEP"\n\n'
                      '[[router.routes]]\nmessage_type = "reporting.report_submission"\n'
                      'service = "QG.HTBC.CHITIEU"\n')
    table = RoutingTable(load_settings(config).router.routes)
    assert table.resolve("radio.licence", "radio") == "QG.TANSO.CAPPHEP"
    assert table.resolve("reporting.report_submission", "reporting") == "QG.HTBC.CHITIEU"
    assert table.resolve("ioffice.document", "ioffice") == "QG.VBDT.GUINHAN"


def test_plugin_defaults_lie_beneath_the_built_in_and_configured_routes() -> None:
    plain = _table(Settings(), _RadioConnector)
    assert plain.resolve("radio.licence", "radio") == "QG.TANSO.CAPPHEP"
    assert plain.resolve("ioffice.document", "ioffice") == "QG.VBDT.GUINHAN"
    configured = _table(
        Settings(router={"routes": [{"message_type": "radio.licence", "service": "QG.X.Y"}]}),
        _RadioConnector,
    )
    assert configured.resolve("radio.licence", "radio") == "QG.X.Y"
    with pytest.raises(NoRouteError):
        _table(Settings()).resolve("radio.licence", "radio")


def test_a_plugin_with_a_malformed_default_route_is_refused() -> None:
    class Bad(_RadioConnector):
        plugin_name: ClassVar[str] = "bad"
        default_routes: ClassVar[dict[str, str]] = {"radio.licence": ""}

    with pytest.raises(Exception, match="default_routes must map message types"):
        PluginCatalog.of(Bad)


def test_settings_add_national_services_to_the_catalogue() -> None:
    built_in = catalogue_from(Settings().catalogue)
    assert len(built_in) == 23
    assert unlisted_services(list(BUILT_IN_ROUTES), built_in) == []
    rules = [RouteRule(message_type="radio.licence", service="QG.TANSO.CAPPHEP")]
    assert unlisted_services(rules, built_in) == ["QG.TANSO.CAPPHEP"]
    extended = catalogue_from(Settings(catalogue={"services": [{
        "code": "QG.TANSO.CAPPHEP", "name": "Cấp phép tần số vô tuyến điện",
        "owner_agency_code": "000.00.00.G12", "accepts_batch": True}]}).catalogue)
    assert unlisted_services(rules, extended) == []
    entry = extended.find("QG.TANSO.CAPPHEP")
    assert entry is not None and entry.accepts_batch


def test_a_bad_catalogue_entry_names_its_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(catalogue={"services": [{"code": "qg tanso", "name": "x",
                                               "owner_agency_code": "G12"}]})
    fields = {p.field for p in caught.value.problems}
    assert fields == {"catalogue.services.0.code", "catalogue.services.0.owner_agency_code"}


def test_start_up_warns_once_about_routes_to_unlisted_services() -> None:
    settings = Settings(router={"routes": [
        {"message_type": "a.b", "service": "QG.NOWHERE.ONE"},
        {"message_type": "c.d", "service": "QG.NOWHERE.TWO"}]})
    with capture_logs() as logs:
        merged = Gateway._with_plugin_routes(settings, PluginCatalog.of(_RadioConnector))
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["services"] == ["QG.NOWHERE.ONE", "QG.NOWHERE.TWO", "QG.TANSO.CAPPHEP"]
    assert "catalogue.services" in warnings[0]["hint"]
    assert any(rule.message_type == "radio.licence" for rule in merged.router.routes)
