"""Signed, expiring links to a candidate's status page: no login, nothing else revealed.

A link carries the candidacy id and an expiry, signed with HMAC-SHA256 under the
installation's secret key. The key comes from ATS_SECRET_KEY, or is generated
once into ``var/secret_key`` (owner-readable only) and never enters the repository.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path


class LinkInvalid(Exception):
    """The link was altered, is for another installation, or has expired."""


def secret_key(var_dir: Path) -> bytes:
    """ATS_SECRET_KEY if set, else a key generated once beside the database."""
    configured = os.environ.get("ATS_SECRET_KEY")
    if configured:
        return configured.encode()
    path = var_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass  # another process made it a moment ago
    return path.read_text().strip().encode()


def sign(key: bytes, candidacy_id: int, expires: datetime) -> str:
    body = f"{candidacy_id}.{int(expires.timestamp())}"
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def open_link(key: bytes, token: str, *, now: datetime) -> int:
    """The candidacy a link is for; LinkInvalid when altered or expired."""
    try:
        candidacy, expiry, mac = token.split(".")
        expected = sign(key, int(candidacy), datetime.fromtimestamp(int(expiry), UTC)).split(".")[2]
    except ValueError:
        raise LinkInvalid("malformed") from None
    if not hmac.compare_digest(mac, expected):
        raise LinkInvalid("signature")
    if now.timestamp() > int(expiry):
        raise LinkInvalid("expired")
    return int(candidacy)
