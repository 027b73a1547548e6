"""Rendered overlays, shared by the Kubernetes tests (kustomize runs once per overlay)."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import Manifest, load_documents, render_overlay
from tests.deploy.paths import K8S

OVERLAYS = ("dev", "prod")


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """kustomize output of each overlay."""
    return {name: render_overlay(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def dev(rendered: dict[str, str]) -> list[Manifest]:
    """The dev overlay's objects."""
    return load_documents(rendered["dev"])


@pytest.fixture(scope="session")
def prod(rendered: dict[str, str]) -> list[Manifest]:
    """The prod overlay's objects."""
    return load_documents(rendered["prod"])


@pytest.fixture(params=OVERLAYS, scope="session")
def overlay(request: pytest.FixtureRequest, rendered: dict[str, str]) -> tuple[str, list[Manifest]]:
    """(name, objects) of each overlay in turn."""
    name: str = request.param
    return name, load_documents(rendered[name])
