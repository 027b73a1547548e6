"""Fixtures of the connector runtime tests."""

# The fixtures are found by name, so importing them is what registers them here.
from tests.connect.fixtures import (  # noqa: F401
    catalog,
    codec,
    example_plugin_path,
    runtime_factory,
    settings,
)
