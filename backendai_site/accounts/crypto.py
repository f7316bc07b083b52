"""Encryption at rest for keypair secrets (Fernet, key from the site config)."""

from __future__ import annotations

import secrets
import string
from functools import lru_cache

from cryptography.fernet import Fernet

from backendai_site.config import get_config

ACCESS_KEY_PREFIX = "AKIA"
ACCESS_KEY_LENGTH = 20
SECRET_KEY_LENGTH = 40
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_KEY_ALPHABET = string.ascii_letters + string.digits


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    return Fernet(get_config().resolved_keypair_encryption_key())


def encrypt_secret(secret_key: str) -> str:
    return _fernet().encrypt(secret_key.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def generate_access_key() -> str:
    """`AKIA` + 16 random upper-case letters and digits (20 characters, like Backend.AI)."""
    body = "".join(
        secrets.choice(_ACCESS_KEY_ALPHABET)
        for _ in range(ACCESS_KEY_LENGTH - len(ACCESS_KEY_PREFIX))
    )
    return ACCESS_KEY_PREFIX + body


def generate_secret_key() -> str:
    return "".join(secrets.choice(_SECRET_KEY_ALPHABET) for _ in range(SECRET_KEY_LENGTH))
