"""Two users' sessions on the live stack: neither container reaches the other by IP on any of the
runner's port, the image's service ports or a port a user process listens on, while each session
still works for its owner (marker `docker`). Only loopback and this machine's container bridge
addresses are used."""

from __future__ import annotations

import asyncio
import json
import subprocess

import docker
import pytest

from sessions_app.models import Kernel, Session
from sessions_app.services.execute import kernel_endpoint_resolve as resolve
from sessions_app.services.execute import runner_connect
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import Runner as Cli
from tests.helpers.interactive import api
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.docker, pytest.mark.client]

PROBED_PORTS = (2000, 7681, 8080, 9999)  # runner, terminal, http app, a user process

USER_LISTENER = """
import socket, subprocess, sys, time
subprocess.Popen([sys.executable, "-m", "http.server", "9999", "--bind", "0.0.0.0"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", 9999), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
print("listening")
"""


def probe(address: str) -> str:
    return f"""
import json, socket
seen = {{}}
for port in {list(PROBED_PORTS)}:
    sock = socket.socket()
    sock.settimeout(2)
    try:
        sock.connect(({address!r}, port))
        seen[port] = "open"
    except socket.timeout:
        seen[port] = "timeout"
    except OSError:
        seen[port] = "closed"
    finally:
        sock.close()
print(json.dumps(seen))
"""


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"
    return result.stdout


def run_as(creds: Credentials, session: Session, code: str) -> str:
    """Run `code` in the session's kernel on the platform's own path, as its owner."""
    endpoint = resolve(requester=creds.keypair, ref=str(session.pk))

    async def scenario() -> str:
        async with runner_connect(endpoint) as runner:
            result = await runner.run_to_end(await runner.execute(code), timeout=60)
        assert result.exit_code == 0, result.console
        return result.stdout

    return asyncio.run(scenario())


def bridge_address(session: Session) -> str:
    kernel = Kernel.objects.get(session=session)
    client = docker.from_env()
    try:
        networks = client.containers.get(kernel.container_id).attrs["NetworkSettings"]["Networks"]
    finally:
        client.close()
    (address,) = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
    return str(address)


class TestTenantIsolation:
    def test_two_users_sessions_reach_each_other_on_no_port(
        self, platform_stack: Stack, owner: Credentials, stranger: Credentials, cli: Cli
    ) -> None:
        stack = platform_stack
        ok(cli(stack, owner, "session", "create", "python", "-t", "iso-owner"), stack)
        ok(cli(stack, stranger, "session", "create", "python", "-t", "iso-stranger"), stack)
        mine = Session.objects.get(name="iso-owner")
        theirs = Session.objects.get(name="iso-stranger")
        for creds, session in ((owner, mine), (stranger, theirs)):
            status, _ = api(stack, creds, "POST", f"/session/{session.pk}/start-service",
                            {"app": "http"})  # fmt: skip
            assert status == 200
            assert "listening" in run_as(creds, session, USER_LISTENER)

        from_owner = json.loads(run_as(owner, mine, probe(bridge_address(theirs))))
        from_stranger = json.loads(run_as(stranger, theirs, probe(bridge_address(mine))))
        own = json.loads(run_as(owner, mine, probe(bridge_address(mine))))

        assert all(state != "open" for state in from_owner.values()), from_owner
        assert all(state != "open" for state in from_stranger.values()), from_stranger
        assert own == {"2000": "open", "7681": "closed", "8080": "open", "9999": "open"}
