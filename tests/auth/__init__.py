"""Authentication, roles, local tokens and the signed audit trail (issue 14)."""
