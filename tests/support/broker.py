"""Where the test session's Kafka broker comes from.

Order: `KAFKA_BOOTSTRAP_SERVERS` when set; else testcontainers' Kafka when a Docker
engine answers; else the project's own local broker (Maven Central jars). If none can be
had the session fails loudly: integration tests never skip silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from testcontainers.community.kafka import KafkaContainer

from devkit.localkafka import LocalBroker, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


async def _docker_answers() -> bool:
    """True if a Docker engine answers its ping on the local socket (or DOCKER_HOST)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(host.removeprefix("unix://")), 3
            )
        elif host.startswith("tcp://"):
            address, _, port = host.removeprefix("tcp://").rpartition(":")
            reader, writer = await asyncio.wait_for(asyncio.open_connection(address, int(port)), 3)
        else:
            return False
        writer.write(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(64), 3)
        writer.close()
    except (OSError, TimeoutError, ValueError):
        return False
    return answer.startswith(b"HTTP/1.") and b" 200 " in answer


@contextlib.asynccontextmanager
async def session_broker(home: Path) -> AsyncIterator[tuple[str, LocalBroker | None]]:
    """Yield (bootstrap, local broker or None) for the whole test session."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given, None
        return
    if await _docker_answers():
        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server(), None
        return
    broker = LocalBroker(
        home,
        lib_cache=REPO_ROOT / ".lgsp" / "cache" / "kafka",
        port=free_port(),
        controller_port=free_port(),
    )
    bootstrap = await broker.up(die_with_parent=True)
    try:
        yield bootstrap, broker
    finally:
        await broker.down()
