"""Taking in transactions: validate, record the idempotency key, build the answer.

This is the stub's business logic without HTTP: the routes hand it a service code, the
Idempotency-Key header and the body bytes, and send back the `Answer` it returns.
Every accepted or refused transaction is counted here, in stats and metrics alike.
"""

from __future__ import annotations

__all__ = ["Answer", "Intake", "refusal"]

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from devkit.stub.journal import JournalRecord
from devkit.stub.metering import (
    RESULT_ACCEPTED,
    RESULT_DUPLICATE,
    RESULT_FOUND,
    RESULT_NOT_FOUND,
    Meter,
)
from devkit.stub.stats import Stats
from devkit.stub.store import IdempotencyStore, KeyConflictError, StoreUnavailableError
from devkit.stub.validation import InvalidTransactionError, request_id_of
from gateway.ndxp.catalogue import Catalogue
from gateway.ndxp.wire import HTTP_STATUS, IDEMPOTENCY_KEY, MAX_REQUEST_ID_LENGTH, ResultCode


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]


def refusal(code: ResultCode, message: str) -> Answer:
    """A coded error answer `{"result_code", "message"}` with the code's HTTP status."""
    return Answer(HTTP_STATUS[code], {"result_code": code.value, "message": message})


class Intake:
    """Accepts single and batched transactions for the catalogued national services."""

    def __init__(
        self, store: IdempotencyStore, stats: Stats, meter: Meter, catalogue: Catalogue, *,
        max_batch: int,
    ) -> None:
        self._catalogue = catalogue
        self._store = store
        self._stats = stats
        self._meter = meter
        self._max_batch = max_batch

    def refuse(self, service: str, code: ResultCode, message: str, count: int = 1) -> Answer:
        """Count `count` refused transactions and answer with the code."""
        self._stats.rejected(count)
        self._meter.request(service, code.value, count)
        return refusal(code, message)

    async def one(self, service: str, idempotency_key: str | None, raw: bytes) -> Answer:
        """One transaction: 200 with a receipt (maybe a duplicate's), or a coded refusal."""
        if self._catalogue.find(service) is None:
            return self.refuse(service, ResultCode.SERVICE_UNKNOWN, _unknown(service))
        if not idempotency_key:
            return self.refuse(service, ResultCode.DATA_INCORRECT,
                               f"missing {IDEMPOTENCY_KEY} header")
        try:
            request_id = request_id_of(_parse(raw), idempotency_key)
            record, duplicate = await self._store.accept(request_id, service)
        except InvalidTransactionError as exc:
            return self.refuse(service, exc.code, exc.message)
        except KeyConflictError as exc:
            return self.refuse(service, ResultCode.DATA_INCORRECT, str(exc))
        except StoreUnavailableError as exc:
            return self.refuse(service, ResultCode.SERVICE_UNAVAILABLE, str(exc))
        self._count_accepted(service, duplicate)
        return Answer(200, _receipt(record, duplicate))

    async def lookup(self, service: str, request_id: str) -> Answer:
        """The receipt issued for `request_id`, with `duplicate` false, or 404.

        A lookup is a question, not a transaction: it is not counted in the stats.
        """
        if self._catalogue.find(service) is None:
            self._meter.request(service, ResultCode.SERVICE_UNKNOWN.value)
            return refusal(ResultCode.SERVICE_UNKNOWN, _unknown(service))
        try:
            record = await self._store.find(request_id, service)
        except StoreUnavailableError as exc:
            self._meter.request(service, ResultCode.SERVICE_UNAVAILABLE.value)
            return refusal(ResultCode.SERVICE_UNAVAILABLE, str(exc))
        if record is None:
            self._meter.request(service, RESULT_NOT_FOUND)
            return refusal(ResultCode.TRANSACTION_UNKNOWN,
                           f"service {service} has no transaction {request_id[:60]!r}")
        self._meter.request(service, RESULT_FOUND)
        return Answer(200, _receipt(record, duplicate=False))

    async def lookup_many(self, service: str, raw: bytes) -> Answer:
        """Receipts for many request ids: one result per id, in order, found or not.

        A malformed question is refused whole (400), naming what is wrong; like `lookup`
        it is not counted in the stats.
        """
        if self._catalogue.find(service) is None:
            self._meter.request(service, ResultCode.SERVICE_UNKNOWN.value)
            return refusal(ResultCode.SERVICE_UNKNOWN, _unknown(service))
        ids = _json(raw)
        ids = ids.get("transaction_ids") if isinstance(ids, dict) else None
        problem = _lookup_problem(ids, self._max_batch)
        if problem is not None:
            self._meter.request(service, ResultCode.DATA_INCORRECT.value)
            return refusal(ResultCode.DATA_INCORRECT, problem)
        assert isinstance(ids, list)  # checked by _lookup_problem
        try:
            records = await asyncio.gather(*(self._store.find(i, service) for i in ids))
        except StoreUnavailableError as exc:
            self._meter.request(service, ResultCode.SERVICE_UNAVAILABLE.value)
            return refusal(ResultCode.SERVICE_UNAVAILABLE, str(exc))
        found = sum(1 for r in records if r is not None)
        if found:
            self._meter.request(service, RESULT_FOUND, found)
        if found < len(ids):
            self._meter.request(service, RESULT_NOT_FOUND, len(ids) - found)
        return Answer(200, {"results": [
            _receipt(record, duplicate=False) if record is not None else {
                "result_code": ResultCode.TRANSACTION_UNKNOWN.value, "request_id": request_id,
                "receipt_id": None, "received_at": None, "duplicate": False}
            for request_id, record in zip(ids, records, strict=True)]})

    async def batch(self, service: str, raw: bytes,
                    refuse: Callable[[], bool] | None = None) -> Answer:
        """A batch: 200 with one result per transaction, or a refusal of the whole batch."""
        entry = self._catalogue.find(service)
        if entry is None:
            return self.refuse(service, ResultCode.SERVICE_UNKNOWN, _unknown(service),
                               batch_size(raw))
        if not entry.accepts_batch:
            return self.refuse(
                service, ResultCode.DATA_INCORRECT,
                f"national service {service} does not accept batches; send its "
                "transactions one by one", batch_size(raw),
            )
        try:
            body = _parse(raw)
        except InvalidTransactionError as exc:
            return self.refuse(service, exc.code, exc.message)
        items = body.get("transactions") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return self.refuse(service, ResultCode.DATA_INCORRECT,
                               "field 'transactions' must be a non-empty list")
        if len(items) > self._max_batch:
            return self.refuse(
                service, ResultCode.DATA_INCORRECT,
                f"field 'transactions' has {len(items)} items; at most {self._max_batch} "
                "are allowed", len(items),
            )
        # All items at once, so their new keys land in the same group commit.
        results = await asyncio.gather(*(self._item(service, item, refuse) for item in items))
        return Answer(200, {"results": results})

    async def _item(self, service: str, item: Any,
                    refuse: Callable[[], bool] | None) -> dict[str, Any]:
        request_id = item.get("request_id") if isinstance(item, dict) else None
        try:
            request_id = request_id_of(item, None)
            if refuse is not None and refuse():
                return self._item_refused(service, request_id, ResultCode.DATA_INCORRECT,
                                          "the national service refused the data (injected)")
            record, duplicate = await self._store.accept(request_id, service)
        except InvalidTransactionError as exc:
            return self._item_refused(service, request_id, exc.code, exc.message)
        except KeyConflictError as exc:
            return self._item_refused(service, request_id, ResultCode.DATA_INCORRECT, str(exc))
        except StoreUnavailableError as exc:
            return self._item_refused(service, request_id, ResultCode.SERVICE_UNAVAILABLE,
                                      str(exc))
        self._count_accepted(service, duplicate)
        return {
            "request_id": request_id,
            "result_code": ResultCode.OK.value,
            "receipt_id": record.receipt_id,
            "received_at": record.received_at,
            "duplicate": duplicate,
            "message": "already received" if duplicate else "accepted",
        }

    def _item_refused(
        self, service: str, request_id: Any, code: ResultCode, message: str
    ) -> dict[str, Any]:
        self._stats.rejected()
        self._meter.request(service, code.value)
        return {
            "request_id": request_id if isinstance(request_id, str) else None,
            "result_code": code.value,
            "receipt_id": None,
            "received_at": None,
            "duplicate": False,
            "message": message,
        }

    def _count_accepted(self, service: str, duplicate: bool) -> None:
        if duplicate:
            self._stats.duplicate(service)
            self._meter.request(service, RESULT_DUPLICATE)
        else:
            self._meter.request(service, RESULT_ACCEPTED)


def batch_size(raw: bytes) -> int:
    """How many transactions a batch body holds (1 if it is not a proper batch)."""
    body = _json(raw)
    items = body.get("transactions") if isinstance(body, dict) else None
    return len(items) if isinstance(items, list) and items else 1


def _lookup_problem(ids: Any, limit: int) -> str | None:
    """Why a bulk lookup's `transaction_ids` cannot be answered, or None."""
    if not isinstance(ids, list) or not ids:
        return "field 'transaction_ids' must be a non-empty list of request ids"
    if len(ids) > limit:
        return f"field 'transaction_ids' has {len(ids)} items; at most {limit} are allowed"
    for n, request_id in enumerate(ids):
        if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID_LENGTH:
            return (f"field 'transaction_ids' item {n} must be a request id of 1 to "
                    f"{MAX_REQUEST_ID_LENGTH} characters")
    return None


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidTransactionError(
            ResultCode.DATA_INCORRECT, f"the body is not valid JSON: {exc}"
        ) from None


def _unknown(service: str) -> str:
    return f"no national service {service[:60]!r} in the catalogue (see GET /ndxp/v1/services)"


def _receipt(record: JournalRecord, duplicate: bool) -> dict[str, Any]:
    return {
        "result_code": ResultCode.OK.value,
        "receipt_id": record.receipt_id,
        "request_id": record.key,
        "service_code": record.service,
        "received_at": record.received_at,
        "duplicate": duplicate,
    }
