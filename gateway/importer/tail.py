"""What an interrupted import already published beyond its checkpoint: read back, not guessed.

A crash (or Ctrl-C while Kafka was slow) can leave records on the topic that the
checkpoint does not cover yet: sent, maybe acknowledged, but not yet checkpointed. The
router answers a re-published copy only from its bounded memory of recent deliveries
(gateway/router/recent.py), which a router restart empties; a copy it does not recognise
is sent to the national side again. So a resume reads the topic from the checkpoint's
offsets to its end and collects the transaction ids there; records with those ids are
skipped, never published twice.
"""

from __future__ import annotations

__all__ = ["published_since"]

from gateway.headers import H_TRANSACTION
from gateway.kafka import TopicPartition, TopicReader


async def published_since(reader: TopicReader, topic: str, offsets: dict[int, int]) -> set[str]:
    """Transaction ids of the records on `topic` at or after `offsets` (per partition)."""
    start = {TopicPartition(topic, p): o for p, o in offsets.items()}
    # A partition the checkpoint does not name (added to the topic since) is read whole.
    for tp in await reader.partitions(topic):
        start.setdefault(tp, 0)
    found: set[str] = set()
    async for rec in reader.read([topic], start=start):
        tx = rec.header(H_TRANSACTION)
        if tx is not None:
            found.add(tx.decode(errors="replace"))
    return found
