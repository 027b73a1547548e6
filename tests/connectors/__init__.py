"""Connector plugins against the real broker: the shared contract suite and per-plugin tests."""
