"""Waiting for the router's verdict on re-submitted transactions.

The router writes one ledger record per attempt chain, carrying the `replay_id` of the
submission that started it. Tailing the ledger from where the selection scan ended
(nothing of this run can be before it), keyed by transaction id so only our
transactions are decoded, tells delivered from failed again.
"""

from __future__ import annotations

__all__ = ["OutcomeTally", "watch_outcomes"]

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.contracts import Codec
from gateway.errors import ContractError
from gateway.kafka import TopicPartition, TopicReader
from gateway.logs import get_logger
from gateway.replay.scan import closing_records
from gateway.router.outcomes import LEDGER_SCHEMA

_log = get_logger(__name__)


@dataclass(slots=True)
class OutcomeTally:
    """Outcomes seen so far for one replay's transactions."""

    delivered: set[str] = field(default_factory=set)
    failed_again: set[str] = field(default_factory=set)

    def pending(self, ids: Iterable[str]) -> list[str]:
        """The ids with no outcome yet."""
        return [tx for tx in ids if tx not in self.delivered and tx not in self.failed_again]


async def watch_outcomes(
    bootstrap_servers: str,
    *,
    ledger_topic: str,
    codec: Codec,
    replay_id: str,
    ids: Iterable[str],
    start: dict[TopicPartition, int],
    timeout_s: float,
    tally: OutcomeTally,
    on_change: Callable[[OutcomeTally], None] = lambda _t: None,
    poll_s: float = 0.25,
) -> None:
    """Fill `tally` until every id has an outcome of `replay_id` or `timeout_s` passes."""
    keys = {tx.encode(): tx for tx in ids}
    positions = dict(start)
    deadline = time.monotonic() + timeout_s
    ledger_schema = codec.registry.latest(LEDGER_SCHEMA)
    reader = TopicReader(bootstrap_servers, client_id="lgsp-replay-watch")
    await reader.start()
    try:
        while len(tally.delivered) + len(tally.failed_again) < len(keys):
            changed = False
            async with closing_records(reader.read([ledger_topic], start=positions)) as records:
                async for rec in records:
                    positions[rec.tp] = rec.offset + 1
                    tx = keys.get(rec.key) if rec.key is not None else None
                    if tx is None or rec.value is None:
                        continue
                    try:
                        datum = codec.decode(rec.value, ledger_schema)
                    except ContractError as exc:
                        _log.warning("undecodable ledger record skipped", topic=rec.topic,
                                     partition=rec.partition, offset=rec.offset,
                                     error=str(exc))
                        continue
                    if datum.get("replay_id") != replay_id:
                        continue
                    changed = True
                    if datum.get("outcome") == "DELIVERED":
                        tally.delivered.add(tx)
                        tally.failed_again.discard(tx)  # a later chain delivered it
                    elif tx not in tally.delivered:
                        tally.failed_again.add(tx)
            if changed:
                on_change(tally)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if len(tally.delivered) + len(tally.failed_again) < len(keys):
                await asyncio.sleep(min(poll_s, remaining))
    finally:
        await reader.stop()
