"""Connector names: letters, digits and . _ -, not . or .., at most 100 characters."""

from __future__ import annotations

import pytest

from tests.admin.test_api import Client, api, gateway, toggle  # noqa: F401 - fixtures
from tests.connect.support import counter_config

pytestmark = pytest.mark.integration


async def test_bad_names_are_400_naming_the_field_and_good_ones_are_created(
    api: Client,  # noqa: F811 - the fixture imported above
) -> None:
    for bad in (".", "..", "a" * 101, "a/b", "ten tu", "tên", "", "[/bold]", "a\nb"):
        status, body = await api.call("POST", "/connectors",
                                      json={"name": bad, "config": counter_config()})
        assert status == 400, (bad, body)
        assert body["message"].startswith("invalid request body: name: "), (bad, body)
    for good in ("...", ".hidden", "a" * 100, "ioffice-camau_2.v1"):
        status, body = await api.call("POST", "/connectors",
                                      json={"name": good, "config": counter_config()})
        assert status == 201, (good, body)
    status, names = await api.call("GET", "/connectors")
    assert status == 200
    assert {"...", ".hidden", "a" * 100, "ioffice-camau_2.v1"} <= set(names)


async def test_error_bodies_are_redacted(api: Client) -> None:  # noqa: F811
    config = {**counter_config(), "079203001234": "x", "api.token=hush": "y"}
    status, body = await api.call("POST", "/connectors", json={"name": "n", "config": config})
    assert status == 400, body
    assert "unknown key for this plugin" in body["message"]
    assert "079203001234" not in body["message"]
    assert "hush" not in body["message"]
