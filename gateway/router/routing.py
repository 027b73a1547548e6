"""The routing table: message type (and optionally source system) -> NDXP service code.

Where the rules come from, lowest layer first: installed plugins' `default_routes`, the
built-in routes, then the routes in settings; each layer adds to the one below or
overrides it per (message type, source system), never replaces it wholesale.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import NoRouteError
from gateway.ndxp.catalogue import Catalogue
from gateway.settings import RouterSettings, RouteRule, merge_routes


def with_plugin_routes(
    router: RouterSettings, plugin_routes: Sequence[RouteRule]
) -> RouterSettings:
    """The router settings with plugins' default routes beneath the configured ones."""
    return router.model_copy(update={"routes": merge_routes(plugin_routes, router.routes)})


def unlisted_services(rules: Sequence[RouteRule], catalogue: Catalogue) -> list[str]:
    """Service codes the rules route to that the national catalogue does not list."""
    return sorted({rule.service for rule in rules if catalogue.find(rule.service) is None})


class RoutingTable:
    """Resolves a transaction's national service.

    An explicit `target_service` on the envelope wins; otherwise a rule naming the source
    system beats a rule for the message type alone.
    """

    def __init__(self, rules: Sequence[RouteRule]) -> None:
        self._exact: dict[tuple[str, str], str] = {}
        self._by_type: dict[str, str] = {}
        for rule in rules:
            if rule.source_system is None:
                self._by_type[rule.message_type] = rule.service
            else:
                self._exact[(rule.message_type, rule.source_system)] = rule.service

    def resolve(self, message_type: str, source_system: str, target: str | None = None) -> str:
        """The service code for a transaction, or NoRouteError naming what had no rule."""
        if target:
            return target
        service = self._exact.get((message_type, source_system)) or self._by_type.get(message_type)
        if service is None:
            raise NoRouteError(
                f"no route for message type {message_type!r} from source {source_system!r}"
            )
        return service
