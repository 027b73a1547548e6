"""Who may call the admin API: local tokens, identity-provider JWTs, and the role table.

```
roles.py          the one role table: operation -> role needed (and its audit action)
tokens.py         local API tokens, only salted hashes on disk, re-read on change
oidc.py           identity-provider JWTs checked against a JWKS (PyJWT)
authenticator.py  settings -> checks; the first-start admin token
```
"""

from gateway.auth.authenticator import ANONYMOUS, Authenticator, ensure_first_admin, tokens_file
from gateway.auth.oidc import ALGORITHMS, JwksSource, OidcVerifier, roles_at
from gateway.auth.principal import Principal
from gateway.auth.roles import (
    PUBLIC_PATHS,
    ROLE_TABLE,
    ROLES,
    SESSION_PREFIXES,
    Permission,
    Role,
    allows,
    permission_for,
    role_named,
    uses_session,
)
from gateway.auth.tokens import (
    ADMIN_TOKEN_FILE,
    StoredToken,
    TokenStore,
    default_tokens_file,
    read_admin_token,
)

__all__ = [
    "ADMIN_TOKEN_FILE",
    "ALGORITHMS",
    "ANONYMOUS",
    "PUBLIC_PATHS",
    "ROLES",
    "ROLE_TABLE",
    "SESSION_PREFIXES",
    "Authenticator",
    "JwksSource",
    "OidcVerifier",
    "Permission",
    "Principal",
    "Role",
    "StoredToken",
    "TokenStore",
    "allows",
    "default_tokens_file",
    "ensure_first_admin",
    "permission_for",
    "read_admin_token",
    "role_named",
    "roles_at",
    "tokens_file",
    "uses_session",
]
