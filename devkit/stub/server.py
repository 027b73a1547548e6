"""Running the stub: bind a port, serve, stop gracefully."""

from __future__ import annotations

__all__ = ["StubServer"]

import ssl
from types import TracebackType

from aiohttp import web

from devkit.stub.app import STORE, build_app
from devkit.stub.config import StubConfig
from gateway.errors import ConfigError
from gateway.logs import get_logger

_log = get_logger(__name__)
# Benchmarks open hundreds of connections at once; the default backlog of 128 drops some.
_BACKLOG = 2048


class StubServer:
    """The NDXP stub serving HTTP on `config.host:config.port` (port 0 picks a free one).

    `start()` returns once the port is bound; the journal then loads in the background
    (`/readyz` answers 503 until it has). `async with` also waits for the journal.
    """

    def __init__(self, config: StubConfig) -> None:
        self.config = config
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when the config asked for port 0)."""
        if self._port is None:
            raise RuntimeError("the stub server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. http://127.0.0.1:8090."""
        host = self.config.host
        scheme = "https" if self.config.tls_cert is not None else "http"
        where = f"[{host}]" if ":" in host else host
        return f"{scheme}://{where}:{self.port}"

    async def start(self) -> None:
        """Open the journal and bind the port; raises ConfigError if either fails."""
        app = build_app(self.config)
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               shutdown_timeout=self.config.shutdown_timeout_s)
        try:
            await runner.setup()
        except BaseException:
            await runner.cleanup()
            raise
        site = web.TCPSite(runner, self.config.host, self.config.port, backlog=_BACKLOG,
                           ssl_context=_server_tls(self.config))
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"the stub cannot listen on {self.config.host}:{self.config.port}: "
                f"{exc.strerror or exc}"
            ) from exc
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        _log.info("stub listening", url=self.url, data_dir=str(self.config.data_dir),
                  fsync=self.config.fsync)

    async def wait_loaded(self) -> None:
        """Return once the idempotency journal is loaded."""
        if self._runner is None:
            raise RuntimeError("the stub server is not started")
        app = self._runner.app
        await app[STORE].wait_loaded()

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, flush and close the journal."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            _log.info("stub stopped", url=self.url)

    async def __aenter__(self) -> StubServer:
        await self.start()
        try:
            await self.wait_loaded()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _server_tls(config: StubConfig) -> ssl.SSLContext | None:
    """The https context of `lgsp stub --tls`; client certificates required with a client CA."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    if config.tls_client_ca is not None:
        context.load_verify_locations(config.tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
