"""Replay selection from the index instead of three whole-topic scans.

The same decision as gateway/replay/selection.py, taken from the index's rows: each
transaction's latest dead-letter record, if it matches the filter; skipped when the
transaction is delivered or its latest failure was re-submitted already. The index is a
projection that may lag, and a lagging index could miss a delivery or a re-submission:
so the index is used only once it has read the dead-letter, replay and ledger topics
up to the ends they had when the selection began. If it does not get there within
`index.catch_up_timeout_s`, the topics are scanned as before. Either way nothing
delivered or already re-submitted is selected.
"""

from __future__ import annotations

__all__ = ["IndexSelector"]

import asyncio
import time

from gateway.contracts import Codec
from gateway.errors import EmptySelectionError, UnknownTransactionError
from gateway.index.store import IndexStore
from gateway.kafka import TopicPartition, TopicReader
from gateway.logs import get_logger
from gateway.replay.filters import ReplayFilter
from gateway.replay.selection import Selection, select
from gateway.topics import Topics
from gateway.trace import TraceStatus

_log = get_logger(__name__)
_POLL_S = 0.2


class IndexSelector:
    """`select(filter)` for `Replayer`: the index when it is caught up, else a scan."""

    def __init__(self, store: IndexStore, bootstrap_servers: str, topics: Topics,
                 codec: Codec, *, catch_up_timeout_s: float) -> None:
        self._store = store
        self._bootstrap = bootstrap_servers
        self._topics = topics
        self._codec = codec
        self._timeout_s = catch_up_timeout_s
        self.last_source = ""
        """`index` or `scan`: where the last selection came from (logged, tested)."""

    async def select(self, flt: ReplayFilter) -> Selection:
        """Decide; UnknownTransactionError or EmptySelectionError as the scan would."""
        t = self._topics
        reader = TopicReader(self._bootstrap, client_id="lgsp-replay-select")
        await reader.start()
        try:
            names = [t.dead_letter, t.replay, t.ledger]
            ends = await reader.end_offsets(names)
            begins = await reader.beginning_offsets(names)
        finally:
            await reader.stop()
        state = await self._catch_up(ends, begins)
        if state != "caught_up":
            if state == "behind":
                _log.warning("index behind the topics; replay selection scans them instead",
                             timeout_s=self._timeout_s, store=self._store.where)
            else:  # the normal case for a CLI whose state directory is not the gateway's
                _log.info("index does not follow these topics; replay selection scans them",
                          store=self._store.where)
            self.last_source = "scan"
            return await select(self._bootstrap, t, self._codec, flt)
        self.last_source = "index"
        return await self._from_index(flt, {tp: end for tp, end in ends.items()
                                            if tp.topic == t.ledger})

    async def _catch_up(self, ends: dict[TopicPartition, int],
                        begins: dict[TopicPartition, int]) -> str:
        """`caught_up`, `behind` (after waiting) or `not_following` (no position at all)."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            stored = await self._store.positions()
            if not any(tp in stored for tp in ends):
                # This index does not follow these topics (another state directory, or
                # the indexer is off): waiting would not help.
                return "not_following"
            # A partition with nothing retained has nothing to index (no position).
            if all(stored.get(tp, begins.get(tp, 0)) >= end for tp, end in ends.items()):
                return "caught_up"
            if time.monotonic() >= deadline:
                return "behind"
            await asyncio.sleep(_POLL_S)

    async def _from_index(self, flt: ReplayFilter,
                          ledger_ends: dict[TopicPartition, int]) -> Selection:
        if flt.transaction_ids:
            unknown = sorted(flt.transaction_ids - await self._store.known_ids(
                sorted(flt.transaction_ids)))
            if unknown:
                more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
                raise UnknownTransactionError(
                    f"transaction {unknown[0]}{more} has no dead-letter record: it never "
                    f"failed or the id is wrong (`lgsp trace {unknown[0]}` shows its path); "
                    "nothing replayed")
        candidates = await self._store.replay_candidates(flt)
        if not candidates:
            raise EmptySelectionError(
                f"no dead-lettered transaction matches the filter ({flt.describe()}); "
                "nothing replayed")
        selection = Selection(flt, [], ledger_positions=ledger_ends)
        for c in candidates:
            tx = c.dead.transaction_id
            if c.status == TraceStatus.DELIVERED.value:
                selection.already_delivered.append(tx)
            elif c.status == TraceStatus.REPLAY_PENDING.value:
                selection.already_submitted[tx] = c.pending_replay_id or ""
            elif c.status == TraceStatus.DEAD_LETTERED.value:
                selection.eligible.append(c.dead)
            # Anything else (in flight) is never re-sent.
        selection.eligible.sort(key=lambda d: (d.timestamp_ms, d.partition, d.offset))
        selection.already_delivered.sort()
        _log.info("replay selection from the index", filter=flt.describe(),
                  matched=selection.matched, eligible=len(selection.eligible),
                  delivered=len(selection.already_delivered),
                  submitted=len(selection.already_submitted))
        return selection
