"""Where schemas come from: the gateway's own folder plus every plugin package's folder.

A plugin package ships its Avro schemas in a package folder laid out like schemas/avro
(`<name>/v<N>.avsc`) and declares that folder under the `lgsp.schemas` entry-point
group; the value names the importable package that *is* the folder:

    [project.entry-points."lgsp.schemas"]
    radio = "lgsp_radio_connector.schemas"

An entry point rather than an attribute of a connector class: schemas are data that
`lgsp schemas check`, `lgsp replay`, `lgsp trace` and a router-only process need without
running any connector code, and one package may ship schemas for several connectors.
Two packages shipping a schema of the same name is one ConfigError naming both: readers
would otherwise decode with whichever happened to load last.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from gateway.contracts._compatibility import check_compatibility
from gateway.contracts._registry import SchemaRegistry, SchemaVersion, load_schema_file
from gateway.errors import ConfigError

SCHEMAS_ENTRY_POINT_GROUP = "lgsp.schemas"
BUILT_IN_OWNER = "lgsp-gateway"


@dataclass(frozen=True, slots=True)
class SchemaSource:
    """One folder of schemas and who ships it (a distribution name, for messages)."""

    owner: str
    directory: Path


def plugin_schema_sources(found: Iterable[EntryPoint] | None = None) -> list[SchemaSource]:
    """The schema folders declared by installed packages (`found` replaces them in tests).

    Finding a folder imports its package's parents (as Python must); a declared folder
    that does not exist is a ConfigError naming the package and the entry point.
    """
    sources = []
    for ep in entry_points(group=SCHEMAS_ENTRY_POINT_GROUP) if found is None else found:
        owner = ep.dist.name if ep.dist is not None else ep.name
        sources.append(SchemaSource(owner, _package_folder(ep, owner)))
    return sorted(sources, key=lambda s: (s.owner, str(s.directory)))


def schema_sources(
    built_in: Path, found: Iterable[EntryPoint] | None = None
) -> list[SchemaSource]:
    """The gateway's folder (`settings.schemas_dir`) first, then every plugin's."""
    return [SchemaSource(BUILT_IN_OWNER, built_in), *plugin_schema_sources(found)]


def load_schemas(built_in: Path, found: Iterable[EntryPoint] | None = None) -> SchemaRegistry:
    """Every schema the gateway and its installed plugins ship, in one registry.

    What `lgsp run`, `lgsp replay`, `lgsp trace` and `lgsp schemas check` load. Blocking
    (imports and file reads): call it off the event loop.
    """
    return load_sources(schema_sources(built_in, found))


def load_gated_schemas(
    built_in: Path, found: Iterable[EntryPoint] | None = None
) -> SchemaRegistry:
    """`load_schemas`, refusing a set with a breaking change between versions of a schema.

    What a process that writes records loads (`lgsp run`, `lgsp replay`): a plugin's new
    version that cannot read its older data must stop it, not corrupt the topics. One
    line names the first breaking change; `lgsp schemas check` lists them all.
    """
    registry = load_schemas(built_in, found)
    breakages = check_compatibility(registry)
    if breakages:
        more = f" (and {len(breakages) - 1} more)" if len(breakages) > 1 else ""
        raise ConfigError(f"breaking schema change: {breakages[0]}{more}; "
                          "`lgsp schemas check` lists every one")
    return registry


def load_sources(sources: Sequence[SchemaSource]) -> SchemaRegistry:
    """One registry of several folders; ConfigError if two owners ship one schema name."""
    owners: dict[str, SchemaSource] = {}
    versions: list[SchemaVersion] = []
    for source in sources:
        if not source.directory.is_dir():
            raise ConfigError(f"schema directory {source.directory} of {source.owner} "
                              "does not exist")
        for path in sorted(source.directory.glob("*/v*.avsc")):
            name = path.parent.name
            first = owners.setdefault(name, source)
            if first.directory != source.directory:
                raise ConfigError(
                    f"schema {name!r} is shipped twice: by {first.owner} "
                    f"({first.directory / name}) and by {source.owner} "
                    f"({source.directory / name}); rename one (schema names are message "
                    "types and must be unique)"
                )
            versions.append(load_schema_file(path))
    return SchemaRegistry(versions)


def _package_folder(ep: EntryPoint, owner: str) -> Path:
    where = f"entry point {ep.name} = {ep.value!r} of {owner} ({SCHEMAS_ENTRY_POINT_GROUP})"
    try:
        spec = importlib.util.find_spec(ep.value)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot be found: {exc}") from exc
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not locations:
        raise ConfigError(f"{where}: not an installed package folder")
    return Path(locations[0])
