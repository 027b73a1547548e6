"""Static lint of deploy/container/Dockerfile (no Docker engine on these machines)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from tests.deploy.paths import DOCKERFILE, REPO

# Anything that compiles or fetches system packages has no place in the final stage.
_BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|dnf|yum|gcc|g\+\+|cc|clang|make|build-essential|"
    r"python3?-dev|pip\s+wheel|pip\s+download)\b"
)


@dataclass
class Stage:
    """One FROM ... section of the Dockerfile."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def _parse() -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(DOCKERFILE.read_text(encoding="utf-8")):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)),
                           words[0])
            stages.append(Stage(image, name))
        elif not stages:
            if keyword == "ARG" and "=" in args:
                key, _, value = args.partition("=")
                global_args[key.strip()] = value.strip()
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return global_args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return _parse()[1]


def test_multi_stage_with_a_builder(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert stages[0].name == "builder"
    assert any("pip wheel" in run for run in stages[0].args_of("RUN"))


def test_base_images_are_pinned(stages: list[Stage]) -> None:
    for stage in stages:
        image = stage.image
        assert "$" not in image, f"unresolved base image {image}"
        pinned_tag = re.search(r":\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$", image)
        pinned_digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
        assert pinned_tag or pinned_digest, f"{image} is not pinned to an exact version"
        assert not image.endswith(":latest")


def test_final_stage_runs_as_fixed_non_root_user(stages: list[Stage]) -> None:
    users = stages[-1].args_of("USER")
    assert users, "the final stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user == "10001", "numeric UID, so Kubernetes' runAsNonRoot can verify it"
    assert group in ("", "10001")
    # The USER comes after the last RUN: nothing afterwards runs as root.
    kinds = [kw for kw, _ in stages[-1].instructions]
    assert max(i for i, kw in enumerate(kinds) if kw == "RUN") < kinds.index("USER")


def test_final_stage_has_no_build_tools(stages: list[Stage]) -> None:
    final = stages[-1]
    for run in final.args_of("RUN"):
        assert not _BUILD_TOOLS.search(run), f"build tooling in the final stage: {run}"
        if "pip install" in run:
            assert "--no-index" in run, "the final stage installs only the builder's wheels"
            assert "from=builder" in run
    assert not any(args.startswith("--from=") and "gcc" in args for args in final.args_of("COPY"))


def test_entrypoint_cmd_and_port(stages: list[Stage]) -> None:
    final = stages[-1]
    assert [json.loads(a) for a in final.args_of("ENTRYPOINT")] == [["lgsp"]]
    assert [json.loads(a) for a in final.args_of("CMD")] == [["run"]]
    assert "8083" in " ".join(final.args_of("EXPOSE")).split()


def test_schemas_and_writable_paths_for_a_read_only_root(stages: list[Stage]) -> None:
    final = stages[-1]
    env: dict[str, str] = {}
    for args in final.args_of("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    schemas_dir = env["LGSP_SCHEMAS_DIR"]
    assert any(args.split() == ["schemas/avro", schemas_dir] for args in final.args_of("COPY"))
    assert env["LGSP_STATE_DIR"] == "/var/lib/lgsp"
    assert env["LGSP_CACHE_DIR"].startswith("/var/lib/lgsp")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_build_context_is_an_allow_list_of_existing_paths(stages: list[Stage]) -> None:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    rules = [r for r in ignore.splitlines() if r.strip() and not r.startswith("#")]
    assert rules[0] == "*", "exclude everything, then allow what the image needs"
    for stage in stages:
        for args in stage.args_of("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _dest = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} missing"
                top = source.split("/")[0]
                assert f"!{top}" in rules or f"!{top}/" in rules, f"{top} not in the context"


def test_the_image_holds_no_development_package(stages: list[Stage]) -> None:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert "!devkit" not in ignore and "!devkit/" not in ignore
    for stage in stages:
        for args in stage.args_of("COPY"):
            assert "devkit" not in args, f"the production image copies the devkit: {args}"
        for run in stage.args_of("RUN"):
            assert "devkit" not in run, f"the production image installs the devkit: {run}"
