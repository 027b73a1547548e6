"""What the gateway refuses before it forwards anything to the national endpoint.

A placeholder client secret would be sent to the national platform as a credential, and
plain http to a host that is not this machine would carry tokens and citizens' data in
clear across the network; both are refused with one line saying why. Plain http to
loopback stays allowed (the stub, a local TLS-terminating sidecar).
"""

from __future__ import annotations

__all__ = ["check_national_endpoint"]

import ipaddress
from urllib.parse import urlsplit

from gateway.errors import ConfigError
from gateway.settings import DEFAULT_CLIENT_SECRET, NdxpSettings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_national_endpoint(settings: NdxpSettings) -> None:
    """ConfigError (one line) if the gateway must not forward with these settings."""
    if settings.client_secret.get_secret_value() == DEFAULT_CLIENT_SECRET:
        raise ConfigError(
            f"ndxp.client_secret is the placeholder {DEFAULT_CLIENT_SECRET!r}: set the "
            f"secret the national platform issued (LGSP_NDXP__CLIENT_SECRET)"
        )
    parts = urlsplit(settings.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ndxp.url {settings.url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname) \
            and not settings.allow_plain_http:
        raise ConfigError(
            f"ndxp.url {settings.url} is plain http to {parts.hostname}, which is not this "
            f"machine: use https (ndxp.ssl_ca_file for a private CA)"
        )
