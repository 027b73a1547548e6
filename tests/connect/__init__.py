"""Connector runtime and plugin discovery against the real broker."""
