"""The router as a gateway service: owns its NDXP client and its Router."""

from __future__ import annotations

from gateway.contracts import Codec
from gateway.kafka import Producer
from gateway.ndxp import NdxpClient
from gateway.router.router import Router
from gateway.settings import Settings
from gateway.topics import Topics


class RouterService:
    """Starts the pooled NDXP client, then the router; stops them in reverse."""

    def __init__(self, settings: Settings, *, producer: Producer, codec: Codec,
                 topics: Topics) -> None:
        self._client = NdxpClient(settings.ndxp)
        self.router = Router(settings, codec=codec, producer=producer, exchange=self._client,
                             topics=topics)

    async def start(self) -> None:
        """Open the HTTP pool and join the consumer group."""
        await self._client.start()
        try:
            await self.router.start()
        except BaseException:
            await self._client.close()
            raise

    async def stop(self) -> None:
        """Drain in-flight transactions (bounded), commit, close the HTTP pool."""
        try:
            await self.router.stop()
        finally:
            await self._client.close()

    def ready(self) -> bool:
        """Whether the router is polling its topics."""
        return self.router.ready()
