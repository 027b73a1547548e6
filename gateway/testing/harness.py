"""What the contract suite needs from a plugin's source system, and where it finds it.

A plugin package registers one harness class per connector plugin under the
`lgsp.harnesses` entry-point group, with the plugin's name:

    [project.entry-points."lgsp.harnesses"]
    radio = "lgsp_radio_connector.testing:RadioHarness"

The harness class is built without arguments; it starts a fake of the source system
(`open`), gives a valid config for it (`config`), makes N new records appear there
(`feed`) and presents the records fed so far again as the source would after a crash of
the gateway (`redeliver`).
"""

from __future__ import annotations

__all__ = ["HARNESS_ENTRY_POINT_GROUP", "Harness", "HarnessClass", "harness_entry_points",
           "load_harness"]

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol

from gateway.errors import ConnectorError
from gateway.testing.rig import Running

HARNESS_ENTRY_POINT_GROUP = "lgsp.harnesses"


class Harness(Protocol):
    """A plugin's source system under test, driven by the contract suite."""

    message_type: ClassVar[str]
    """The message type the plugin's records have (a schema name)."""
    bad_values: ClassVar[Mapping[str, Any]]
    """Plugin-specific keys with a value the config model must refuse, naming the key."""

    async def open(self, tmp_path: Path) -> None:
        """Start the fake source system (`tmp_path` is the test's own folder)."""

    async def close(self) -> None:
        """Stop the fake source system."""

    def config(self) -> dict[str, Any]:
        """A valid flat config (dotted keys) pointing at the fake source system."""

    async def feed(self, running: Running, count: int) -> None:
        """Make `count` new records appear at the source."""

    async def redeliver(self, running: Running) -> None:
        """Present every record fed so far again, as the source would after a crash."""


HarnessClass = type[Harness]


def harness_entry_points() -> dict[str, EntryPoint]:
    """Registered harnesses by plugin name (loading none of them)."""
    return {ep.name: ep for ep in entry_points(group=HARNESS_ENTRY_POINT_GROUP)}


def load_harness(plugin_name: str) -> HarnessClass | None:
    """The harness class registered for a plugin, or None if none is registered.

    ConnectorError (one line naming the entry point) if it is registered but cannot be
    imported or is not a class.
    """
    ep = harness_entry_points().get(plugin_name)
    if ep is None:
        return None
    try:
        obj = ep.load()
    except Exception as exc:
        raise ConnectorError(
            f"harness {ep.value} of plugin {plugin_name!r} cannot be imported: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(obj, type):
        raise ConnectorError(f"harness {ep.value} of plugin {plugin_name!r} is not a class")
    harness: HarnessClass = obj
    return harness
