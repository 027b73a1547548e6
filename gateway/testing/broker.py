"""The Kafka broker the contract kit's tests talk to: a given one, or the local broker.

A given address comes from `--lgsp-bootstrap-servers`, `LGSP_TEST_BOOTSTRAP_SERVERS` or
`KAFKA_BOOTSTRAP_SERVERS`, in that order. Without one, the kit starts the project's own
KRaft broker (`devkit.localkafka`, from Maven Central jars, no Docker) on free loopback
ports for the session; its jars are cached under `LGSP_CACHE_DIR` (default
`.lgsp/cache`), so point that at one folder to share them between projects.

The development kit is imported inside the function that starts the broker, never at
import time: `gateway` is production code and must load without `devkit` installed.
"""

from __future__ import annotations

__all__ = ["BOOTSTRAP_ENV", "given_bootstrap", "session_broker"]

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.errors import ConfigError
from gateway.settings import Settings

BOOTSTRAP_ENV = ("LGSP_TEST_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS")


def given_bootstrap(option: str | None) -> str | None:
    """The broker address the user gave (option first, then environment), if any."""
    if option:
        return option
    for name in BOOTSTRAP_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return None


@contextlib.asynccontextmanager
async def session_broker(home: Path, given: str | None) -> AsyncIterator[str]:
    """Yield a bootstrap address for the session: `given`, or a local broker started here."""
    if given:
        yield given
        return
    try:
        # Lazily: only a session that has to start a broker needs the development kit.
        from devkit.localkafka import LocalBroker, free_port  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "no Kafka broker given (--lgsp-bootstrap-servers or LGSP_TEST_BOOTSTRAP_SERVERS) "
            "and the development kit (lgsp-devkit), which starts a local one, is not "
            "installed"
        ) from exc
    settings = Settings()
    broker = LocalBroker(home, lib_cache=settings.cache_dir / "kafka",
                         kafka_version=settings.broker.kafka_version,
                         port=free_port(), controller_port=free_port())
    bootstrap = await broker.up(die_with_parent=True)
    try:
        yield bootstrap
    finally:
        await broker.down()
