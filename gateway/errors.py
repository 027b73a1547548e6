"""The gateway's exception hierarchy: one root, each class says whether a retry can help.

```
GatewayError                      retriable?
├── ConfigError                   no   bad settings or connector config (field + reason)
├── ContractError                 no   a record does not fit the Avro contracts
│   ├── MalformedRecordError      no   bytes are not single-object encoded Avro
│   ├── UnknownSchemaError        no   writer fingerprint not in the registry
│   ├── SchemaMismatchError       no   a datum does not fit its schema
│   └── RecordTooLargeError       no   an encoded record exceeds Kafka's maximum size
├── SchemaCompatibilityError      no   a new schema version breaks older data
├── KafkaError                    per subclass
│   ├── KafkaUnavailableError     yes  broker unreachable, timed out, leader moving
│   └── KafkaRequestError         no   the broker refused the request for good
├── LocalBrokerError              no   the project's own broker could not be managed
├── TooManyRequestsError          yes  a bounded kind of request is at its limit (429)
├── ForwardError                  per subclass
│   ├── TransientForwardError     yes  timeout, connection error, 5xx
│   ├── CircuitOpenError          yes  the service's breaker is open
│   ├── RejectedError             no   the national service refused the data (4xx)
│   ├── NoRouteError              no   no routing rule for this message type and source
│   └── HoldExpiredError          no   held longer than router.hold_max_s for a service
├── ConnectorError                no   connector runtime problems
│   ├── SourceUnavailableError    yes  a provincial system did not answer this time
│   ├── UnknownPluginError        no
│   ├── ConnectorNotFoundError    no
│   ├── ConnectorExistsError      no
│   └── WrongRoleError            no   this gateway does not run connectors (409)
├── SecretsError                  no   a connector secret cannot be sealed, opened or resolved
│   ├── SecretsKeyError           no   the secrets key is missing or does not open the value
│   └── SecretReferenceError      no   a ${env:..} / ${file:..} reference does not resolve
├── ReplayError                   no   a malformed replay request
│   ├── UnknownTransactionError   no   no such transaction (404)
│   ├── EmptySelectionError       no   nothing matches the replay filter (422)
│   └── ReplayBusyError           no   a replay is already running here (409)
├── AuthError                     no   authentication and the local token store
│   ├── UnauthenticatedError      no   no or bad credentials (401)
│   ├── ForbiddenError            no   the caller's roles do not allow it (403)
│   └── UnknownTokenError         no   no local token of that name
├── AuditError                    no   the audit trail cannot be written or is broken
└── ImportFileError               no   an export file cannot be imported or resumed as asked
```

User-facing code prints `str(error)`: every message is one line that names what was
wrong, so the CLI never needs a traceback to explain itself.
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "AuthError",
    "CircuitOpenError",
    "ConfigError",
    "ConnectorError",
    "ConnectorExistsError",
    "ConnectorNotFoundError",
    "ContractError",
    "EmptySelectionError",
    "FieldProblem",
    "ForbiddenError",
    "ForwardError",
    "GatewayError",
    "HoldExpiredError",
    "ImportFileError",
    "IndexStoreError",
    "IndexUrlError",
    "KafkaError",
    "KafkaRequestError",
    "KafkaUnavailableError",
    "LocalBrokerError",
    "MalformedRecordError",
    "NoRouteError",
    "RecordTooLargeError",
    "RejectedError",
    "ReplayBusyError",
    "ReplayError",
    "SchemaCompatibilityError",
    "SchemaMismatchError",
    "SecretReferenceError",
    "SecretsError",
    "SecretsKeyError",
    "SourceUnavailableError",
    "TooManyRequestsError",
    "TransientForwardError",
    "UnauthenticatedError",
    "UnknownPluginError",
    "UnknownSchemaError",
    "UnknownTokenError",
    "UnknownTransactionError",
    "WrongRoleError",
]

from dataclasses import dataclass


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    retriable: bool = False

    def __init__(self, message: str) -> None:
        # One line, always: multi-line causes are folded so logs and the CLI stay tidy.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        """The one-line description of what went wrong."""
        return str(self)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field of a configuration: where it is and why it is refused."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ConfigError(GatewayError):
    """Settings or a connector config were refused; `problems` names each bad field."""

    def __init__(self, message: str, problems: tuple[FieldProblem, ...] = ()) -> None:
        detail = "; ".join(str(p) for p in problems)
        super().__init__(f"{message}: {detail}" if detail else message)
        self.problems = problems


class ContractError(GatewayError):
    """A record does not fit the Avro contracts."""


class MalformedRecordError(ContractError):
    """The bytes are not a single-object encoded Avro datum."""


class UnknownSchemaError(ContractError):
    """The writer schema's fingerprint is not known to the registry."""


class SchemaMismatchError(ContractError):
    """A datum does not fit the schema it is written or read with."""


class RecordTooLargeError(ContractError):
    """An encoded record is larger than Kafka accepts; sending it again cannot help."""


class SchemaCompatibilityError(GatewayError):
    """A schema version cannot read data written with an earlier version."""


class KafkaError(GatewayError):
    """A Kafka operation failed; `retriable` says whether trying again can help."""


class KafkaUnavailableError(KafkaError):
    """The broker could not be reached or did not answer in time."""

    retriable = True


class KafkaRequestError(KafkaError):
    """The broker refused a request in a way that retrying will not fix."""


class LocalBrokerError(GatewayError):
    """The project's own local Kafka broker could not be fetched, started or stopped."""


class TooManyRequestsError(GatewayError):
    """Too many requests of a bounded kind at once; `retry_after_s` says when to come back."""

    retriable = True

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ForwardError(GatewayError):
    """Forwarding a transaction to a national service failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientForwardError(ForwardError):
    """Timeout, connection failure or 5xx: the same request may succeed later."""

    retriable = True


class CircuitOpenError(ForwardError):
    """The circuit breaker of the target service is open; no request was sent."""

    retriable = True


class RejectedError(ForwardError):
    """The national service refused the transaction (4xx); sending it again will not help."""


class NoRouteError(ForwardError):
    """No routing rule maps this message type and source to a national service."""


class HoldExpiredError(ForwardError):
    """Held for its national service longer than the hold cap: dead-lettered, not lost."""


class ConnectorError(GatewayError):
    """A connector could not be created, configured or run."""


class SourceUnavailableError(ConnectorError):
    """A provincial system did not answer usefully this time; the next poll may succeed."""

    retriable = True


class UnknownPluginError(ConnectorError):
    """No installed connector plugin has this name."""


class ConnectorNotFoundError(ConnectorError):
    """No connector is registered under this name."""


class ConnectorExistsError(ConnectorError):
    """A connector with this name is already registered."""


class WrongRoleError(ConnectorError):
    """This gateway process does not run connectors (its roles exclude them)."""


class SecretsError(GatewayError):
    """A connector secret could not be sealed, opened or resolved."""


class SecretsKeyError(SecretsError):
    """The key that seals secrets at rest is missing, malformed or not the one used."""


class SecretReferenceError(SecretsError):
    """A config provider reference (`${env:NAME}`, `${file:/path:key}`) does not resolve."""


class ReplayError(GatewayError):
    """A replay selection is malformed or selects nothing."""


class UnknownTransactionError(ReplayError):
    """A transaction id names nothing the gateway has seen (or, for replay, no failure)."""


class EmptySelectionError(ReplayError):
    """No dead-lettered transaction matches the replay filter."""


class ReplayBusyError(ReplayError):
    """This gateway is already running a replay; one at a time keeps the rate honest."""


class IndexStoreError(GatewayError):
    """The transaction index cannot be opened, migrated, read or written."""

    retriable = True


class IndexUrlError(ConfigError):
    """`index.url` (LGSP_INDEX__URL) names no store the index knows."""


# --- authentication and audit (issue 14) ---------------------------------------------------

class AuthError(GatewayError):
    """Authentication, authorisation or the local token store."""


class UnauthenticatedError(AuthError):
    """No credentials, or credentials that prove nothing; never says which part was wrong."""


class ForbiddenError(AuthError):
    """The caller is known but none of its roles allows the operation."""


class UnknownTokenError(AuthError):
    """No local API token has this name."""


class AuditError(GatewayError):
    """The audit trail could not be written, read or verified."""


class ImportFileError(GatewayError):
    """`lgsp import`: a file cannot be read, or its checkpoint does not fit this run."""
