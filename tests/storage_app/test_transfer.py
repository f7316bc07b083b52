"""tus upload and ranged download through the real ASGI server (uvicorn), resumable after a cut."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from django.db import connection

from storage_app.models import UploadReservation, VFolder
from storage_app.services.volumes import vfolder_root
from tests.helpers.net import LiveServer
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}


def _token(api: Api, vfid: str, op: str, body: dict[str, object]) -> tuple[str, str]:
    response = api.call("POST", f"/folders/{vfid}/request-{op}", body)
    assert response.status_code == 200, response.content
    data = response.json()
    return str(data["token"]), urlsplit(str(data["url"])).path


def _patch(
    server: LiveServer, path: str, token: str, offset: int, chunk: bytes, **params: str
) -> httpx.Response:
    return httpx.patch(
        server.url + path,
        params={"token": token, **params},
        headers={**TUS, "Upload-Offset": str(offset)},
        content=chunk,
        timeout=30,
    )


def _cut_patch(
    server: LiveServer, path: str, token: str, offset: int, declared: int, sent: bytes
) -> None:
    """A PATCH that promises `declared` bytes but the connection dies after `sent`."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = (
        f"PATCH {path}?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + sent)
    time.sleep(0.3)
    sock.close()


class TestUpload:
    def test_chunks_land_in_dst_dir_and_count_in_usage(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        data = os.urandom(40000)
        token, path = _token(alice, alice_folder, "upload", {"path": "x.bin", "size": len(data)})
        for offset in range(0, len(data), 16384):
            r = _patch(
                live_api_server, path, token, offset, data[offset : offset + 16384], dst_dir="t/d"
            )
            assert r.status_code == 204, r.text
            assert int(r.headers["Upload-Offset"]) == min(offset + 16384, len(data))
        vfolder = VFolder.objects.get(pk=alice_folder)
        assert (vfolder_root(vfolder) / "t" / "d" / "x.bin").read_bytes() == data
        assert vfolder.cur_size == len(data)

    def test_wrong_offset_is_a_conflict_that_says_where_to_go_on(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        token, path = _token(alice, alice_folder, "upload", {"path": "y", "size": 10})
        r = _patch(live_api_server, path, token, 5, b"12345")
        assert r.status_code == 409
        assert r.headers["Upload-Offset"] == "0"

    def test_resume_after_the_connection_is_cut(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        data = os.urandom(3 * 1024 * 1024)
        token, path = _token(alice, alice_folder, "upload", {"path": "big", "size": len(data)})
        _cut_patch(live_api_server, path, token, 0, len(data), data[: 1024 * 1024 + 123])
        head = httpx.head(live_api_server.url + path, params={"token": token}, timeout=10)
        offset = int(head.headers["Upload-Offset"])
        assert 0 < offset <= 1024 * 1024 + 123
        r = _patch(live_api_server, path, token, offset, data[offset:])
        assert r.status_code == 204, r.text
        stored = (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "big").read_bytes()
        assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()

    def test_a_second_writer_of_the_same_upload_is_refused(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        token, path = _token(alice, alice_folder, "upload", {"path": "z", "size": 100})
        sock = socket.create_connection(("127.0.0.1", live_api_server.port))
        head = (
            f"PATCH {path}?token={token} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: 100\r\n\r\n"
        )
        sock.sendall(head.encode() + b"a" * 10)
        time.sleep(0.5)
        try:
            r = _patch(live_api_server, path, token, 0, b"b" * 100)
            assert r.status_code == 409
        finally:
            sock.close()

    def test_quota_refuses_before_a_byte_is_written(self, alice: Api, alice_folder: str) -> None:
        policy = alice.creds.user.resource_policy
        policy.max_quota_scope_size = 1000
        policy.save()
        r = alice.call(
            "POST", f"/folders/{alice_folder}/request-upload", {"path": "f", "size": 1001}
        )
        assert r.status_code == 400
        assert r.json()["type"].endswith("/vfolder-quota-exceeded")
        assert not (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "f").exists()

    def test_concurrent_request_uploads_cannot_together_pass_the_quota(
        self, alice: Api, alice_folder: str
    ) -> None:
        """Each of 6 simultaneous request-uploads fits the quota alone; only 2 fit together."""
        policy = alice.creds.user.resource_policy
        policy.max_quota_scope_size = 1000
        policy.save()
        body = {"path": "f", "size": 400}

        def request(_: int) -> int:
            try:
                return alice.call(
                    "POST", f"/folders/{alice_folder}/request-upload", body
                ).status_code
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = sorted(pool.map(request, range(6)))
        assert codes == [200, 200, 400, 400, 400, 400]
        assert UploadReservation.objects.filter(vfolder_id=alice_folder).count() == 2

    def test_finished_upload_turns_its_reservation_into_usage(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        policy = alice.creds.user.resource_policy
        policy.max_quota_scope_size = 1000
        policy.save()
        token, path = _token(alice, alice_folder, "upload", {"path": "g", "size": 600})
        assert _patch(live_api_server, path, token, 0, b"x" * 600).status_code == 204
        assert not UploadReservation.objects.filter(vfolder_id=alice_folder).exists()
        assert VFolder.objects.get(pk=alice_folder).cur_size == 600
        r = alice.call(
            "POST", f"/folders/{alice_folder}/request-upload", {"path": "h", "size": 401}
        )
        assert r.status_code == 400
        assert r.json()["data"]["used_bytes"] == 600

    def test_zero_byte_file_exists_at_request_time(self, alice: Api, alice_folder: str) -> None:
        alice.call("POST", f"/folders/{alice_folder}/request-upload", {"path": "empty", "size": 0})
        assert (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "empty").read_bytes() == b""

    def test_forged_token_is_refused(self, live_api_server: LiveServer) -> None:
        r = _patch(live_api_server, "/vfolder-transfer/upload", "forged", 0, b"x")
        assert r.status_code == 403
        assert r.json()["type"].endswith("/vfolder-transfer-token-invalid")


class TestDownload:
    def test_full_and_ranged(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        data = os.urandom(3 * 1024 * 1024 + 7)
        (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "f.bin").write_bytes(data)
        token, path = _token(alice, alice_folder, "download", {"path": "f.bin"})
        full = httpx.get(live_api_server.url + path, params={"token": token}, timeout=30)
        assert full.status_code == 200
        assert int(full.headers["Content-Length"]) == len(data)
        assert full.content == data
        last_modified = full.headers["Last-Modified"]
        part = httpx.get(
            live_api_server.url + path,
            params={"token": token},
            headers={"Range": "bytes=1000-", "If-Range": last_modified},
            timeout=30,
        )
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
        assert part.content == data[1000:]

    def test_upload_token_does_not_download(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        token, _ = _token(alice, alice_folder, "upload", {"path": "q", "size": 3})
        r = httpx.get(live_api_server.url + "/vfolder-transfer/download", params={"token": token})
        assert r.status_code == 403


class TestRevokedAccess:
    def test_a_token_stops_working_once_its_holder_left(
        self, live_api_server: LiveServer, alice: Api, bob: Api, alice_folder: str
    ) -> None:
        alice.call(
            "POST",
            f"/folders/{alice_folder}/invite",
            {"perm": "rw", "user_ids": ["bob@example.com"]},
        )
        inv = bob.call("GET", "/folders/invitations/list").json()["invitations"][0]
        bob.call("POST", "/folders/invitations/accept", {"inv_id": inv["id"]})
        token, path = _token(bob, alice_folder, "upload", {"path": "late", "size": 3})
        assert bob.call("POST", f"/folders/{alice_folder}/leave", {}).status_code == 200
        r = _patch(live_api_server, path, token, 0, b"abc")
        assert r.status_code == 404
        assert not (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "late").exists()


class TestInterleaving:
    def test_two_uploads_to_one_path_never_mix(
        self, live_api_server: LiveServer, alice: Api, alice_folder: str
    ) -> None:
        first, second = b"A" * 300_000, b"B" * 300_000
        token_a, path = _token(alice, alice_folder, "upload", {"path": "same", "size": len(first)})
        token_b, _ = _token(alice, alice_folder, "upload", {"path": "same", "size": len(second)})
        step = 100_000
        for offset in range(0, len(first), step):
            for token, data in ((token_a, first), (token_b, second)):
                r = _patch(live_api_server, path, token, offset, data[offset : offset + step])
                assert r.status_code == 204, r.text
        stored = (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "same").read_bytes()
        assert stored in (first, second)

    def test_options_announces_tus(self, live_api_server: LiveServer) -> None:
        r = httpx.options(live_api_server.url + "/vfolder-transfer/upload")
        assert r.status_code == 204
        assert r.headers["Tus-Version"] == "1.0.0"
