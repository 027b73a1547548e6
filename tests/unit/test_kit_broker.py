"""Where the contract kit's broker comes from: a given address first, else the local one."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.testing.broker import given_bootstrap, session_broker


def test_the_option_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LGSP_TEST_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert given_bootstrap(None) is None
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert given_bootstrap(None) == "127.0.0.1:1"
    monkeypatch.setenv("LGSP_TEST_BOOTSTRAP_SERVERS", "127.0.0.1:2")
    assert given_bootstrap(None) == "127.0.0.1:2"
    assert given_bootstrap("127.0.0.1:3") == "127.0.0.1:3"


async def test_a_given_address_starts_nothing(tmp_path: Path) -> None:
    async with session_broker(tmp_path, "127.0.0.1:9") as bootstrap:
        assert bootstrap == "127.0.0.1:9"
    assert not any(await asyncio.to_thread(lambda: list(tmp_path.iterdir())))


async def test_without_an_address_or_the_development_kit_one_line_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As where lgsp-devkit is not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "devkit.localkafka", None)
    with pytest.raises(ConfigError) as caught:
        async with session_broker(tmp_path, None):
            pass
    assert str(caught.value) == (
        "no Kafka broker given (--lgsp-bootstrap-servers or LGSP_TEST_BOOTSTRAP_SERVERS) "
        "and the development kit (lgsp-devkit), which starts a local one, is not installed")
