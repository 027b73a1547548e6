"""Rendered Kubernetes manifests: build an overlay with kustomize and look things up."""

from __future__ import annotations

__all__ = [
    "Manifest",
    "containers",
    "find",
    "get_one",
    "kinds",
    "load_documents",
    "render_overlay",
]

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import tools

# One Kubernetes object as parsed YAML.
Manifest = dict[str, Any]


def load_documents(text: str) -> list[Manifest]:
    """Every non-empty YAML document of a multi-document stream, as mappings."""
    docs: list[Manifest] = []
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise TypeError(f"a manifest is not a mapping: {doc!r:.80}")
        docs.append(doc)
    return docs


def render_overlay(overlay: Path) -> str:
    """`kustomize build` of an overlay; fails the test with kustomize's message."""
    result = tools.run([tools.kustomize(), "build", overlay])
    if result.returncode != 0:
        pytest.fail(f"kustomize build {overlay} failed: {result.stderr.strip()}", pytrace=False)
    return result.stdout


def kinds(docs: list[Manifest]) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every object."""
    return {(d["apiVersion"], d["kind"]) for d in docs}


def find(docs: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    """Objects of a kind, optionally with a given name."""
    return [
        d for d in docs
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def get_one(docs: list[Manifest], kind: str, name: str) -> Manifest:
    """The single object of that kind and name; fails the test if absent or repeated."""
    found = find(docs, kind, name)
    if len(found) != 1:
        pytest.fail(f"expected one {kind}/{name}, found {len(found)}", pytrace=False)
    return found[0]


def containers(workload: Manifest) -> Iterator[Manifest]:
    """Containers and init containers of a Deployment/StatefulSet/DaemonSet/Job."""
    pod = workload["spec"]["template"]["spec"]
    yield from pod.get("initContainers", [])
    yield from pod["containers"]
