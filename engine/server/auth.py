"""The API token: from CHUTE_TOKEN, else generated once into state/token with mode 0600.

Never logged, never served: the engine prints where it is, and to a terminal the value itself.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)
ENV = "CHUTE_TOKEN"


def load_or_create(state_dir: Path, env: str = ENV, filename: str = "token") -> tuple[str, str]:
    """(token, where it came from: 'env' or the file path)."""
    value = os.environ.get(env, "").strip()
    if value:
        return value, "env"
    path = Path(state_dir) / filename
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); tightening it to 0600", path, mode)
            path.chmod(0o600)
        token = path.read_text().strip()
        if not token:
            raise ValueError(f"{path} is empty: delete it to have a new token generated") from None
        return token, str(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, str(path)


def check(header: str | None, token: str) -> bool:
    """Constant-time check of an `Authorization: Bearer <token>` header.

    The scheme is case-insensitive (RFC 7235 section 2.1): `bearer`, `BEARER` and `Bearer` all count.
    """
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())
