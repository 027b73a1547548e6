"""The built-in connector plugins, one package per provincial system, each with a simulator.

- `connectors.ioffice`: polls iOffice's document API (cursor = modified_at + document_id).
- `connectors.one_stop`: a signed webhook the one-stop (administrative procedure) system
  pushes dossier events to; answers 2xx only once Kafka acknowledged them.
- `connectors.reporting`: report exports (CSV, JSON) dropped into a folder.

They are registered under the `lgsp.connectors` entry points like any third-party plugin
and use nothing but the plugin contract (`gateway.connect.plugin`). Each package's
`simulator` module is a real stand-in for its system (`lgsp simulate ...`), importable by
tests and benchmarks. Shared by several of them: `_backoff` (retry pauses),
`_http_server` (serving an aiohttp app on a bound port) and `_synthetic` (plausible
Vietnamese names, agency codes and identity numbers for the simulators).
"""
