"""Client-side TLS contexts for Kafka and the national endpoint, built one way.

Verification is always on (the CA file, or the system's CAs); an optional client
certificate gives mutual TLS. Problems a user can fix are one `ConfigError` line naming
the setting: a file that does not load, or a client certificate that has expired or is
not valid yet (checked here, because the server would only drop the connection).
"""

from __future__ import annotations

__all__ = ["client_context"]

import ssl
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from pydantic import SecretStr

from gateway.errors import ConfigError


def client_context(
    section: str,
    *,
    ca_file: Path | None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    key_password: SecretStr | None = None,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A verifying client context; `section` (e.g. "kafka") prefixes setting names in errors."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{section}.ssl_ca_file: cannot load {ca_file} as a PEM CA "
                          f"bundle: {_reason(exc)}") from exc
    context.check_hostname = check_hostname
    if cert_file is not None and key_file is not None:
        _check_validity(section, cert_file)
        password = key_password.get_secret_value() if key_password else None
        try:
            context.load_cert_chain(str(cert_file), str(key_file), password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{section}.ssl_cert_file/ssl_key_file: cannot load the client "
                              f"certificate {cert_file}: {_reason(exc)}") from exc
    return context


def _check_validity(section: str, cert_file: Path) -> None:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{section}.ssl_cert_file: cannot read {cert_file} as a PEM "
                          f"certificate: {_reason(exc)}") from exc
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        raise ConfigError(f"{section}.ssl_cert_file: the client certificate {cert_file} "
                          f"expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if cert.not_valid_before_utc > now:
        raise ConfigError(f"{section}.ssl_cert_file: the client certificate {cert_file} is "
                          f"not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
