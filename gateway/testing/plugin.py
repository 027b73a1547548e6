"""The pytest plugin of the contract kit (entry point `pytest11`: lgsp).

Loaded by pytest wherever the gateway is installed. It adds `--lgsp-bootstrap-servers`
and, when pytest-asyncio is there (the kit's fixtures are async), the fixtures of
`gateway.testing.fixtures`; without pytest-asyncio it adds nothing, so it can never break
an unrelated test session.
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--lgsp-bootstrap-servers HOST:PORT`: the broker the kit's tests use."""
    group = parser.getgroup("lgsp", "LGSP connector contract kit")
    group.addoption(
        "--lgsp-bootstrap-servers", default=None, metavar="HOST:PORT",
        help="Kafka broker for the LGSP contract kit (env LGSP_TEST_BOOTSTRAP_SERVERS or "
        "KAFKA_BOOTSTRAP_SERVERS); default: start the local broker (lgsp-devkit)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the kit's fixtures when their async runner is installed."""
    if find_spec("pytest_asyncio") is None:
        return
    config.pluginmanager.register(importlib.import_module("gateway.testing.fixtures"),
                                  "lgsp-testing-fixtures")
