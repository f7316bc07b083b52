"""`/auth/ssh-keypair` (GET/PATCH/POST as the official client's AuthClient calls them): each
access key's own SSH keypair, generated when first asked for, replaceable by its owner only."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.test import Client

from backendai_site.accounts.models import KeyPair
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db

URL = "/auth/ssh-keypair"


def public_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def ed25519_pair(comment: str = "me@laptop") -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode() + " " + comment, private


def upload(client: Client, creds: Credentials, public: str, private: str) -> Any:
    return api_call(client, creds, "POST", URL, {"pubkey": public, "privkey": private})


class TestSSHKeypair:
    def test_get_makes_one_keypair_and_keeps_it(self, client: Client, world: ComputeWorld) -> None:
        first = api_call(client, world.user, "GET", URL)
        second = api_call(client, world.user, "GET", URL)

        assert first.status_code == 200, first.content
        assert set(first.json()) == {"ssh_public_key"}
        public = first.json()["ssh_public_key"]
        assert public.startswith("ssh-rsa ")
        serialization.load_ssh_public_key(public.encode())
        assert second.json()["ssh_public_key"] == public
        stored = KeyPair.objects.get(pk=world.user.access_key)
        assert stored.ssh_public_key == public
        # encrypted at rest: no PEM armour in the column
        assert stored.ssh_private_key_encrypted
        assert "PRIVATE KEY" not in stored.ssh_private_key_encrypted

    def test_patch_replaces_it_with_a_fresh_consistent_pair(
        self, client: Client, world: ComputeWorld
    ) -> None:
        before = api_call(client, world.user, "GET", URL).json()["ssh_public_key"]

        response = api_call(client, world.user, "PATCH", URL)

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["ssh_public_key"] != before
        assert public_of(body["ssh_private_key"]) == body["ssh_public_key"]
        assert api_call(client, world.user, "GET", URL).json() == {
            "ssh_public_key": body["ssh_public_key"]
        }

    def test_post_stores_the_owners_own_pair(self, client: Client, world: ComputeWorld) -> None:
        public, private = ed25519_pair()

        response = upload(client, world.user, public, private)

        assert response.status_code == 200, response.content
        assert response.json()["ssh_public_key"] == public
        assert response.json()["ssh_private_key"].strip() == private.strip()
        assert api_call(client, world.user, "GET", URL).json()["ssh_public_key"] == public

    @pytest.mark.parametrize("case", ["mismatch", "bad-public", "bad-private", "passphrase"])
    def test_post_refuses_an_inconsistent_or_unreadable_pair(
        self, client: Client, world: ComputeWorld, case: str
    ) -> None:
        before = api_call(client, world.user, "GET", URL).json()["ssh_public_key"]
        public, private = ed25519_pair()
        other_public, _ = ed25519_pair()
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        protected = rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(b"secret-pass"),
        ).decode()
        rsa_public = public_of(
            rsa_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode()
        )
        pairs = {
            "mismatch": (other_public, private),
            "bad-public": ("ssh-rsa not-base64!", private),
            "bad-private": (public, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"),
            "passphrase": (rsa_public, protected),
        }

        response = upload(client, world.user, *pairs[case])

        assert response.status_code == 400, response.content
        assert problem_type(response) == "invalid-ssh-keypair"
        assert KeyPair.objects.get(pk=world.user.access_key).ssh_public_key == before

    def test_post_without_both_keys_is_a_parameter_error(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = api_call(client, world.user, "POST", URL, {"pubkey": "ssh-ed25519 AAAA"})

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"

    def test_unsigned_requests_are_refused(self, client: Client, world: ComputeWorld) -> None:
        assert client.get(URL).status_code == 401
        assert client.patch(URL).status_code == 401


class TestSSHKeypairIsolation:
    def test_a_user_reaches_only_their_own_keypair(
        self, client: Client, world: ComputeWorld
    ) -> None:
        victim = make_member(world.project, "ssh-victim@example.com")
        attacker = make_member(world.project, "ssh-attacker@example.com")
        victim_public = api_call(client, victim, "GET", URL).json()["ssh_public_key"]

        seen = api_call(client, attacker, "GET", URL).json()["ssh_public_key"]
        regenerated = api_call(client, attacker, "PATCH", URL).json()
        public, private = ed25519_pair()
        uploaded = upload(client, attacker, public, private)

        assert seen != victim_public
        assert victim_public not in (
            regenerated["ssh_public_key"],
            uploaded.json()["ssh_public_key"],
        )
        # the victim's pair is untouched by all of it
        assert api_call(client, victim, "GET", URL).json()["ssh_public_key"] == victim_public
        assert KeyPair.objects.get(pk=victim.access_key).ssh_public_key == victim_public
        assert KeyPair.objects.get(pk=attacker.access_key).ssh_public_key == public

    def test_an_admin_gets_their_own_keypair_not_a_users(
        self, client: Client, world: ComputeWorld
    ) -> None:
        user_public = api_call(client, world.user, "GET", URL).json()["ssh_public_key"]

        admin_public = api_call(client, world.admin, "GET", URL).json()["ssh_public_key"]

        assert admin_public != user_public
