from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

Header = tuple[str, bytes]


class TopicPartition(NamedTuple):
    """A partition of a topic; hashable, so it keys offset maps."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """One record read from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    timestamp_ms: int

    @property
    def tp(self) -> TopicPartition:
        """The partition this record came from."""
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        """The last value of a header, or None."""
        found: bytes | None = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Where Kafka stored a record once every in-sync replica acknowledged it."""

    topic: str
    partition: int
    offset: int
