"""`backend.ai app` through the tcpproxy websocket, session files through the CLI, the pty
websocket, and the cross-user checks on every one of them (marker `docker`)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from sessions_app.errors import KernelRunnerUnavailable
from sessions_app.models import Kernel, Session
from sessions_app.services.execute import kernel_endpoint_resolve as resolve
from sessions_app.services.execute import runner_connect
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import Runner as Cli
from tests.helpers.interactive import api, pty_stdin, ws_open, ws_refused_status
from tests.helpers.net import free_port
from tests.helpers.stack import Stack, client_env
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"
    return result.stdout


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class TestAppsFilesTerminal:
    def test_app_tunnel_files_and_terminal(
        self, platform_stack: Stack, owner: Credentials, stranger: Credentials, cli: Cli,
        official_client: Path, tmp_path: Path,
    ) -> None:  # fmt: skip
        stack = platform_stack
        ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-app"), stack)
        session = Session.objects.get(name="e2e-app")
        sid = str(session.pk)

        status, apps = api(stack, owner, "GET", f"/stream/session/{sid}/apps")
        assert status == 200, (apps, list(session.history.values_list("status", "reason")))
        assert {"name": "http", "protocol": "http", "ports": [8080]} in apps

        # -- files: upload (nested name), ls, download -------------------------------------
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "data.txt").write_text("payload-123\n")
        ok(cli(stack, owner, "session", "upload", "e2e-app", "sub/data.txt"), stack)
        listing = ok(cli(stack, owner, "session", "ls", "e2e-app", "sub"), stack)
        assert "data.txt" in listing
        dest = tmp_path / "down"
        dest.mkdir()
        ok(cli(stack, owner, "session", "download", "e2e-app", "sub/data.txt",
               "--dest", str(dest)), stack)  # fmt: skip
        assert (dest / "data.txt").read_text() == "payload-123\n"
        status, body = api(stack, owner, "GET", f"/session/{sid}/files", {"path": "../../etc"})
        assert status == 400, body

        # -- backend.ai app: the image's http app through a local port -----------------------
        port = free_port()
        tunnel = subprocess.Popen(
            [str(official_client), "app", "e2e-app", "http", "-b", f"127.0.0.1:{port}"],
            cwd=tmp_path, env=client_env(official_client, stack, owner, tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: port_open(port), 30, "the local app port")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/sub/data.txt", timeout=30) as r:
                assert r.status == 200
                assert r.read() == b"payload-123\n"
        except Exception:
            tunnel.terminate()
            print(tunnel.communicate(timeout=20)[0], stack.logs())
            raise
        finally:
            tunnel.terminate()
            tunnel.wait(timeout=20)

        # -- backend.ai app terminal: the raw terminal, tunnelled through the runner ----------
        assert "terminal" not in Kernel.objects.get(session=session).host_ports
        port = free_port()
        tunnel = subprocess.Popen(
            [str(official_client), "app", "e2e-app", "terminal", "-b", f"127.0.0.1:{port}"],
            cwd=tmp_path, env=client_env(official_client, stack, owner, tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: port_open(port), 30, "the local terminal port")
            with socket.create_connection(("127.0.0.1", port), timeout=30) as term:
                term.sendall(b"echo term$((40+2))\n")
                shell_output = b""
                while b"term42" not in shell_output:
                    chunk = term.recv(4096)
                    if not chunk:
                        break
                    shell_output += chunk
            assert b"term42" in shell_output
        except Exception:
            tunnel.terminate()
            print(tunnel.communicate(timeout=20)[0], stack.logs())
            raise
        finally:
            tunnel.terminate()
            tunnel.wait(timeout=20)

        # -- pty websocket --------------------------------------------------------------------
        async def terminal() -> bytes:
            output = b""
            async with ws_open(stack, owner, f"/stream/session/{sid}/pty") as ws:
                await ws.send(json.dumps({"type": "resize", "rows": 30, "cols": 100}))
                await ws.send(pty_stdin("echo hi$((40+2))\n"))
                await ws.send(json.dumps({"type": "ping"}))
                async with asyncio.timeout(20):
                    while b"hi42" not in output:
                        frame = json.loads(await ws.recv())
                        if frame["type"] == "out":
                            output += base64.b64decode(frame["data"])
            return output

        assert b"hi42" in asyncio.run(terminal())

        # -- another user gets 4xx and no bytes ------------------------------------------------
        for path in ("execute", "pty", "tcpproxy?app=http", "tcpproxy?app=terminal"):
            code = ws_refused_status(stack, stranger, f"/stream/session/{sid}/{path}")
            assert code in (403, 404), (path, code)
        for method, path, body in [
            ("POST", f"/session/{sid}", {"mode": "query", "code": "print(1)"}),
            ("POST", f"/session/{sid}/interrupt", None),
            ("GET", f"/stream/session/{sid}/apps", None),
            ("POST", f"/session/{sid}/start-service", {"app": "http"}),
            ("GET", f"/session/{sid}/files", {"path": "."}),
            ("POST", f"/session/{sid}/download?files=sub/data.txt", None),
        ]:
            status, reply = api(stack, stranger, method, path, body)
            assert status in (403, 404), (path, status, reply)
            assert b"payload" not in json.dumps(reply).encode()

        # -- the runner refuses a wrong secret on our code path ---------------------------------
        endpoint = resolve(requester=owner.keypair, ref=sid)
        kernel = Kernel.objects.get(session=session)
        assert endpoint.runner_port == kernel.runner_port
        wrong = dataclasses.replace(endpoint, secret="not-the-secret")

        async def refused() -> None:
            async with runner_connect(wrong):
                raise AssertionError("the runner accepted a wrong secret")

        with pytest.raises(KernelRunnerUnavailable):
            asyncio.run(refused())
