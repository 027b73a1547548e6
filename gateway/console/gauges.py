"""What this gateway process measures of its pipeline, read from its own metrics.

The router's gauges (held transactions, circuit state, consumer lag, in flight) live in
the process that runs the router; a gateway without the router role has none, and the
console says so instead of showing zeros.
"""

from __future__ import annotations

__all__ = ["PipelineGauges", "read_gauges"]

from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from gateway.metrics import (
    CIRCUIT_STATE,
    CONSUMER_LAG,
    GATEWAY,
    HELD,
    HELD_OLDEST_AGE,
    IN_FLIGHT,
    KAFKA_READY,
)


@dataclass(frozen=True, slots=True)
class PipelineGauges:
    """The router's state in this process, per national service and in total."""

    measured: bool
    """False when this process runs no router (then the numbers below are empty)."""
    kafka_ready: bool
    held: dict[str, int] = field(default_factory=dict)
    held_oldest_s: dict[str, float] = field(default_factory=dict)
    circuit_open: dict[str, bool] = field(default_factory=dict)
    lag_by_topic: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0

    @property
    def lag(self) -> int:
        """Records behind, over every partition the router consumes."""
        return sum(self.lag_by_topic.values())


def _name(metric: object) -> str:
    # prometheus_client keeps the exposed name on the metric object.
    return str(getattr(metric, "_name", ""))


def read_gauges(*, router_here: bool, registry: CollectorRegistry = GATEWAY) -> PipelineGauges:
    """The gauges now (cheap: an in-memory read of the registry)."""
    values: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in registry.collect():
        for sample in family.samples:
            values[sample.name].append((sample.labels, sample.value))
    kafka = any(v >= 1 for _, v in values[_name(KAFKA_READY)])
    if not router_here:
        return PipelineGauges(measured=False, kafka_ready=kafka)
    lag: dict[str, int] = defaultdict(int)
    for labels, value in values[_name(CONSUMER_LAG)]:
        lag[labels.get("topic", "")] += int(value)
    return PipelineGauges(
        measured=True, kafka_ready=kafka,
        held={labels["service"]: int(v) for labels, v in values[_name(HELD)]
              if "service" in labels},
        held_oldest_s={labels["service"]: v for labels, v in values[_name(HELD_OLDEST_AGE)]
                       if "service" in labels},
        circuit_open={labels["service"]: v >= 2 for labels, v in values[_name(CIRCUIT_STATE)]
                      if "service" in labels},
        lag_by_topic=dict(lag),
        in_flight=int(sum(v for _, v in values[_name(IN_FLIGHT)])),
    )
