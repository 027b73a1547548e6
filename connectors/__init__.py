"""The built-in connector plugins, one package per provincial system.

- `connectors.ioffice`: polls iOffice's document API (cursor = modified_at + document_id).
- `connectors.one_stop`: a signed webhook the one-stop (administrative procedure) system
  pushes dossier events to; answers 2xx only once Kafka acknowledged them.
- `connectors.reporting`: report exports (CSV, JSON) dropped into a folder.

They are registered under the `lgsp.connectors` entry points like any third-party plugin
and use nothing but the plugin contract (`gateway.connect.plugin`). Their systems'
simulators are in the development kit (`devkit.simulators`, `lgsp simulate ...`).
`_http_server` (serving an aiohttp app on a bound port) is shared by the webhook
connector and the iOffice simulator.
"""
