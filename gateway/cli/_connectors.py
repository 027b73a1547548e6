"""`lgsp connectors ...`: manage connectors through the gateway's admin REST API."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import aiohttp
import orjson

from gateway.cli._auth import add_token_option, resolve_token
from gateway.cli._base import CommandParser, add_config_option, settings_from
from gateway.cli._text import printable
from gateway.errors import GatewayError

_CONFIG_HELP = (
    "Config sources, applied in this order (later ones win per key): --file FILE.json "
    '(Kafka Connect style {"name": ..., "config": {...}}, or a flat config object), '
    "--config-json '{...}' (a flat config object), then each --set KEY=VALUE."
)
_TIMEOUT_S = 30.0


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp connectors ...`."""
    group = sub.add_parser(
        "connectors", help="manage connectors through the gateway's admin API",
        description="Create, inspect and control connectors of a running gateway "
        "(`lgsp run`) through its Kafka Connect style REST API. API errors print one "
        "line and exit 1.",
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_text: str, description: str,
             handler: Callable[..., Any]) -> CommandParser:
        parser: CommandParser = verbs.add_parser(name, help=help_text, description=description)
        parser.add_argument("--url", default=None,
                            help="admin API base URL (env LGSP_URL; default "
                            "http://127.0.0.1:<port from settings, 8083>)")
        add_config_option(parser)
        add_token_option(parser)
        parser.set_defaults(handler=handler, usage_error=parser.error)
        return parser

    listing = verb("list", "list connectors with their state (table)",
                   "List every connector with its plugin and state.", _list)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    create = verb("create", "create a connector and start it",
                  "Create a connector. " + _CONFIG_HELP + " Example: lgsp connectors create "
                  "--name ioffice-camau --set connector.class=ioffice "
                  "--set source.agency.code=000.00.00.H12", _create)
    create.add_argument("--name", default=None,
                        help="connector name (default: the name in --file)")
    _add_config_sources(create)

    get = verb("get", "show a connector's config and tasks (JSON)",
               "Show a connector's name, config and tasks.", _get)
    get.add_argument("name", metavar="NAME")

    status = verb("status", "show a connector's state (table)",
                  "Show the state of a connector and its task; a FAILED one shows its error.",
                  _status)
    status.add_argument("name", metavar="NAME")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")

    config = verb("config", "show or change a connector's config",
                  "Without options: print the config. With --set: change those keys and "
                  "keep the rest. With --file or --config-json: replace the whole config "
                  "(then --set on top). A running connector restarts with the new config.",
                  _config)
    config.add_argument("name", metavar="NAME")
    _add_config_sources(config)

    for name, help_text, handler in (
        ("pause", "pause a connector (stays paused across restarts)", _pause),
        ("resume", "resume a paused connector from its position", _resume),
        ("delete", "stop and delete a connector (its position is kept)", _delete),
    ):
        parser = verb(name, help_text, help_text[0].upper() + help_text[1:] + ".", handler)
        parser.add_argument("name", metavar="NAME")

    restart = verb("restart", "restart a connector (e.g. after it FAILED)",
                   "Stop and start a connector again; a paused one stays paused.", _restart)
    restart.add_argument("name", metavar="NAME")
    restart.add_argument("--only-failed", action="store_true",
                         help="restart only if it is FAILED")

    verb("plugins", "list installed connector plugins (JSON)",
         "List the connector plugins installed in the gateway.", _plugins)

    validate = verb("validate", "check a config against a plugin without creating anything",
                    "Validate a config for a plugin; prints Kafka Connect's validation "
                    "result and exits 1 if any key is invalid. " + _CONFIG_HELP, _validate)
    validate.add_argument("plugin", metavar="PLUGIN")
    _add_config_sources(validate)


def _add_config_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=_json_file, default=None, metavar="FILE.json",
                        help='{"name": ..., "config": {...}} or a flat config object')
    parser.add_argument("--config-json", type=_json_object, default=None, metavar="JSON",
                        help="flat config object, e.g. '{\"connector.class\": \"ioffice\"}'")
    parser.add_argument("--set", type=_key_value, action="append", default=[],
                        metavar="KEY=VALUE", help="set one config key (repeatable)")


# --- argument types (their errors become one-line usage errors, exit 2) -----------------

def _json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _json_file(text: str) -> dict[str, Any]:
    try:
        content = Path(text).read_text(encoding="utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror}") from None
    try:
        return _json_object(content)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc}") from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def _config_from(args: argparse.Namespace, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge the config sources: base (or --file) < --config-json < --set."""
    config = dict(base or {})
    if args.file is not None:
        file_config = args.file.get("config", args.file)
        if not isinstance(file_config, dict):
            _usage(args, "--file: \"config\" must be a JSON object")
        config = {k: v for k, v in file_config.items() if k != "name"}
    if args.config_json is not None:
        if args.file is None:
            config = {}  # a whole config replaces the base; on top of --file it merges
        config.update(args.config_json)
    config.update(dict(args.set))
    return config


def _usage(args: argparse.Namespace, message: str) -> NoReturn:
    args.usage_error(message)
    raise AssertionError("unreachable: usage_error exits")  # pragma: no cover


# --- the HTTP client ---------------------------------------------------------------------

class _Api:
    """A thin client of the admin API: JSON in, JSON out, errors as one line."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = settings_from(args)
        url = args.url or os.environ.get("LGSP_URL")
        if not url:
            url = f"http://127.0.0.1:{settings.port}"
        self.url = url.rstrip("/")
        self._token = resolve_token(args, settings)

    async def call(self, method: str, path: str, body: Any = None,
                   query: Sequence[tuple[str, str]] = ()) -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
                method, self.url + path, data=data, headers=headers, params=list(query)
            ) as response:
                raw = await response.read()
                status = response.status
        except aiohttp.ClientConnectorError as exc:
            reason = ("connection refused" if isinstance(exc.os_error, ConnectionRefusedError)
                      else exc.os_error.strerror or str(exc.os_error))
            raise GatewayError(
                f"cannot reach the gateway admin API at {self.url}: {reason} "
                "(is `lgsp run` running? set --url or LGSP_URL)"
            ) from exc
        except TimeoutError as exc:
            raise GatewayError(
                f"the gateway admin API at {self.url} did not answer within {_TIMEOUT_S:g} s"
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise GatewayError(
                f"request to the gateway admin API at {self.url} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if status >= 400:
            raise GatewayError(_error_message(status, raw))
        return orjson.loads(raw) if raw else None


def _error_message(status: int, raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = str(body["message"])
    else:
        message = f"HTTP {status}: {raw.decode(errors='replace')[:200]}"
    if status == 401:
        return (f"the gateway refused the credentials (401): {message}; give a token with "
                "--token or LGSP_TOKEN (lgsp tokens create)")
    if status == 403:
        return f"not allowed (403): {message}"
    return message


def _path(*parts: str) -> str:
    return "".join("/" + quote(p, safe="") for p in parts)


def _print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _table(rows: Sequence[Sequence[str]]) -> str:
    rows = [[printable(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _first_line(trace: Any) -> str:
    return str(trace).splitlines()[0] if trace else ""


# --- handlers ----------------------------------------------------------------------------

async def _list(args: argparse.Namespace) -> int:
    expanded = await _Api(args).call("GET", "/connectors",
                                     query=[("expand", "status"), ("expand", "info")])
    if args.json:
        _print_json(expanded)
        return 0
    rows = [["NAME", "PLUGIN", "STATE", "ERROR"]]
    for name, entry in sorted(expanded.items()):
        status = entry.get("status", {}).get("connector", {})
        plugin = entry.get("info", {}).get("config", {}).get("connector.class", "")
        rows.append([name, str(plugin), status.get("state", ""),
                     _first_line(status.get("trace"))])
    print(_table(rows) if len(rows) > 1 else "no connectors")
    return 0


async def _create(args: argparse.Namespace) -> int:
    name = args.name or (args.file or {}).get("name")
    if not isinstance(name, str) or not name:
        _usage(args, "give the connector name with --name (or a \"name\" in --file)")
    config = _config_from(args)
    if not config:
        _usage(args, "give the config with --file, --config-json or --set")
    _print_json(await _Api(args).call("POST", "/connectors", {"name": name, "config": config}))
    return 0


async def _get(args: argparse.Namespace) -> int:
    _print_json(await _Api(args).call("GET", _path("connectors", args.name)))
    return 0


async def _status(args: argparse.Namespace) -> int:
    status = await _Api(args).call("GET", _path("connectors", args.name, "status"))
    if args.json:
        _print_json(status)
        return 0
    connector = status["connector"]
    rows = [["NAME", "STATE", "WORKER", "ERROR"],
            [status["name"], connector["state"], connector["worker_id"],
             _first_line(connector.get("trace"))]]
    rows.extend([f"  task {t['id']}", t["state"], t["worker_id"], _first_line(t.get("trace"))]
                for t in status["tasks"])
    print(_table(rows))
    return 0


async def _config(args: argparse.Namespace) -> int:
    api = _Api(args)
    path = _path("connectors", args.name, "config")
    if args.file is None and args.config_json is None and not args.set:
        _print_json(await api.call("GET", path))
        return 0
    base = None
    if args.file is None and args.config_json is None:
        base = await api.call("GET", path)
    _print_json(await api.call("PUT", path, _config_from(args, base)))
    return 0


async def _pause(args: argparse.Namespace) -> int:
    await _Api(args).call("PUT", _path("connectors", args.name, "pause"))
    print(f"connector {args.name} paused")
    return 0


async def _resume(args: argparse.Namespace) -> int:
    await _Api(args).call("PUT", _path("connectors", args.name, "resume"))
    print(f"connector {args.name} resumed")
    return 0


async def _restart(args: argparse.Namespace) -> int:
    query = [("onlyFailed", "true")] if args.only_failed else []
    await _Api(args).call("POST", _path("connectors", args.name, "restart"), query=query)
    print(f"connector {args.name} restart requested")
    return 0


async def _delete(args: argparse.Namespace) -> int:
    await _Api(args).call("DELETE", _path("connectors", args.name))
    print(f"connector {args.name} deleted")
    return 0


async def _plugins(args: argparse.Namespace) -> int:
    _print_json(await _Api(args).call("GET", "/connector-plugins"))
    return 0


async def _validate(args: argparse.Namespace) -> int:
    result = await _Api(args).call(
        "PUT", _path("connector-plugins", args.plugin, "config", "validate"), _config_from(args)
    )
    _print_json(result)
    if result["error_count"]:
        problems = "; ".join(
            f"{c['value']['name']}: {', '.join(c['value']['errors'])}"
            for c in result["configs"] if c["value"]["errors"]
        )
        raise GatewayError(f"{result['error_count']} invalid config value(s): {problems}")
    return 0
