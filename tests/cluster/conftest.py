"""The three-broker cluster, started once for each module of this folder that uses it."""

from tests.support.cluster import three_brokers

__all__ = ["three_brokers"]
