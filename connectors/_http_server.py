"""An aiohttp application bound to a host and port, for connectors and simulators that serve.

Binding happens in `start` so a port already in use fails the caller's `start` (a config
problem the runtime reports), and port 0 picks a free port that `port` then reports.
"""

from __future__ import annotations

from aiohttp import web

from gateway.errors import ConfigError


class HttpServer:
    """Serve one aiohttp application until `stop`; in-flight requests finish first."""

    def __init__(
        self, app: web.Application, host: str, port: int, *, shutdown_timeout_s: float = 5.0,
        what: str = "server",
    ) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._shutdown_timeout_s = shutdown_timeout_s
        self._what = what
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was requested); only valid after `start`."""
        if self._port is None:
            raise RuntimeError(f"{self._what} is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; ConfigError if the address cannot be bound."""
        # access_log=None: one log line per request would dominate the webhook's hot path.
        runner = web.AppRunner(self._app, access_log=None,
                               shutdown_timeout=self._shutdown_timeout_s)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"{self._what} cannot listen on {self._host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from exc
        self._runner = runner
        addresses = runner.addresses
        self._port = int(addresses[0][1]) if addresses else self._requested_port

    async def stop(self) -> None:
        """Stop accepting connections and wait (bounded) for in-flight requests."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
