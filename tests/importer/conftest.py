"""Fixtures of the import tests: a rig on the session broker with this test's topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.importer.rig import ImportRig


@pytest.fixture
def rig(kafka: BrokerHandle, topics: Topics, tmp_path: Path) -> ImportRig:
    """`lgsp import` writing this test's own topics (authentication off: loopback only)."""
    return ImportRig.create(kafka.bootstrap, topics, tmp_path / "state")
