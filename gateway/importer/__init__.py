"""`lgsp import`: a merged province's exported records onto Kafka, as if ingested live.

Modules, one job each: `readers` (JSON Lines / CSV, gzip), `convert` (fields -> Avro
datum, or the field that is wrong), `shapes` (business key and time per message type),
`ids` (the transaction id of a record), `prepare` (a record -> envelope bytes or a
rejection), `rejects` (the rejected file), `checkpoint` (how far an import got),
`window` (acknowledgements in file order, how far the checkpoint may go), `tail` (what
an interrupted run published beyond its checkpoint), `run` (one file, start to end).
"""

from gateway.importer.checkpoint import Checkpoint, CheckpointStore, FileIdentity, RunIdentity
from gateway.importer.convert import InvalidFieldError, RecordConverter
from gateway.importer.ids import record_transaction_id
from gateway.importer.prepare import Prepared, RecordPreparer
from gateway.importer.readers import FORMATS, ExportFile, Format, RawRecord, format_of
from gateway.importer.rejects import Rejection, RejectsFile
from gateway.importer.run import FileImport, ImportListener, ImportResult, beside
from gateway.importer.shapes import BUILT_IN_SHAPES, RecordShape, shape_for

__all__ = [
    "BUILT_IN_SHAPES",
    "FORMATS",
    "Checkpoint",
    "CheckpointStore",
    "ExportFile",
    "FileIdentity",
    "FileImport",
    "Format",
    "ImportListener",
    "ImportResult",
    "InvalidFieldError",
    "Prepared",
    "RawRecord",
    "RecordConverter",
    "RecordPreparer",
    "RecordShape",
    "Rejection",
    "RejectsFile",
    "RunIdentity",
    "beside",
    "format_of",
    "record_transaction_id",
    "shape_for",
]
