"""iOffice (document management and administration) connector plugin and simulator."""

from connectors.ioffice.config import IOfficeConfig
from connectors.ioffice.connector import IOfficeConnector

__all__ = ["IOfficeConfig", "IOfficeConnector"]
