"""The connector runtime: plugins adapt provincial systems onto Kafka topics.

A plugin is a `SourceConnector` subclass with a pydantic config model, registered under
the `lgsp.connectors` entry-point group. The runtime gives each running connector a
`SourceContext` to emit records (acknowledged by Kafka before `emit` returns) and to
commit its source position (stored in a compacted topic, only after the records it
covers were acknowledged).

`ConnectorRuntime` runs the configured connectors (Kafka Connect's connector/task model,
one task each); `discover_plugins` finds installed plugins, `PluginCatalog.of` lets tests
and embedders supply plugin classes directly.
"""

from gateway.connect.discovery import PluginCatalog, discover_plugins
from gateway.connect.plugin import (
    ENTRY_POINT_GROUP,
    ConnectorConfig,
    SourceConnector,
    SourceContext,
    SourceRecord,
)
from gateway.connect.runtime import CONNECTOR_NAME_PATTERN, ConnectorRuntime
from gateway.connect.status import (
    ConfigValidation,
    ConnectorInfo,
    ConnectorState,
    ConnectorStatus,
    PluginInfo,
    TargetState,
)

__all__ = [
    "CONNECTOR_NAME_PATTERN",
    "ENTRY_POINT_GROUP",
    "ConfigValidation",
    "ConnectorConfig",
    "ConnectorInfo",
    "ConnectorRuntime",
    "ConnectorState",
    "ConnectorStatus",
    "PluginCatalog",
    "PluginInfo",
    "SourceConnector",
    "SourceContext",
    "SourceRecord",
    "TargetState",
    "discover_plugins",
]
