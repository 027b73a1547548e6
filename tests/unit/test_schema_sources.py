"""Schemas from several packages in one registry: joined, and a name clash refused."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from gateway.contracts import SchemaSource, load_gated_schemas, load_schemas, load_sources
from gateway.errors import ConfigError
from gateway.settings import Settings

BUILT_IN = Settings().schemas_dir
_SCHEMA = {"type": "record", "name": "Licence", "namespace": "vn.gov.lgsp.radio",
           "fields": [{"name": "licence_no", "type": "string"}]}


def _folder(root: Path, name: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "v1.avsc").write_text(json.dumps(_SCHEMA))
    return root


def test_a_plugin_folder_joins_the_built_in_schemas(tmp_path: Path) -> None:
    plugin = _folder(tmp_path / "radio", "radio.licence")
    registry = load_sources([SchemaSource("lgsp-gateway", BUILT_IN),
                             SchemaSource("lgsp-radio", plugin)])
    assert "radio.licence" in registry.names()
    assert "envelope" in registry.names()
    assert registry.latest("radio.licence").raw["name"] == "Licence"


def test_two_packages_shipping_one_name_is_one_error_naming_both(tmp_path: Path) -> None:
    first = _folder(tmp_path / "a", "radio.licence")
    second = _folder(tmp_path / "b", "radio.licence")
    with pytest.raises(ConfigError) as caught:
        load_sources([SchemaSource("lgsp-radio", first), SchemaSource("lgsp-radio-fork", second)])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("schema 'radio.licence' is shipped twice: by lgsp-radio (")
    assert "and by lgsp-radio-fork (" in message


def test_a_plugin_cannot_shadow_a_built_in_schema(tmp_path: Path) -> None:
    clash = _folder(tmp_path / "p", "envelope")
    with pytest.raises(ConfigError, match="'envelope' is shipped twice: by lgsp-gateway"):
        load_sources([SchemaSource("lgsp-gateway", BUILT_IN), SchemaSource("evil", clash)])


def test_an_entry_point_names_the_package_that_is_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "kit_radio_plugin"
    (package / "schemas").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    _folder(package / "schemas", "radio.licence")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    found = [EntryPoint("radio", "kit_radio_plugin.schemas", "lgsp.schemas")]
    assert "radio.licence" in load_schemas(BUILT_IN, found).names()


def test_an_entry_point_to_nothing_is_one_error_naming_it() -> None:
    found = [EntryPoint("ghost", "no_such_package_anywhere.schemas", "lgsp.schemas")]
    with pytest.raises(ConfigError, match=r"entry point ghost = 'no_such_package_anywhere"):
        load_schemas(BUILT_IN, found)


def test_a_plugins_breaking_version_refuses_a_writing_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "kit_breaking_plugin"
    (package / "schemas").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    _folder(package / "schemas", "radio.licence")
    # v2 adds a field without a default: v2 cannot read v1's data.
    v2 = {**_SCHEMA, "fields": [*_SCHEMA["fields"], {"name": "band_mhz", "type": "double"}]}
    (package / "schemas" / "radio.licence" / "v2.avsc").write_text(json.dumps(v2))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    found = [EntryPoint("radio", "kit_breaking_plugin.schemas", "lgsp.schemas")]
    assert load_schemas(BUILT_IN, found).latest("radio.licence").version == 2
    with pytest.raises(ConfigError) as caught:
        load_gated_schemas(BUILT_IN, found)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("breaking schema change: radio.licence: v2 cannot read v1 data: "
                              "field band_mhz")
    assert message.endswith("`lgsp schemas check` lists every one")
