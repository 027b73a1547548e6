"""The admin REST API, the gateway process and the CLI against the real broker."""
