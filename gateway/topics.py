"""Every Kafka topic name the gateway uses, derived from one prefix."""

from __future__ import annotations

__all__ = ["Topics"]

import re
from dataclasses import dataclass

from gateway.kafka import TopicSpec

_DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under one prefix, so several gateways (or tests) can share a broker."""

    prefix: str = "lgsp."

    def source(self, connector: str) -> str:
        """The topic a connector publishes its transactions to."""
        return f"{self.prefix}src.{connector}"

    @property
    def source_pattern(self) -> str:
        """Regex matching every connector topic; the router subscribes to it."""
        return "^" + re.escape(f"{self.prefix}src.") + r"[A-Za-z0-9._-]+$"

    @property
    def router_pattern(self) -> str:
        """Regex matching every topic the router consumes: connector, hold and replay topics."""
        src = re.escape(f"{self.prefix}src.") + r"[A-Za-z0-9._-]+"
        hold = re.escape(self.hold_prefix) + r"[A-Za-z0-9._-]+"
        return f"^(?:{src}|{hold}|{re.escape(self.replay)})$"

    @property
    def hold_prefix(self) -> str:
        """Prefix of the hold topics, one per national service."""
        return f"{self.prefix}hold."

    def hold(self, service: str) -> str:
        """Transactions held while a national service is unavailable, in arrival order."""
        return f"{self.hold_prefix}{service}"

    def held_service(self, topic: str) -> str | None:
        """The national service a hold topic belongs to; None for any other topic."""
        if topic.startswith(self.hold_prefix):
            return topic[len(self.hold_prefix):]
        return None

    def hold_spec(self, service: str) -> TopicSpec:
        """How the router creates a service's hold topic: it outlives the longest hold."""
        return TopicSpec(self.hold(service), 3, config={"retention.ms": str(14 * _DAY_MS)})

    @property
    def replay(self) -> str:
        """Dead-lettered transactions re-submitted by provincial IT, read by the router."""
        return f"{self.prefix}replay"

    @property
    def dead_letter(self) -> str:
        """Transactions that could not be delivered, with the reason in headers."""
        return f"{self.prefix}deadletter"

    @property
    def ledger(self) -> str:
        """One outcome record per attempt chain of a transaction."""
        return f"{self.prefix}ledger"

    @property
    def connector_configs(self) -> str:
        """Compacted: connector name -> config (a tombstone deletes)."""
        return f"{self.prefix}connect.configs"

    @property
    def connector_offsets(self) -> str:
        """Compacted: connector name -> source position (cursor, file, offset)."""
        return f"{self.prefix}connect.offsets"

    @property
    def replay_audit(self) -> str:
        """Who replayed what, when, with which filter and result."""
        return f"{self.prefix}replay.audit"

    @property
    def audit(self) -> str:
        """The signed, hash-chained trail of every change through the API or CLI."""
        return f"{self.prefix}audit"

    @property
    def compacted(self) -> tuple[str, ...]:
        """Topics that hold the latest value per key and must be log-compacted."""
        return (self.connector_configs, self.connector_offsets)

    @property
    def system(self) -> tuple[str, ...]:
        """Every topic the gateway creates at start-up."""
        return (
            self.replay,
            self.dead_letter,
            self.ledger,
            self.connector_configs,
            self.connector_offsets,
            self.replay_audit,
            self.audit,
        )

    def is_reserved(self, topic: str) -> bool:
        """Whether a topic is (or may become) one of the gateway's own, not a connector's.

        Beyond today's system topics, whole families are kept: `connect.*` (runtime
        state), `hold.*` (held transactions), `replay*`, `ledger*`, `deadletter*` and
        `audit*` (the audit trail), so a connector can never write into the gateway's
        own records.
        """
        if topic in self.system:
            return True
        families = ("connect.", "replay", "ledger", "deadletter", "audit", "hold.")
        return any(topic.startswith(self.prefix + family) for family in families)

    def system_specs(self) -> list[TopicSpec]:
        """How the gateway creates its own topics when the platform has not.

        Retention is chosen on purpose (deploy/k8s/base/kafka/topics.yaml carries the same
        choices for production): dead letters outlive a replay days or weeks later, the
        ledger answers traces for months, and the audit trail of replays is never deleted.
        """
        return [
            TopicSpec(self.replay, 3, config={"retention.ms": str(14 * _DAY_MS)}),
            TopicSpec(self.dead_letter, 3, config={"retention.ms": str(90 * _DAY_MS)}),
            TopicSpec(self.ledger, 3, config={"retention.ms": str(180 * _DAY_MS)}),
            TopicSpec(self.replay_audit, 1, config={"retention.ms": "-1"}),
            # One partition: each writer's chain is read back in the order it was written.
            TopicSpec(self.audit, 1, config={"retention.ms": "-1", "retention.bytes": "-1"}),
            TopicSpec.compacted(self.connector_configs),
            TopicSpec.compacted(self.connector_offsets),
        ]
