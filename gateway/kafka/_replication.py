"""How replicated the topics the gateway creates are: decided by the cluster's size.

With three or more brokers a topic gets three replicas and needs two in sync to accept a
write (with the producers' acks=all, an acknowledged record is on two brokers, and one
broker may be down without stopping anything). With fewer, the broker's own default
stands, so a single development broker keeps working. `kafka.replication_factor` and
`kafka.min_insync_replicas` override the choice; a topic spec that names its own
replication or min.insync.replicas keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ConfigError

_REPLICATED_FROM = 3
_MIN_INSYNC = "min.insync.replicas"


@dataclass(frozen=True, slots=True)
class Replication:
    """A replication factor (-1: the broker's default) and min.insync.replicas (None: same)."""

    factor: int
    min_insync: int | None

    def topic_config(self, config: dict[str, str]) -> dict[str, str]:
        """A topic's configs with min.insync.replicas added unless it names one."""
        if self.min_insync is None or _MIN_INSYNC in config:
            return dict(config)
        return {**config, _MIN_INSYNC: str(self.min_insync)}


def replication_for(brokers: int, *, factor: int | None = None,
                    min_insync: int | None = None) -> Replication:
    """The replication of new topics on a cluster of `brokers` live brokers."""
    if factor is not None and factor > brokers:
        raise ConfigError(
            f"kafka.replication_factor (LGSP_KAFKA__REPLICATION_FACTOR) is {factor} but the "
            f"cluster has {brokers} live broker{'s' if brokers != 1 else ''}; lower it or "
            "bring the brokers up"
        )
    if factor is None:
        factor = _REPLICATED_FROM if brokers >= _REPLICATED_FROM else -1
    if min_insync is None and factor >= _REPLICATED_FROM:
        # A majority: one replica of three may be lost without refusing writes.
        min_insync = factor // 2 + 1
    return Replication(factor, min_insync)
