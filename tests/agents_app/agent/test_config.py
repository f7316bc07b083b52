"""AgentConfig: `BAI_AGENT_*` variables, then the TOML file named by BAI_AGENT_CONFIG_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents_app.agent.config import CONFIG_FILE_ENV, AgentConfig


class TestAgentConfig:
    def test_reads_its_toml_file_and_the_environment_wins(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "agent.toml"
        path.write_text('id = "i-from-file"\nresource_group = "gpu"\nconcurrency = 2\n')
        monkeypatch.setenv(CONFIG_FILE_ENV, str(path))
        monkeypatch.setenv("BAI_AGENT_CONCURRENCY", "7")

        config = AgentConfig()

        assert (config.id, config.resource_group, config.concurrency) == ("i-from-file", "gpu", 7)

    def test_ignores_the_site_config_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "site.toml"
        path.write_text('resource_group = "not-for-agents"\n')
        monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
        monkeypatch.setenv("BAI_CONFIG_FILE", str(path))

        assert AgentConfig().resource_group == "default"
