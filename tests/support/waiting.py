"""Wait for a condition instead of sleeping a fixed time (defined in the installed kit)."""

from gateway.testing.waiting import wait_for

__all__ = ["wait_for"]
