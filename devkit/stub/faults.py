"""Fault injection: make the stub slow, flaky or down so failure paths are tested for real.

- `error_rate`: that share of transaction requests answers 503 before anything is
  recorded, so a later retry is a first delivery, not a duplicate.
- `latency_ms`: added before each transaction request is answered.
- `down`: every transaction request answers 503 at once (and /readyz says so).
- `down_services`: the same, for the listed national services only (an outage of one).
- `reject_rate`: that share of transaction requests (of a batch: of its items) is refused
  as DATA_INCORRECT (422) before anything is recorded: transactions that fail on their
  own merits, for a replay.
"""

from __future__ import annotations

__all__ = ["Faults", "FaultsUpdate"]

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FaultsUpdate(BaseModel):
    """Body of `PUT /ndxp/v1/faults`: every field optional, absent means unchanged."""

    model_config = ConfigDict(extra="forbid", strict=True)

    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    reject_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    latency_ms: int | None = Field(default=None, ge=0, le=600_000)
    down: bool | None = None
    down_services: list[str] | None = Field(default=None, max_length=100)


class Faults:
    """The faults currently injected; all off at start."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.error_rate = 0.0
        self.reject_rate = 0.0
        self.latency_ms = 0
        self.down = False
        self.down_services: frozenset[str] = frozenset()
        # Fault injection needs no cryptographic randomness, only a fair coin.
        self._rng = rng or random.Random()  # noqa: S311 - not a security use

    def apply(self, update: FaultsUpdate) -> None:
        """Change the faults named in the update, keep the others."""
        if update.error_rate is not None:
            self.error_rate = update.error_rate
        if update.reject_rate is not None:
            self.reject_rate = update.reject_rate
        if update.latency_ms is not None:
            self.latency_ms = update.latency_ms
        if update.down is not None:
            self.down = update.down
        if update.down_services is not None:
            self.down_services = frozenset(update.down_services)

    def is_down(self, service: str) -> bool:
        """Whether requests for this service answer 503 (all down, or this one)."""
        return self.down or service in self.down_services

    def injects_error(self) -> bool:
        """Whether this request is one of the `error_rate` share that fails."""
        return self.error_rate > 0.0 and self._rng.random() < self.error_rate

    def injects_refusal(self) -> bool:
        """Whether this request is one of the `reject_rate` share refused for its data."""
        return self.reject_rate > 0.0 and self._rng.random() < self.reject_rate

    def as_json(self) -> dict[str, Any]:
        """The faults as `GET /ndxp/v1/faults` reports them."""
        found: dict[str, Any] = {"error_rate": self.error_rate, "latency_ms": self.latency_ms,
                                 "down": self.down, "down_services": sorted(self.down_services)}
        if self.reject_rate:
            found["reject_rate"] = self.reject_rate
        return found
