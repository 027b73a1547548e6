"""Real stand-ins for the provincial systems, for the demo, the tests and the benchmark.

- `ioffice`: an HTTP server with iOffice's document API (paged, modified-since).
- `one_stop`: a sender of signed dossier events to the one-stop webhook connector.
- `reporting`: a writer of CSV and JSON report exports into a drop folder.
- `_synthetic`: plausible Vietnamese names, agency codes and identity numbers.
"""
