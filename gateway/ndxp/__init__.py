"""The national data exchange platform (NDXP): wire format, service catalogue, client.

`NdxpClient` is how the router forwards transactions. The national endpoint's stand-in
(`devkit.stub`, `lgsp stub`) is in the development kit; both speak `gateway.ndxp.wire`.
"""

from gateway.ndxp.catalogue import CATALOGUE, NationalService, find_service
from gateway.ndxp.client import NdxpClient
from gateway.ndxp.wire import OutboundTransaction, Receipt, ResultCode

__all__ = [
    "CATALOGUE",
    "NationalService",
    "NdxpClient",
    "OutboundTransaction",
    "Receipt",
    "ResultCode",
    "find_service",
]
