"""LGSP gateway: provincial systems to the national data exchange platform over Kafka."""

__version__ = "0.1.0"
