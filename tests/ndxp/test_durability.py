"""Idempotency keys outlive the stub: replays days later are still recognised."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.localkafka import free_port
from devkit.stub import JOURNAL_NAME, StubConfig, StubServer
from gateway.errors import ConfigError
from gateway.ndxp import NdxpClient
from tests.ndxp.conftest import SECRET, StartStub, open_http, settings_for
from tests.ndxp.factories import make_tx

DOSSIERS = "QG.DVCQG.DONGBOHOSO"


async def test_keys_and_unique_counts_survive_a_restart(
    start_stub: StartStub, tmp_path: Path
) -> None:
    data_dir, port = tmp_path / "journal", free_port()
    tx = make_tx()
    first = await start_stub(data_dir=data_dir, port=port)
    async with NdxpClient(settings_for(first.url)) as client:
        original = await client.submit(DOSSIERS, tx)
        await first.stop()

        second = await start_stub(data_dir=data_dir, port=port)
        replayed = await client.submit(DOSSIERS, tx)
        found = await client.lookup(DOSSIERS, tx.transaction_id)

    assert replayed.duplicate is True
    assert replayed.receipt_id == original.receipt_id
    assert replayed.received_at == original.received_at
    assert found == original
    async with open_http(second.url) as http:
        stats = await http.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"]) == (2, 1, 1)
    assert stats["by_service"] == {DOSSIERS: {"received": 2, "unique": 1, "duplicates": 1}}


async def test_a_second_stub_on_the_same_data_dir_is_refused(
    stub: StubServer, tmp_path: Path
) -> None:
    other = StubServer(StubConfig(data_dir=stub.config.data_dir, port=free_port()))
    with pytest.raises(ConfigError, match="in use by another running stub"):
        await other.start()


async def test_a_torn_last_line_from_a_crash_is_cut_and_the_rest_kept(
    start_stub: StartStub, tmp_path: Path
) -> None:
    data_dir, port = tmp_path / "journal", free_port()
    kept, after = make_tx(), make_tx()
    first = await start_stub(data_dir=data_dir, port=port)
    async with NdxpClient(settings_for(first.url)) as client:
        original = await client.submit(DOSSIERS, kept)
        await first.stop()
        journal = data_dir / JOURNAL_NAME
        with journal.open("ab") as handle:  # what a crash in the middle of a write leaves
            handle.write(b'{"key": "half-writ')

        second = await start_stub(data_dir=data_dir, port=port)
        assert (await client.submit(DOSSIERS, kept)).receipt_id == original.receipt_id
        await client.submit(DOSSIERS, after)
        await second.stop()

        await start_stub(data_dir=data_dir, port=port)
        assert (await client.submit(DOSSIERS, after)).duplicate is True
    lines = journal.read_bytes().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(b'{"key":') for line in lines)


async def test_a_journal_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    server = StubServer(StubConfig(data_dir=blocker / "stub", port=free_port()))
    with pytest.raises(ConfigError, match="cannot open the stub journal"):
        await server.start()


async def test_readyz_says_loading_until_a_long_journal_is_read(tmp_path: Path) -> None:
    keys = 100_000
    lines = (
        f'{{"key":"k-{n}","service":"{DOSSIERS}","receipt_id":"R-{n}",'
        f'"received_at":"2025-03-14T08:30:00.000+00:00"}}\n'
        for n in range(keys)
    )
    (tmp_path / JOURNAL_NAME).write_text("".join(lines))
    server = StubServer(StubConfig(data_dir=tmp_path, port=free_port(), client_secret=SECRET))
    await server.start()
    try:
        async with open_http(server.url) as http:
            # The port answers at once; the keys usually take a moment longer. Whichever
            # wins the race, ready must never be claimed before every key is loaded.
            status, body = await http.call("GET", "/readyz")
            if status == 200:
                stats = (await http.call("GET", "/ndxp/v1/stats"))[1]
                assert stats["unique"] == keys
            else:
                assert (status, body) == (503, {"status": "loading"})
            assert (await http.call("GET", "/healthz"))[0] == 200
            await server.wait_loaded()
            assert await http.call("GET", "/readyz") == (200, {"status": "ready"})
            assert (await http.stats())["unique"] == keys
            async with NdxpClient(settings_for(server.url)) as client:
                found = await client.lookup(DOSSIERS, "k-99999")
        assert found is not None
        assert found.receipt_id == "R-99999"
    finally:
        await server.stop()
