"""Checks of the operator kit in deploy/: alert rules, dashboard, container, Kubernetes."""
