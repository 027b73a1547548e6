"""What one NDXP stub process is configured with."""

from __future__ import annotations

__all__ = ["IpNetwork", "StubConfig"]

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from gateway.ndxp.catalogue import BUILT_IN_CATALOGUE, Catalogue

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
"""A client network on the allow-list."""


@dataclass(frozen=True, slots=True)
class StubConfig:
    """Settings of one stub server.

    `client_secret` is what every client id must present for a token (like the single
    application a province registers on the national API gateway). An empty
    `allowed_networks` allows every client address. `fsync` makes each group commit of
    the idempotency journal durable against power loss, not only against a crash.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8090
    client_secret: str = "change-me"  # noqa: S105 - the documented default of NdxpSettings
    token_ttl_s: int = 3600
    allowed_networks: tuple[IpNetwork, ...] = ()
    fsync: bool = True
    max_batch: int = 500
    shutdown_timeout_s: float = 10.0
    tls_cert: Path | None = None
    """With `tls_key`: serve https with this PEM certificate (`lgsp stub --tls`)."""
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    """When set, clients must present a certificate signed by this CA (mTLS)."""
    catalogue: Catalogue = BUILT_IN_CATALOGUE
    """The services it accepts: the built-in ones plus those settings add."""

    def __repr__(self) -> str:
        # Never let the secret reach a log line or a traceback through repr().
        return (
            f"StubConfig(data_dir={self.data_dir!s}, host={self.host}, port={self.port}, "
            f"fsync={self.fsync}, tls={self.tls_cert is not None}, "
            f"allowed_networks={[str(n) for n in self.allowed_networks]})"
        )
