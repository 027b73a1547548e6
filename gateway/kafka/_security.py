"""How every Kafka client of this process connects: TLS, SASL and client certificates.

One profile per process (set with `use_security` from the settings when a command
starts), because a process talks to one cluster under one identity; every client made
in `gateway.kafka` picks it up, so no caller has to thread it through.

Failures a user can fix are one line naming the setting: a CA or certificate file that
does not load, an expired client certificate (checked before connecting, the broker
would only drop the connection), and, when a client cannot bootstrap, the actual reason
found by connecting once more the way aiokafka does (an untrusted broker certificate, a
refused SASL login) instead of aiokafka's bare "Unable to bootstrap".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from aiokafka import errors as ak
from aiokafka.conn import create_conn

from gateway.errors import KafkaError, KafkaRequestError, KafkaUnavailableError
from gateway.settings import KafkaSettings
from gateway.tls import client_context

_PROBE_TIMEOUT_MS = 10_000


@dataclass(eq=False, slots=True)
class KafkaSecurity:
    """TLS and SASL options of the Kafka clients; the SSL context is built once, lazily."""

    settings: KafkaSettings = field(default_factory=KafkaSettings)
    _context: ssl.SSLContext | None = None

    @property
    def protocol(self) -> str:
        """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
        return self.settings.security_protocol

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        s = self.settings
        kwargs: dict[str, Any] = {"security_protocol": s.security_protocol}
        if s.security_protocol.endswith("SSL"):
            kwargs["ssl_context"] = self.ssl_context()
        if s.security_protocol.startswith("SASL_"):
            assert s.sasl_password is not None  # checked by KafkaSettings
            kwargs.update(sasl_mechanism=s.sasl_mechanism,
                          sasl_plain_username=s.sasl_username,
                          sasl_plain_password=s.sasl_password.get_secret_value())
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """The verified TLS context (CA, optional client certificate); ConfigError if bad."""
        if self._context is None:
            s = self.settings
            self._context = client_context(
                "kafka", ca_file=s.ssl_ca_file, cert_file=s.ssl_cert_file,
                key_file=s.ssl_key_file, key_password=s.ssl_key_password,
                check_hostname=s.ssl_check_hostname,
            )
        return self._context

    async def connect_problem(self, bootstrap_servers: str) -> str | None:
        """Why a connection to the first bootstrap server fails, in one line; None if not."""
        first = bootstrap_servers.split(",", maxsplit=1)[0].strip()
        host, _, port = first.rpartition(":")
        try:
            conn = await create_conn(host or "127.0.0.1", int(port),
                                     request_timeout_ms=_PROBE_TIMEOUT_MS,
                                     **self.client_kwargs())
        except (ak.KafkaError, OSError, TimeoutError) as exc:
            return self._describe(exc, first)
        conn.close()
        return None

    def _describe(self, exc: BaseException, address: str) -> str | None:
        s = self.settings
        if isinstance(exc, ssl.SSLCertVerificationError):
            return (f"TLS: the broker's certificate is not trusted ({exc.verify_message}); "
                    f"kafka.ssl_ca_file must be the CA that signed it")
        if isinstance(exc, ssl.SSLError):
            return f"TLS handshake with {address} failed: {exc.reason or exc}"
        if isinstance(exc, ak.SaslAuthenticationFailed | ak.AuthenticationFailedError
                      | ak.IllegalSaslStateError):
            return f"SASL {s.sasl_mechanism} login as {s.sasl_username!r} refused: {exc}"
        if isinstance(exc, ak.UnsupportedSaslMechanismError):
            return f"SASL: {exc}"
        text = str(exc)
        if "SSL" in type(exc).__name__ or "handshake" in text.lower():
            return f"TLS handshake with {address} failed: {text}"
        return None


async def explained(exc: KafkaError, bootstrap_servers: str) -> KafkaError:
    """`exc`, or a one-line error saying why TLS or SASL refused the connection."""
    if _current.protocol == "PLAINTEXT" or not isinstance(exc, KafkaUnavailableError):
        return exc
    problem = await _current.connect_problem(bootstrap_servers)
    if problem is None:
        return exc
    # Not retriable: a wrong password or CA does not fix itself.
    return KafkaRequestError(f"cannot connect to Kafka at {bootstrap_servers}: {problem}")


_current = KafkaSecurity()


def use_security(settings: KafkaSettings) -> KafkaSecurity:
    """Make `settings` the connection profile of every Kafka client made from now on."""
    global _current  # noqa: PLW0603 - one profile per process, set where settings are read
    _current = KafkaSecurity(settings)
    return _current


def current_security() -> KafkaSecurity:
    """The connection profile new clients use."""
    return _current
