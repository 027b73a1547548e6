"""The tests' PostgreSQL server: the development kit's throw-away server."""

from devkit.bench.postgres_server import PostgresServer, postgres_bin_dir

__all__ = ["PostgresServer", "postgres_bin_dir"]
