"""The code's shape: production apart from the development kit, no import cycles, small parts."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = ("gateway", "connectors")


def _packages(top: str) -> list[str]:
    return sorted(
        ".".join(init.parent.relative_to(REPO).parts) for init in (REPO / top).rglob("__init__.py")
    )


@pytest.mark.parametrize("package", _packages("gateway") + _packages("connectors"))
def test_each_package_can_be_the_first_import(package: str) -> None:
    # A fresh interpreter each time: an import cycle between packages only shows when one
    # of them is imported first.
    done = subprocess.run([sys.executable, "-c", f"import {package}"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


# The contract kit starts the local broker only when a test session has no other broker:
# it imports the development kit inside that one function, never when it is loaded.
LAZY_DEVKIT_IMPORTS_ALLOWED = REPO / "gateway" / "testing"


def _import_nodes(path: Path) -> list[ast.AST]:
    """Every import statement of a module; in the kit, only those run at import time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not path.is_relative_to(LAZY_DEVKIT_IMPORTS_ALLOWED):
        return list(ast.walk(tree))
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))
    return found


def test_production_code_never_imports_the_development_kit() -> None:
    offenders = []
    for top in PRODUCTION:
        for path in (REPO / top).rglob("*.py"):
            for node in _import_nodes(path):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(REPO)}: {n}" for n in names
                              if n == "devkit" or n.startswith("devkit.")]
    assert offenders == []


def test_the_kit_imports_the_development_kit_only_inside_a_function() -> None:
    broker = LAZY_DEVKIT_IMPORTS_ALLOWED / "broker.py"
    every = [n for n in ast.walk(ast.parse(broker.read_text(encoding="utf-8")))
             if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("devkit")]
    assert every, "the kit starts its broker with devkit.localkafka"
    assert not [n for n in _import_nodes(broker) if n in every]


def test_each_router_module_reads_in_one_sitting() -> None:
    lengths = {p.name: len(p.read_text(encoding="utf-8").splitlines())
               for p in (REPO / "gateway" / "router").glob("*.py")}
    assert {name: n for name, n in lengths.items() if n > 300} == {}


@pytest.mark.parametrize("package", ["gateway", "connectors"])
def test_plugin_authors_get_type_information(package: str) -> None:
    assert (REPO / package / "py.typed").is_file()
