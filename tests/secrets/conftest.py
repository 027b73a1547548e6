"""Fixtures of the secrets tests."""

# The fixtures are found by name, so importing them is what registers them here.
from tests.connect.fixtures import (  # noqa: F401
    catalog,
    codec,
    runtime_factory,
    settings,
)
