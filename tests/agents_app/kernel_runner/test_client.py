"""`RunnerClient` against the real runner package started on the host (no container)."""

from __future__ import annotations

from agents_app.kernel_runner.client import RunnerClient
from tests.helpers.host_runner import RUNNER_SECRET

SECRET = RUNNER_SECRET


class TestRunnerClientConnected:
    async def test_connected_while_open_and_not_after_close(self, runner_port: int) -> None:
        client = RunnerClient("127.0.0.1", runner_port, SECRET)
        assert not client.connected

        await client.connect()
        connected_while_open = client.connected
        result = await client.execute("print(6 * 7)")
        await client.close()

        assert connected_while_open
        assert result.stdout == "42\n"
        assert not client.connected
