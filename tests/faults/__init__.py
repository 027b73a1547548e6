"""Fault suite: nothing lost, nothing doubled, under crashes, outages and bad data."""
