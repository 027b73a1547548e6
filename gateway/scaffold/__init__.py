"""`lgsp plugin new NAME`: write a connector plugin package that works as generated.

The package has: pyproject entry points (connector, schemas, contract harness), a config
model, a polling connector with a default route, its own Avro schema, a fake of the
source system, the harness, and tests that pass as generated against a broker (the
gateway's contract suite, from the installed kit `gateway.testing`). Templates live in
`template/` beside this module; `${...}` placeholders are filled from the name.
"""

from __future__ import annotations

__all__ = ["PluginNames", "names_for", "write_plugin"]

import re
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from string import Template

from gateway.errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_MAX_NAME = 40
_TEMPLATES = Path(__file__).resolve().parent / "template"


@dataclass(frozen=True, slots=True)
class PluginNames:
    """Every name derived from the plugin's name, e.g. `radio-licensing`."""

    name: str
    """The plugin name (`connector.class`), e.g. radio-licensing."""
    dist: str
    """The distribution, e.g. lgsp-radio-licensing-connector."""
    module: str
    """The import package, e.g. lgsp_radio_licensing_connector."""
    klass: str
    """The class-name stem, e.g. RadioLicensing."""
    title: str
    message_type: str
    record_name: str
    service: str
    prefix: str
    gateway_version: str


def names_for(name: str) -> PluginNames:
    """The names of a plugin called `name`; ConfigError if it is not a usable name."""
    if len(name) > _MAX_NAME or not _NAME.fullmatch(name):
        raise ConfigError(
            f"plugin name {name[:60]!r} must be lowercase letters and digits in words "
            f"joined by single hyphens, starting with a letter, at most {_MAX_NAME} "
            "characters (e.g. radio-licensing)")
    words = name.split("-")
    snake = "_".join(words)
    try:
        gateway_version = version("lgsp-gateway")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled checkout
        gateway_version = "0.1.0"
    return PluginNames(
        name=name,
        dist=f"lgsp-{name}-connector",
        module=f"lgsp_{snake}_connector",
        klass="".join(w.capitalize() for w in words),
        title=f"the {' '.join(words)} system",
        message_type=f"{snake}.record",
        record_name="".join(w.capitalize() for w in words) + "Record",
        service=f"QG.{''.join(words).upper()[:20]}.TIEPNHAN",
        prefix="".join(words).upper()[:6],
        gateway_version=gateway_version,
    )


def write_plugin(name: str, parent: Path) -> Path:
    """Write the package for `name` into a new folder under `parent`; returns that folder.

    ConfigError (one line) if the name is unusable or the folder exists already.
    """
    names = names_for(name)
    root = parent / names.dist
    if root.exists():
        raise ConfigError(f"{root} exists already; choose another --dir or remove it")
    values = asdict(names)
    package = Path("src") / names.module
    files = {
        Path("pyproject.toml"): "pyproject.toml.tmpl",
        Path("README.md"): "README.md.tmpl",
        Path("gateway.toml"): "gateway.toml.tmpl",
        package / "__init__.py": "pkg/__init__.py.tmpl",
        package / "config.py": "pkg/config.py.tmpl",
        package / "connector.py": "pkg/connector.py.tmpl",
        package / "fake_source.py": "pkg/fake_source.py.tmpl",
        package / "testing.py": "pkg/testing.py.tmpl",
        package / "py.typed": None,
        package / "schemas" / names.message_type / "v1.avsc": "schema.avsc.tmpl",
        Path("tests") / "test_contract.py": "tests/test_contract.py.tmpl",
        Path("tests") / "test_config.py": "tests/test_config.py.tmpl",
    }
    try:
        for relative, template in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            text = "" if template is None else Template(
                (_TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the plugin into {root}: "
                          f"{exc.strerror or exc}") from exc
    return root
