"""The SSH keypair of an access key (`/auth/ssh-keypair`, docs/compat/ssh.md).

Every session of the access key gets it: the public key in `~/.ssh/authorized_keys`, the private
key as `~/id_container`, which `backend.ai session ssh/scp` download before connecting to the
session's sshd. A keypair without one gets one when it is first asked for (GET) or first needed
(a session starting); its owner may generate a new one (PATCH) or upload their own (POST). The
private key is stored Fernet-encrypted like the API secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from backendai_site.common.errors import InvalidAPIParameters

from .crypto import decrypt_secret, encrypt_secret
from .models import KeyPair

log = logging.getLogger(__name__)

RSA_KEY_BITS = 2048
MAX_KEY_CHARS = 16 * 1024


class InvalidSSHKeypair(InvalidAPIParameters):
    error_type = "invalid-ssh-keypair"
    title = "The SSH keypair is invalid."


@dataclass(frozen=True)
class SSHKeypair:
    public_key: str  # OpenSSH one-line format, "ssh-rsa AAAA... "
    private_key: str  # PEM (or the OpenSSH private key format, when uploaded so)


def ssh_keypair_generate() -> SSHKeypair:
    """A fresh RSA keypair: the private key as traditional PEM, which every OpenSSH reads."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return SSHKeypair(public_key=public.decode(), private_key=private_pem)


def _load_private_key(text: str) -> PrivateKeyTypes:
    data = text.encode()
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            return serialization.load_ssh_private_key(data, password=None)
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InvalidSSHKeypair("The private key must not be protected by a passphrase.") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidSSHKeypair("The private key is not a PEM or OpenSSH private key.") from None


def ssh_keypair_validate(*, public_key: str, private_key: str) -> SSHKeypair:
    """An uploaded pair, checked: both parse, and the public key is the private key's."""
    public_key, private_key = public_key.strip(), private_key.strip()
    if not public_key or not private_key:
        raise InvalidSSHKeypair("Both pubkey and privkey are required.")
    if len(public_key) > MAX_KEY_CHARS or len(private_key) > MAX_KEY_CHARS:
        raise InvalidSSHKeypair(f"A key may have at most {MAX_KEY_CHARS} characters.")
    if "\n" in public_key:
        raise InvalidSSHKeypair("The public key must be one line in the OpenSSH format.")
    try:
        serialization.load_ssh_public_key(public_key.encode())
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidSSHKeypair("The public key is not in the OpenSSH format.") from None
    derived = (
        _load_private_key(private_key)
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    # Compare type and key material only: the comment after them is free text.
    if derived.split()[:2] != public_key.split()[:2]:
        raise InvalidSSHKeypair("The public key does not belong to the private key.")
    return SSHKeypair(public_key=public_key, private_key=private_key + "\n")


def _store(keypair: KeyPair, pair: SSHKeypair) -> None:
    keypair.ssh_public_key = pair.public_key
    keypair.ssh_private_key_encrypted = encrypt_secret(pair.private_key)
    keypair.save(update_fields=["ssh_public_key", "ssh_private_key_encrypted", "modified_at"])


def ssh_keypair_ensure(*, keypair: KeyPair) -> SSHKeypair:
    """The access key's SSH keypair, made now when it has none. Two callers racing store only
    the first one's pair (a conditional update), and both return that one."""
    if not keypair.ssh_public_key:
        fresh = ssh_keypair_generate()
        KeyPair.objects.filter(pk=keypair.pk, ssh_public_key="").update(
            ssh_public_key=fresh.public_key,
            ssh_private_key_encrypted=encrypt_secret(fresh.private_key),
        )
        keypair.refresh_from_db(fields=["ssh_public_key", "ssh_private_key_encrypted"])
        log.info("ssh keypair generated", extra={"access_key": keypair.pk})
    return SSHKeypair(
        public_key=keypair.ssh_public_key,
        private_key=decrypt_secret(keypair.ssh_private_key_encrypted),
    )


def ssh_keypair_regenerate(*, keypair: KeyPair) -> SSHKeypair:
    """Replace the access key's SSH keypair with a fresh one (sessions started later get it)."""
    pair = ssh_keypair_generate()
    _store(keypair, pair)
    log.info("ssh keypair regenerated", extra={"access_key": keypair.pk})
    return pair


def ssh_keypair_upload(*, keypair: KeyPair, public_key: str, private_key: str) -> SSHKeypair:
    """Replace the access key's SSH keypair with the owner's own, once it is shown consistent."""
    pair = ssh_keypair_validate(public_key=public_key, private_key=private_key)
    _store(keypair, pair)
    log.info("ssh keypair uploaded", extra={"access_key": keypair.pk})
    return pair
