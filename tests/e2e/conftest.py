"""Fixtures of the end-to-end tests."""

# The fixtures are found by name, so importing them is what registers them here.
from tests.connect.fixtures import example_plugin_path  # noqa: F401
