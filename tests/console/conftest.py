"""The console's end-to-end world: `lgsp stub` and `lgsp run` processes on the session
broker, and Debian's Chromium driven by Playwright (never a browser of Playwright's own)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from gateway.contracts import Codec, SchemaRegistry
from gateway.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
"""Where the tests leave a screenshot of each page for review (git-ignored)."""


def chromium_binary() -> str:
    """Debian's chromium (scripts/install-tools.sh installs it); fails, never skips."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is missing: run scripts/install-tools.sh (make tools)"
    return found


@pytest.fixture(scope="session")
def codec() -> Codec:
    """The project's Avro contracts."""
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium; as root it needs --no-sandbox (these machines run tests as root),
    and a container's small /dev/shm must not crash it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium_binary(), headless=True,
                                            args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield launched
        finally:
            await launched.close()
