"""Reporting information system connector plugin (file drop) and report file writer."""

from connectors.reporting.config import ReportingConfig
from connectors.reporting.connector import ReportingConnector

__all__ = ["ReportingConfig", "ReportingConnector"]
