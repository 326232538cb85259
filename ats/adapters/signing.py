"""Ed25519 signatures for audit checkpoints (optional; keys are PEM files named in settings)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ats.errors import ConfigurationError


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the start of its SHA-256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode()


class Verifier:
    def __init__(self, public: Ed25519PublicKey) -> None:
        self._public = public
        self.key_id = key_id(public)

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            self._public.verify(base64.b64decode(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def generate_key(path: Path) -> Signer:
    """Write a new private key (PEM, owner-readable only) and return its signer."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(pem)
    return Signer(private)


def load_signer(path: Path | None) -> Signer | None:
    if path is None:
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"audit_signing_key: cannot read {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"audit_signing_key: {path} is not an Ed25519 private key")
    return Signer(key)


def load_verifier(public_path: Path | None, private_path: Path | None) -> Verifier | None:
    """The public key to check signatures with: given directly, or derived from the signing key."""
    if public_path is not None:
        try:
            key = serialization.load_pem_public_key(public_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"audit_verify_key: cannot read {public_path}: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigurationError(
                f"audit_verify_key: {public_path} is not an Ed25519 public key"
            )
        return Verifier(key)
    signer = load_signer(private_path)
    return Verifier(signer.public) if signer else None
