"""The development kit: everything that stands in for the world around the gateway.

Not production code, and not in the container image: the national-exchange stub
(`devkit.stub`, `lgsp stub`), simulators of the provincial systems (`devkit.simulators`,
`lgsp simulate`), the local Kafka broker (`devkit.localkafka`, `lgsp kafka`), the
benchmark (`devkit.bench`, `lgsp bench`) and the demo (`devkit.demo`, `make demo`).

It is a distribution of its own (`lgsp-devkit`, `devkit/pyproject.toml`) that the
gateway's `dev` extra installs. It may import the gateway; the gateway never imports it
except lazily, from the `lgsp` subcommands that run these tools.
"""
