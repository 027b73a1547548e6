"""The signed, hash-chained audit trail of every change made through the API or CLI."""
