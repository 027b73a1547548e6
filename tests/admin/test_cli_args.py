"""The `lgsp run` and `lgsp connectors` parsers: help everywhere, one-line usage errors."""

from __future__ import annotations

import argparse

import pytest

from gateway.cli import build_parser

VERBS = ("list", "create", "get", "status", "config", "pause", "resume", "restart", "delete",
         "plugins", "validate")


@pytest.mark.parametrize("args", [("run",), ("connectors",),
                                  *(("connectors", v) for v in VERBS)])
def test_every_subcommand_has_help(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*args, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: lgsp {' '.join(args)}")


@pytest.mark.parametrize(("args", "message"), [
    (("run", "--port", "-1"), "argument --port: -1 is not a port number (0-65535)"),
    (("run", "--port", "http"), "argument --port: 'http' is not a port number"),
    (("run", "--unknown"), "unrecognized arguments: --unknown"),
    (("connectors",), "the following arguments are required: VERB"),
    (("connectors", "status"), "the following arguments are required: NAME"),
    (("connectors", "create", "--config-json", "{"), "argument --config-json: not valid JSON"),
    (("connectors", "create", "--config-json", "[1]"),
     "argument --config-json: must be a JSON object"),
    (("connectors", "create", "--set", "novalue"), "argument --set: 'novalue' is not KEY=VALUE"),
    (("connectors", "create", "--file", "/nonexistent/c.json"),
     "argument --file: cannot read /nonexistent/c.json: No such file or directory"),
])
def test_bad_arguments_are_one_line_usage_errors(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(args)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert err.rstrip().endswith("--help)")


@pytest.mark.parametrize(("args", "message"), [
    (("connectors", "create", "--set", "connector.class=example"),
     "give the connector name with --name"),
    (("connectors", "create", "--name", "x"),
     "give the config with --file, --config-json or --set"),
])
async def test_incomplete_create_is_a_usage_error(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parsed: argparse.Namespace = build_parser().parse_args(args)
    with pytest.raises(SystemExit) as done:
        await parsed.handler(parsed)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert message in err
