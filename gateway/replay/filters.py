"""What a replay selects: a filter over the dead-lettered transactions, validated once.

The CLI and the admin API both build a `ReplayFilter` with `ReplayFilter.create`, so a
malformed value gets the same one-line refusal on either path.
"""

from __future__ import annotations

__all__ = [
    "MAX_RATE",
    "ReplayFilter",
    "check_connector",
    "check_error_class",
    "check_service",
    "check_transaction_id",
    "parse_rate",
]

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.connect import CONNECTOR_NAME_PATTERN
from gateway.errors import ConfigError, FieldProblem
from gateway.replay.deadletters import DeadLetter

MAX_RATE = 10_000.0
"""Re-submissions per second at most: above this the router, not the replay, is the limit."""

_CONNECTOR = re.compile(CONNECTOR_NAME_PATTERN)
_SERVICE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_ERROR_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# NDXP request ids are at most 40 characters; ours are UUIDs.
_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,40}$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:/\s*s)?$")


def check_connector(value: str) -> str:
    """A connector name, or ValueError saying what a name looks like."""
    if not _CONNECTOR.fullmatch(value):
        raise ValueError(f"{value!r} is not a connector name (1-100 of A-Z a-z 0-9 . _ -)")
    return value


def check_service(value: str) -> str:
    """A national service code such as QG.DVCQG.DONGBOHOSO."""
    if not _SERVICE.fullmatch(value):
        raise ValueError(f"{value!r} is not a service code (letters, digits, . _ -), "
                         "e.g. QG.DVCQG.DONGBOHOSO")
    return value


def check_error_class(value: str) -> str:
    """An error class, short (RejectedError) or full (gateway.errors.RejectedError)."""
    if not _ERROR_CLASS.fullmatch(value):
        raise ValueError(f"{value!r} is not an error class name, e.g. TransientForwardError "
                         "or gateway.errors.TransientForwardError")
    return value


def check_transaction_id(value: str) -> str:
    """A transaction id: at most 40 of A-Z a-z 0-9 . _ : -."""
    if not _TRANSACTION_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a transaction id (at most 40 of A-Z a-z 0-9 . _ : -)")
    return value


def parse_rate(text: str) -> float:
    """`50`, `50/s` or `2.5/s`: re-submissions per second, above 0 and at most MAX_RATE."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a rate: use N or N/s, e.g. 50/s")
    rate = float(match.group(1))
    if not math.isfinite(rate) or rate <= 0 or rate > MAX_RATE:
        raise ValueError(f"rate {text} must be above 0 and at most {MAX_RATE:g}/s")
    return rate


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which dead-lettered transactions a replay is about; empty fields select any.

    Applied to each transaction's latest dead-letter record: its failure time
    (`failed_from` inclusive, `failed_to` exclusive), connector, service and error class
    (short or full name, case-insensitive), or its id.
    """

    failed_from: datetime | None = None
    failed_to: datetime | None = None
    connectors: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    error_classes: frozenset[str] = frozenset()
    transaction_ids: frozenset[str] = frozenset()
    _error_keys: frozenset[str] = field(default=frozenset(), init=False, repr=False,
                                        compare=False)

    @classmethod
    def create(
        cls,
        *,
        failed_from: datetime | None = None,
        failed_to: datetime | None = None,
        connectors: Iterable[str] = (),
        services: Iterable[str] = (),
        error_classes: Iterable[str] = (),
        transaction_ids: Iterable[str] = (),
    ) -> ReplayFilter:
        """A validated filter; ConfigError naming every malformed value."""
        problems: list[FieldProblem] = []

        def valid(name: str, values: Iterable[str], check: Callable[[str], str]
                  ) -> frozenset[str]:
            kept: set[str] = set()
            for value in values:
                try:
                    kept.add(check(value))
                except ValueError as exc:
                    problems.append(FieldProblem(name, str(exc)))
            return frozenset(kept)

        built = cls(
            failed_from=failed_from,
            failed_to=failed_to,
            connectors=valid("connector", connectors, check_connector),
            services=valid("service", services, check_service),
            error_classes=valid("error_class", error_classes, check_error_class),
            transaction_ids=valid("id", transaction_ids, check_transaction_id),
        )
        if failed_from is not None and failed_to is not None and failed_from >= failed_to:
            problems.append(FieldProblem(
                "from", f"{failed_from.isoformat()} is not before --to {failed_to.isoformat()}"))
        if problems:
            raise ConfigError("malformed replay filter", tuple(problems))
        return built

    def __post_init__(self) -> None:
        # Lower-cased once: `matches` runs for every dead-letter record of a scan.
        object.__setattr__(self, "_error_keys",
                           frozenset(e.lower() for e in self.error_classes))

    def matches(self, dead: DeadLetter) -> bool:
        """Whether a transaction whose latest dead-letter record is `dead` is selected."""
        if self.transaction_ids and dead.transaction_id not in self.transaction_ids:
            return False
        if self.connectors and dead.connector not in self.connectors:
            return False
        if self.services and dead.service not in self.services:
            return False
        if self._error_keys and dead.error_class.lower() not in self._error_keys \
                and dead.error_short.lower() not in self._error_keys:
            return False
        failed_ms = dead.timestamp_ms
        if self.failed_from is not None and failed_ms < _ms(self.failed_from):
            return False
        return not (self.failed_to is not None and failed_ms >= _ms(self.failed_to))

    def describe(self) -> str:
        """One line for people: `connector=one-stop error=TransientForwardError`."""
        parts: list[str] = []
        if self.failed_from is not None:
            parts.append(f"from={self.failed_from.isoformat(timespec='seconds')}")
        if self.failed_to is not None:
            parts.append(f"to={self.failed_to.isoformat(timespec='seconds')}")
        for name, values in (("connector", self.connectors), ("service", self.services),
                             ("error", self.error_classes)):
            if values:
                parts.append(f"{name}={','.join(sorted(values))}")
        if self.transaction_ids:
            parts.append(f"ids={len(self.transaction_ids)}")
        return " ".join(parts) or "all dead-lettered transactions"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
