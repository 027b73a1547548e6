"""`make demo`: the whole gateway on one machine, with traffic, an outage and a replay.

`python -m devkit.demo` starts (or reuses) the local Kafka broker, the national-exchange
stub, the gateway, a real Prometheus with the repository's scrape config and alert rules,
and simulated iOffice, one-stop and reporting systems; registers their connectors through
the admin API; drives bounded traffic while the national endpoint goes down for a while;
replays the dead letters; and prints where to look. `--once` stops after that (a smoke
test); by default it runs on until Ctrl-C. `python -m devkit.demo stop` stops a demo
running elsewhere. Modules: `options` (CLI and environment), `processes` (children),
`services` (starting them), `connectors`, `traffic`, `probes` (HTTP and /metrics),
`prometheus`, `sight` (what Prometheus saw), `report` (console), `scenario` (the story),
`main` (signals, pid file, exit codes).
"""

from devkit.demo.main import main

__all__ = ["main"]
