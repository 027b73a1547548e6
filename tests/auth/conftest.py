"""Fixtures of the authentication tests."""

# The fixtures are found by name, so importing them is what registers them here.
from tests.connect.fixtures import catalog, codec, settings  # noqa: F401
