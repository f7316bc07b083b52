"""Two tenants' kernels cannot reach each other by IP on any port, and each still works for its
owner. Only loopback (published ports) and this machine's container bridge addresses are used."""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from docker.errors import NotFound

from agents_app.kernel_runner.client import RunnerClient
from agents_app.runtime import KernelInfo, KernelSpec, RuntimeBackendError
from agents_app.runtime.docker_runtime import DockerRuntime
from agents_app.runtime.networks import ICC_OPTION

pytestmark = pytest.mark.docker

RUNNER_PORT = 2000
TERMINAL_PORT = 7681
HTTP_PORT = 8080
USER_PORT = 9999
PROBED_PORTS = (RUNNER_PORT, TERMINAL_PORT, HTTP_PORT, USER_PORT)

START_USER_LISTENER = f"""
import socket, subprocess, sys, time
subprocess.Popen([sys.executable, "-m", "http.server", "{USER_PORT}", "--bind", "0.0.0.0"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", {USER_PORT}), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
print("listening")
"""


def probe_code(address: str) -> str:
    """Code that tries each probed port of `address` and prints {port: open|closed|timeout}."""
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


async def _execute(info: KernelInfo, secret: str, code: str) -> str:
    assert info.runner_port is not None
    async with RunnerClient("127.0.0.1", info.runner_port, secret) as client:
        result = await client.run_to_end(await client.execute(code), timeout=60)
    assert result.exit_code == 0, result.console
    return result.stdout


def _address(docker_client: docker.DockerClient, info: KernelInfo) -> str:
    attrs = docker_client.containers.get(info.container_id).attrs
    networks = attrs["NetworkSettings"]["Networks"]
    (address,) = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
    return str(address)


@pytest.fixture
def kernel_network(docker_client: docker.DockerClient) -> Iterator[str]:
    """A network name of this test's own (the runtime creates it); removed afterwards with
    the test's containers on it."""
    name = f"bai-test-kernels-{uuid.uuid4().hex[:8]}"
    yield name
    for network in docker_client.networks.list(names=[name]):
        with contextlib.suppress(NotFound):
            network.reload()
            for container_id in network.attrs.get("Containers") or {}:
                with contextlib.suppress(NotFound):
                    docker_client.containers.get(container_id).remove(force=True)
            network.remove()


@pytest.fixture
def isolated_runtime(
    make_runtime: Callable[..., DockerRuntime], kernel_network: str
) -> DockerRuntime:
    return make_runtime(kernel_network=kernel_network)


def _ports_seen(stdout: str) -> dict[int, str]:
    return {int(port): state for port, state in json.loads(stdout.strip()).items()}


class TestTenantIsolation:
    def test_two_owners_kernels_reach_each_other_on_no_port(
        self,
        isolated_runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        docker_client: docker.DockerClient,
        kernel_network: str,
        run: Callable[..., Any],
    ) -> None:
        runtime = isolated_runtime
        alice = make_spec(owner_access_key="AKALICE")
        bob = make_spec(owner_access_key="AKBOB")
        alice_info = runtime.create_kernel(alice)
        bob_info = runtime.create_kernel(bob)
        alice_ip = _address(docker_client, alice_info)
        bob_ip = _address(docker_client, bob_info)

        async def prepare() -> None:  # bob's http app and a port of bob's own process
            assert bob_info.runner_port is not None
            async with RunnerClient("127.0.0.1", bob_info.runner_port, bob.runner_secret) as c:
                await c.start_service("http")
            assert "listening" in await _execute(bob_info, bob.runner_secret, START_USER_LISTENER)
            assert "listening" in await _execute(
                alice_info, alice.runner_secret, START_USER_LISTENER
            )

        run(prepare())
        from_alice = _ports_seen(run(_execute(alice_info, alice.runner_secret, probe_code(bob_ip))))
        from_bob = _ports_seen(run(_execute(bob_info, bob.runner_secret, probe_code(alice_ip))))
        bob_to_itself = _ports_seen(run(_execute(bob_info, bob.runner_secret, probe_code(bob_ip))))
        with urllib.request.urlopen(
            f"http://127.0.0.1:{bob_info.host_ports['http']}/", timeout=10
        ) as response:
            bob_app_status = response.status

        assert all(state != "open" for state in from_alice.values()), from_alice
        assert all(state != "open" for state in from_bob.values()), from_bob
        # the ports are there (bob reaches them himself); the terminal listens nowhere
        assert bob_to_itself == {
            RUNNER_PORT: "open", TERMINAL_PORT: "closed", HTTP_PORT: "open", USER_PORT: "open",
        }  # fmt: skip
        assert bob_app_status == 200  # the owner's app still works through its published port
        network = docker_client.networks.get(kernel_network)
        assert network.attrs["Options"][ICC_OPTION] == "false"
        assert {alice_info.container_id, bob_info.container_id} <= set(
            network.attrs.get("Containers") or {}
        )

    def test_a_cluster_session_reaches_no_single_kernel_session(
        self,
        isolated_runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        docker_client: docker.DockerClient,
        run: Callable[..., Any],
    ) -> None:
        runtime = isolated_runtime
        lone = make_spec(owner_access_key="AKLONE")
        cluster = make_spec(
            owner_access_key="AKCLUSTER", network=f"bai-test-{uuid.uuid4().hex[:8]}"
        )
        lone_info = runtime.create_kernel(lone)
        cluster_info = runtime.create_kernel(cluster)
        run(_execute(lone_info, lone.runner_secret, START_USER_LISTENER))

        seen = _ports_seen(
            run(
                _execute(
                    cluster_info,
                    cluster.runner_secret,
                    probe_code(_address(docker_client, lone_info)),
                )
            )
        )
        runtime.destroy_kernel(cluster.kernel_id, timeout=2)

        assert all(state != "open" for state in seen.values()), seen


class TestKernelNetwork:
    def test_a_network_that_lets_containers_talk_is_refused(
        self, make_runtime: Callable[..., DockerRuntime], docker_client: docker.DockerClient
    ) -> None:
        name = f"bai-test-icc-{uuid.uuid4().hex[:8]}"
        docker_client.networks.create(name, driver="bridge")
        try:
            with pytest.raises(RuntimeBackendError, match="enable_icc"):
                make_runtime(kernel_network=name)
        finally:
            docker_client.networks.get(name).remove()
