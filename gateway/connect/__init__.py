"""The connector runtime: plugins adapt provincial systems onto Kafka topics.

A plugin is a `SourceConnector` subclass with a pydantic config model, registered under
the `lgsp.connectors` entry-point group. The runtime gives each running connector a
`SourceContext` to emit records (acknowledged by Kafka before `emit` returns) and to
commit its source position (stored in a compacted topic, only after the records it
covers were acknowledged).
"""

from gateway.connect.plugin import (
    ENTRY_POINT_GROUP,
    ConnectorConfig,
    SourceConnector,
    SourceContext,
    SourceRecord,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConnectorConfig",
    "SourceConnector",
    "SourceContext",
    "SourceRecord",
]
