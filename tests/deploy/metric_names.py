"""Metric names: which ones an exporter exposes, and which ones a PromQL expression uses.

Reusable beyond the static checks: point `exposed_metric_names` at the text of a live
gateway's /metrics (or the stub's) to check dashboards and alerts against what really
runs, e.g.

    text = urllib.request.urlopen("http://127.0.0.1:8083/metrics").read().decode()
    unknown = unknown_metric_names(exprs, exposed_metric_names(text))

The PromQL reading is lexical, not a full parser: it removes string literals, label
matchers `{...}`, ranges and subqueries `[...]`, grouping clauses (`by (...)`,
`on (...)`, ...) and comments, then keeps the identifiers that are neither keywords nor
function calls. That is exact for the expressions dashboards and alert rules are made
of; a metric selected only through `{__name__="..."}` is picked up as well.
"""

from __future__ import annotations

__all__ = [
    "exposed_metric_names",
    "promql_metric_names",
    "unknown_metric_names",
]

import re
from collections.abc import Iterable, Mapping

# Sample names a metric family of each type produces in the text exposition format.
_SUFFIXES_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "unknown": ("",),
    "stateset": ("",),
    "info": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count"),
}

_TYPE_LINE = re.compile(r"^#\s+TYPE\s+([A-Za-z_:][\w:]*)\s+(\w+)\s*$")
_SAMPLE_LINE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{|\s)")

# PromQL words that look like identifiers but are not metric names.
_KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "offset", "bool", "inf", "nan", "start", "end",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([A-Za-z_:][\w:]*)"')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_COMMENT = re.compile(r"#[^\n]*")
# An identifier not preceded by a word character, `$` or `.` (numbers such as 1e3,
# Grafana variables, durations such as 1w), taken whole, and not followed by "(".
_IDENTIFIER = re.compile(r"(?<![\w:$.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


def exposed_metric_names(exposition: str) -> frozenset[str]:
    """Every sample name the exposition text declares or carries.

    Families come from `# TYPE` lines (a histogram `x` yields x_bucket, x_sum and
    x_count; a counter declared OpenMetrics-style without `_total` also yields the
    `_total` name Prometheus stores); sample lines add whatever else is present.
    """
    names: set[str] = set()
    for line in exposition.splitlines():
        typed = _TYPE_LINE.match(line)
        if typed:
            family, kind = typed.group(1), typed.group(2).lower()
            names.update(family + s for s in _SUFFIXES_BY_TYPE.get(kind, ("",)))
            if kind == "counter" and not family.endswith("_total"):
                names.add(family + "_total")
            continue
        if line.startswith("#"):
            continue
        sample = _SAMPLE_LINE.match(line)
        if sample:
            names.add(sample.group(1))
    return frozenset(names)


def promql_metric_names(expr: str) -> frozenset[str]:
    """The metric names a PromQL expression selects."""
    named = set(_NAME_MATCHER.findall(expr))
    text = _COMMENT.sub(" ", _STRING.sub('""', expr))
    text = _BRACES.sub(" ", text)
    # Subqueries nest brackets only one level deep in practice; repeat until stable.
    previous = None
    while previous != text:
        previous, text = text, _BRACKETS.sub(" ", text)
    previous = None
    while previous != text:
        previous, text = text, _GROUPING.sub(" ", text)
    found = {m for m in _IDENTIFIER.findall(text) if m.lower() not in _KEYWORDS}
    return frozenset(found | named)


def unknown_metric_names(
    exprs: Iterable[str], exposed: frozenset[str], *, allowed: Iterable[str] = ()
) -> dict[str, frozenset[str]]:
    """For each expression that uses a name neither exposed nor allowed: those names."""
    known = exposed | frozenset(allowed)
    unknown: dict[str, frozenset[str]] = {}
    for expr in exprs:
        missing = promql_metric_names(expr) - known
        if missing:
            unknown[expr] = missing
    return unknown
