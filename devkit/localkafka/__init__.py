"""The project's own single-node Apache Kafka broker (KRaft), run from Maven Central jars.

Used by `lgsp kafka up|down|status`, by the test fixtures when no other broker is given,
and by the demo and benchmarks. Jars are fetched with Maven into an ignored cache folder.
"""

from devkit.localkafka._broker import BrokerStatus, LocalBroker, free_port

__all__ = ["BrokerStatus", "LocalBroker", "free_port"]
