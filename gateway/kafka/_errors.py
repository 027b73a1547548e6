"""Translation of aiokafka's errors into the gateway's hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import errors as ak

from gateway.errors import KafkaError, KafkaRequestError, KafkaUnavailableError

_UNAVAILABLE = (
    ak.KafkaConnectionError,
    ak.KafkaTimeoutError,
    ak.NodeNotReadyError,
    ak.RequestTimedOutError,
    ak.NotLeaderForPartitionError,
    ak.LeaderNotAvailableError,
    ak.CoordinatorNotAvailableError,
    ak.NotCoordinatorError,
    ak.CoordinatorLoadInProgressError,
    ak.UnknownTopicOrPartitionError,
    ak.NotEnoughReplicasError,
    ak.NotEnoughReplicasAfterAppendError,
)


def translate(exc: BaseException, doing: str) -> KafkaError:
    """The gateway error for an aiokafka (or connection) failure while `doing` something."""
    name, text = type(exc).__name__, str(exc)
    # aiokafka's messages often start with their own class name already.
    detail = text if text.startswith(name) else (f"{name}: {text}" if text else name)
    message = f"Kafka {doing} failed: {detail}"
    if isinstance(exc, (*_UNAVAILABLE, OSError, TimeoutError)) or getattr(exc, "retriable", False):
        return KafkaUnavailableError(message)
    return KafkaRequestError(message)


@contextmanager
def translated(doing: str) -> Iterator[None]:
    """Re-raise aiokafka and socket errors raised inside as gateway KafkaErrors."""
    try:
        yield
    except KafkaError:
        raise
    except (ak.KafkaError, OSError, TimeoutError) as exc:
        raise translate(exc, doing) from exc
