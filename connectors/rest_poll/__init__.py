"""Generic REST polling connector plugin: a JSON list by cursor, configured without code."""

from connectors.rest_poll.config import RestPollConfig
from connectors.rest_poll.connector import RestPollConnector

__all__ = ["RestPollConfig", "RestPollConnector"]
