"""The transaction id of an imported record: derived from the record itself.

`transaction_id_for("import:<message type>", sha256(canonical datum))`, the connectors'
UUIDv5 (gateway/connect/context.py) over the record's content. Not over the file name
and line number: a province that re-exports its history (a fix in one record, another
order, CSV instead of JSON Lines, gzip or not, split into several files) must not send
the national side every unchanged record a second time. The same content always gets
the same id; a corrected record is a new fact and gets a new one. The canonical datum
leaves out fields at their default, so a later schema version that adds a defaulted
field keeps the ids of records imported before.

Neither the source system, the agency nor the topic enter the id: run again with other
options by mistake, and the national side still recognises what it already has.
"""

from __future__ import annotations

__all__ = ["record_transaction_id"]

import hashlib

from gateway.connect.context import transaction_id_for


def record_transaction_id(message_type: str, canonical: bytes) -> str:
    """The stable transaction id of an imported record of `message_type`."""
    return transaction_id_for(f"import:{message_type}", hashlib.sha256(canonical).hexdigest())
