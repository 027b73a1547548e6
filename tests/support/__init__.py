"""Helpers shared by the test suites: the broker fixture's sources and wait-for-condition."""
