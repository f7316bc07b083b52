"""Site configuration: the only reader of the environment.

Every setting comes from a `BAI_`-prefixed environment variable (a few well-known names such as
`DATABASE_URL` and `REDIS_URL` are accepted as they are) or from an optional TOML file named by
`BAI_CONFIG_FILE`. A bad value stops the process at start-up with one line per problem.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BASE_DIR = Path(__file__).resolve().parent.parent
API_VERSION = "v9.20250722"
MANAGER_VERSION = "0.1.0"


def _default_data_dir() -> Path:
    return BASE_DIR / ".data"


class SiteConfig(BaseSettings):
    """Configuration for every process role (web, worker, beat, agent tools)."""

    model_config = SettingsConfigDict(
        env_prefix="BAI_",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    debug: bool = False
    secret_key: str | None = Field(
        default=None,
        description="Django secret key; generated once into the data folder when unset.",
    )
    keypair_encryption_key: str | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) encrypting keypair secrets at rest; "
        "derived from the secret key when unset.",
    )
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "BAI_DATABASE_URL")
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "BAI_REDIS_URL"),
    )
    allowed_hosts: list[str] = Field(default_factory=lambda: ["*"])
    csrf_trusted_origins: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = True
    # request signing and rate limits
    auth_max_clock_skew_seconds: int = Field(default=900, gt=0)
    rate_limit_window_seconds: int = Field(default=900, gt=0)
    login_max_failures: int = Field(default=10, gt=0)
    # announcement shown by the official client once per message
    announcement: str = ""
    # where the web role is reachable, written into credentials and printed by the quick start
    public_endpoint: str = "http://127.0.0.1:8090"
    # agents (manager side) and the scheduler
    agents_lost_timeout: float = Field(default=30.0, gt=0)
    agents_sweep_interval: float = Field(default=10.0, gt=0)
    agents_command_reply_timeout: float = Field(default=30.0, gt=0)
    # session files (sessions_app.services.files): the most bytes one upload request may write
    sessions_upload_max_bytes: int = Field(default=1024**3, gt=0)
    scheduler_backstop_interval: float = Field(default=5.0, gt=0)
    scheduler_hint_debounce: float = Field(default=0.0, ge=0)
    # idle checks (sessions_app.services.idle): how often beat runs them, and the utilization
    # checker (a window of 0 disables it)
    idle_check_interval: float = Field(default=10.0, gt=0)
    idle_utilization_window: float = Field(default=0.0, ge=0)
    idle_utilization_grace: float = Field(default=300.0, ge=0)
    idle_utilization_cpu_percent: float = Field(default=1.0, ge=0, le=100)
    idle_utilization_mem_percent: float = Field(default=10.0, ge=0, le=100)
    # browser access to in-container HTTP apps (proxy_app.apps_proxy): `<token>.<apps_domain>`
    # on the web port, or, when apps_port_range is set, one listener port per open app
    apps_domain: str = "apps.localhost"
    apps_port_range: tuple[int, int] | None = None
    apps_token_ttl: float = Field(default=120.0, gt=0)
    apps_cookie_max_age: int = Field(default=12 * 3600, gt=0)

    # benchmarks only (bench/): a URLconf that mounts bench-only baseline views; never in production
    bench_root_urlconf: str | None = None

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL (PostgreSQL is the only database)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("BAI_CONFIG_FILE")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)

    def resolved_secret_key(self) -> str:
        """The Django secret key, created once under the data folder when not configured."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def resolved_keypair_encryption_key(self) -> bytes:
        """The Fernet key protecting keypair secrets at rest."""
        if self.keypair_encryption_key:
            return self.keypair_encryption_key.encode()
        digest = hashlib.sha256(b"bai-keypair-secrets:" + self.resolved_secret_key().encode())
        return base64.urlsafe_b64encode(digest.digest())


def format_config_errors(error: ValidationError) -> list[str]:
    """One readable line per invalid setting, naming the variable to fix."""
    lines: list[str] = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        lines.append(f"config error: BAI_{field.upper()}: {item['msg']}")
    return lines


def load_config(**overrides: Any) -> SiteConfig:
    """Load the configuration or exit with one line per problem."""
    try:
        return SiteConfig(**overrides)
    except ValidationError as exc:
        for line in format_config_errors(exc):
            print(line, file=sys.stderr)
        raise SystemExit(2) from None


@lru_cache(maxsize=1)
def get_config() -> SiteConfig:
    """The process-wide configuration."""
    return load_config()
