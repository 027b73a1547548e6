"""One-stop (administrative procedure handling) connector plugin and event sender."""

from connectors.one_stop.config import OneStopConfig
from connectors.one_stop.connector import OneStopConnector

__all__ = ["OneStopConfig", "OneStopConnector"]
