from __future__ import annotations

import subprocess
import sys

import pytest

from backendai_site.config import SiteConfig, load_config


class TestSiteConfig:
    def test_reads_prefixed_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BAI_LOG_LEVEL", "debug")
        monkeypatch.setenv("BAI_RATE_LIMIT_WINDOW_SECONDS", "60")

        config = SiteConfig()

        assert (config.log_level, config.rate_limit_window_seconds) == ("DEBUG", 60)

    def test_reads_toml_file(self, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
        from pathlib import Path

        path = Path(str(tmp_path)) / "site.toml"
        path.write_text('announcement = "maintenance at noon"\nlogin_max_failures = 3\n')
        monkeypatch.setenv("BAI_CONFIG_FILE", str(path))

        config = SiteConfig()

        assert (config.announcement, config.login_max_failures) == ("maintenance at noon", 3)

    def test_bad_values_exit_with_one_line_each(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("BAI_LOG_LEVEL", "loud")
        monkeypatch.setenv("BAI_RATE_LIMIT_WINDOW_SECONDS", "-5")
        monkeypatch.setenv("DATABASE_URL", "mysql://x")

        with pytest.raises(SystemExit) as exc:
            load_config()

        lines = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2
        assert len(lines) == 3
        assert all(line.startswith("config error: BAI_") for line in lines)

    def test_manage_py_fails_fast_on_bad_config(self) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            env={"BAI_LOG_LEVEL": "loud", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode == 2
        assert "config error: BAI_LOG_LEVEL" in result.stderr
        assert "Traceback" not in result.stderr
