"""Fault injection: make the stub slow, flaky or down so failure paths are tested for real.

- `error_rate`: that share of transaction requests answers 503 before anything is
  recorded, so a later retry is a first delivery, not a duplicate.
- `latency_ms`: added before each transaction request is answered.
- `down`: every transaction request answers 503 at once (and /readyz says so).
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
    latency_ms: int | None = Field(default=None, ge=0, le=600_000)
    down: bool | None = None


class Faults:
    """The faults currently injected; all off at start."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.error_rate = 0.0
        self.latency_ms = 0
        self.down = False
        # Fault injection needs no cryptographic randomness, only a fair coin.
        self._rng = rng or random.Random()  # noqa: S311 - not a security use

    def apply(self, update: FaultsUpdate) -> None:
        """Change the faults named in the update, keep the others."""
        if update.error_rate is not None:
            self.error_rate = update.error_rate
        if update.latency_ms is not None:
            self.latency_ms = update.latency_ms
        if update.down is not None:
            self.down = update.down

    def injects_error(self) -> bool:
        """Whether this request is one of the `error_rate` share that fails."""
        return self.error_rate > 0.0 and self._rng.random() < self.error_rate

    def as_json(self) -> dict[str, Any]:
        """The faults as `GET /ndxp/v1/faults` reports them."""
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms, "down": self.down}
