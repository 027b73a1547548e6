"""The admin API's credentials in tests: the first-start admin token a gateway wrote."""

from __future__ import annotations

from pathlib import Path

from gateway.auth import default_tokens_file, read_admin_token


def admin_token(state_dir: Path) -> str:
    """The admin token `lgsp run` created in `state_dir` on its first start."""
    token = read_admin_token(default_tokens_file(state_dir))
    assert token is not None, f"no first-start admin token under {state_dir}"
    return token


def bearer(state_dir: Path) -> dict[str, str]:
    """The Authorization header of the first-start admin token."""
    return {"Authorization": f"Bearer {admin_token(state_dir)}"}
