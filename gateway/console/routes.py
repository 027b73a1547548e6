"""The console's routes, and the admin API operation each one stands for.

A console route does what one API operation does, so it needs the role that operation
needs in the one role table (gateway/auth/roles.py) and is audited under its action.
`None`: only a signed-in session (every role includes viewer).
"""

from __future__ import annotations

__all__ = ["CONSOLE_PREFIX", "PUBLIC", "ROUTES", "Route"]

from dataclasses import dataclass

CONSOLE_PREFIX = "/console"


@dataclass(frozen=True, slots=True)
class Route:
    """One console route: method, path under the prefix, handler name, API operation."""

    method: str
    path: str
    handler: str
    stands_for: tuple[str, str] | None
    scans: bool = False
    """Reads whole topics (dead-letter selection, replay audit, trace without the index):
    bounded with the API's expensive reads (LGSP_EXPENSIVE_READS__*)."""


ROUTES: tuple[Route, ...] = (
    Route("GET", "/sign-in", "sign_in_form", None),
    Route("POST", "/sign-in", "sign_in", None),
    Route("POST", "/sign-out", "sign_out", None),
    Route("GET", "/", "overview", ("GET", "/services"), scans=True),
    Route("POST", "/connectors/{name}/pause", "connector_action",
          ("PUT", "/connectors/{name}/pause")),
    Route("POST", "/connectors/{name}/resume", "connector_action",
          ("PUT", "/connectors/{name}/resume")),
    Route("POST", "/connectors/{name}/restart", "connector_action",
          ("POST", "/connectors/{name}/restart")),
    Route("GET", "/search", "search", ("GET", "/transactions")),
    Route("GET", "/transactions/{transaction_id}", "transaction",
          ("GET", "/transactions/{transaction_id}"), scans=True),
    # The list shows what a dry run would (ids, classes, masked messages; no business
    # keys), as replay history does: a viewer's read.
    Route("GET", "/dead-letters", "dead_letters", ("GET", "/replays"), scans=True),
    Route("POST", "/dead-letters/preview", "preview", ("POST", "/replays")),
    Route("POST", "/dead-letters/replay", "replay", ("POST", "/replays")),
    Route("GET", "/replays", "history", ("GET", "/replays"), scans=True),
    Route("GET", "/replays/{replay_id}", "replay_page", ("GET", "/replays/{replay_id}"),
          scans=True),
    Route("GET", "/replays/{replay_id}/progress", "progress",
          ("GET", "/replays/{replay_id}"), scans=True),
)

PUBLIC = frozenset({f"{CONSOLE_PREFIX}/sign-in"})
"""Console paths answered without a session (besides the static assets)."""
