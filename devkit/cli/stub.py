"""`lgsp stub`: the national-exchange (NDXP) stub server."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
from pathlib import Path

from devkit.certs import DevCa
from devkit.stub import StubConfig, StubServer
from devkit.stub.config import IpNetwork
from gateway.cli._base import CommandParser, add_config_option, settings_from
from gateway.cli._types import port, positive_int
from gateway.gc_tuning import freeze_startup_objects, relax_collector
from gateway.logs import get_logger
from gateway.ndxp.catalogue import catalogue_from

_log = get_logger(__name__)


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp stub`."""
    stub = sub.add_parser(
        "stub", help="run the national data exchange (NDXP) stub",
        description="Serve a stand-in for the national data exchange platform: OAuth2 "
        "tokens, per-service transaction and batch endpoints that honour Idempotency-Key "
        "durably, coded errors, fault injection (PUT /ndxp/v1/faults), stats, /metrics, "
        "/healthz and /readyz. Stops cleanly on SIGTERM or Ctrl-C.",
    )
    add_config_option(stub)
    stub.add_argument("--port", type=port, default=None,
                      help="port to listen on; 0 picks a free one (env LGSP_STUB__PORT, "
                      "default 8090)")
    stub.add_argument("--host", default=None,
                      help="address to listen on (env LGSP_STUB__HOST, else LGSP_HOST, "
                      "default 127.0.0.1)")
    stub.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                      help="where the idempotency journal is kept (env LGSP_STUB__DATA_DIR, "
                      "default <state dir>/stub)")
    stub.add_argument("--client-secret", default=None, metavar="SECRET",
                      help="the secret clients must present for a token (env "
                      "LGSP_NDXP__CLIENT_SECRET, which is safer: a command line is visible "
                      "to other users; default change-me)")
    stub.add_argument("--allow-ips", type=_networks, default=None, metavar="LIST",
                      help="comma-separated client addresses or networks allowed to call; "
                      "others get 403 IP_NOT_ALLOWED (env LGSP_STUB__ALLOW_IPS, default all)")
    stub.add_argument("--token-ttl", type=positive_int, default=None, metavar="SECONDS",
                      help="lifetime of issued tokens (env LGSP_STUB__TOKEN_TTL_S, default 3600)")
    stub.add_argument("--no-fsync", action="store_true",
                      help="do not fsync the journal: survives a crash of the stub, not of "
                      "the machine; faster on slow disks (env LGSP_STUB__FSYNC=false)")
    stub.add_argument("--tls", action="store_true",
                      help="serve https with a certificate for 127.0.0.1/localhost from a "
                      "development CA generated into <state dir>/stub-tls (its ca.pem is "
                      "what the gateway's LGSP_NDXP__SSL_CA_FILE names)")
    stub.add_argument("--tls-client-auth", action="store_true",
                      help="with --tls: require a client certificate signed by that CA "
                      "(mTLS); `<state dir>/stub-tls/gateway.pem` and `.key` are one")
    stub.set_defaults(handler=_serve)


def _networks(value: str) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(item.strip(), strict=False)
                     for item in value.split(",") if item.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _config(args: argparse.Namespace) -> StubConfig:
    """The stub's config: CLI options, then LGSP_* environment and --config, then defaults."""
    stub: dict[str, object] = {}
    for option, key in (("port", "port"), ("host", "host"), ("data_dir", "data_dir"),
                        ("token_ttl", "token_ttl_s")):
        if getattr(args, option) is not None:
            stub[key] = getattr(args, option)
    if args.allow_ips is not None:
        stub["allow_ips"] = [str(net) for net in args.allow_ips]
    if args.no_fsync:
        stub["fsync"] = False
    settings = settings_from(args, stub=stub or None)
    section = settings.stub
    cert: Path | None = None
    cert_key: Path | None = None
    client_ca: Path | None = None
    if args.tls or args.tls_client_auth:
        ca = DevCa(settings.state_dir / "stub-tls", "LGSP stub development CA")
        server = ca.issue("stub")
        cert, cert_key = server.cert, server.key
        if args.tls_client_auth:
            ca.issue("gateway", client=True)
            client_ca = ca.cert_path
    return StubConfig(
        data_dir=section.data_dir or settings.state_dir / "stub",
        host=section.host or settings.host,
        port=section.port,
        client_secret=args.client_secret or settings.ndxp.client_secret.get_secret_value(),
        token_ttl_s=section.token_ttl_s,
        allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in section.allow_ips),
        fsync=section.fsync,
        tls_cert=cert,
        tls_key=cert_key,
        tls_client_ca=client_ca,
        catalogue=catalogue_from(settings.catalogue),
    )


async def _serve(args: argparse.Namespace) -> int:
    config = _config(args)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    # Installed before starting, so a SIGTERM during startup still ends in a clean stop.
    for signum in signals:
        loop.add_signal_handler(signum, stopping.set)
    try:
        relax_collector()
        server = StubServer(config)
        await server.start()
        freeze_startup_objects()
        try:
            tls = f"; CA {config.tls_cert.parent / 'ca.pem'}" if config.tls_cert else ""
            print(f"NDXP stub listening on {server.url} (journal in {config.data_dir}{tls})",
                  flush=True)
            await stopping.wait()
            _log.info("stub stopping on signal")
        finally:
            await server.stop()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    return 0
