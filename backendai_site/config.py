"""Site configuration: the only reader of the environment.

Every setting comes from a `BAI_`-prefixed environment variable (a few well-known names such as
`DATABASE_URL` and `REDIS_URL` are accepted as they are) or from an optional TOML file named by
`BAI_CONFIG_FILE`; environment variables win over the file. Settings of one part of the platform
form a section: `get_config().agents.lost_timeout` is `BAI_AGENTS_LOST_TIMEOUT`, or `lost_timeout`
in the file's `[agents]` table. A bad value stops the process at start-up with one line per problem.

Importing this module imports no Django code, so the agent daemon shares `EnvThenTomlSettings`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
)
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


class EnvThenTomlSettings(BaseSettings):
    """Settings from the environment, then from the TOML file that the environment variable
    `config_file_env` names (when it is set): a variable wins over the same key in the file."""

    config_file_env: ClassVar[str] = "BAI_CONFIG_FILE"

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
        toml_path = os.environ.get(cls.config_file_env)
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)


# --- sections: env `BAI_<SECTION>_<FIELD>`, TOML table `[<section>]` ------------------------------


class AgentsSection(BaseModel):
    """Manager-side agent settings (the agent daemon has its own `BAI_AGENT_*` AgentConfig)."""

    lost_timeout: float = Field(
        default=30.0, gt=0, description="Seconds without a heartbeat before an agent is LOST."
    )
    sweep_interval: float = Field(
        default=10.0, gt=0, description="Seconds between two runs of the LOST sweep (beat)."
    )
    command_reply_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for an agent's reply to a call."
    )


class SchedulerSection(BaseModel):
    backstop_interval: float = Field(
        default=5.0, gt=0, description="Seconds between two beat passes over every active group."
    )
    hint_debounce: float = Field(
        default=0.0, ge=0, description="Countdown of a hinted pass; hints within it are merged."
    )


class CoordinatorSection(BaseModel):
    """The status coordinator (sessions_app.services.coordinator): how long a session or kernel
    may stay in a transient status before it is retried, and how often, before it ends in ERROR."""

    interval: float = Field(
        default=5.0, gt=0, description="Seconds between two coordinator runs (beat)."
    )
    scheduled_timeout: float = Field(
        default=10.0, gt=0, description="Seconds in SCHEDULED before create_kernel is re-sent."
    )
    start_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds in PREPARING/PREPARED/CREATING without progress before "
        "create_kernel is re-sent.",
    )
    pull_timeout: float = Field(
        default=900.0, gt=0, description="Seconds in PULLING before create_kernel is re-sent."
    )
    start_attempts: int = Field(
        default=3, ge=1, description="Sends of create_kernel before the session ends in ERROR."
    )
    terminate_timeout: float = Field(
        default=20.0, gt=0, description="Seconds between two re-sends of destroy_kernel."
    )
    restart_timeout: float = Field(
        default=120.0, gt=0, description="Seconds in RESTARTING before the session ends in ERROR."
    )
    requeue_limit: int = Field(
        default=5,
        ge=0,
        description="Times a session goes back to PENDING after an agent refused it "
        "(insufficient-resource) or was lost before it started; then ERROR.",
    )
    batch_size: int = Field(
        default=200, ge=1, description="Rows each status handler looks at per run."
    )


class IdleSection(BaseModel):
    """Idle checks (sessions_app.services.idle): how often beat runs them, and the utilization
    checker (a window of 0 disables it)."""

    check_interval: float = Field(default=10.0, gt=0)
    utilization_window: float = Field(default=0.0, ge=0)
    utilization_grace: float = Field(default=300.0, ge=0)
    utilization_cpu_percent: float = Field(default=1.0, ge=0, le=100)
    utilization_mem_percent: float = Field(default=10.0, ge=0, le=100)


class AppsSection(BaseModel):
    """Browser access to in-container HTTP apps (proxy_app.apps_proxy): `<token>.<domain>` on the
    web port, or, when `port_range` is set, one listener port per open app."""

    domain: str = "apps.localhost"
    port_range: tuple[int, int] | None = None
    token_ttl: float = Field(default=120.0, gt=0)
    cookie_max_age: int = Field(default=12 * 3600, gt=0)


class StorageSection(BaseModel):
    """Storage volumes and folder transfer (storage_app)."""

    default_host: str = Field(
        default="local:volume1", description="The volume new folders go to when none is named."
    )
    default_volume_path: Path | None = Field(
        default=None,
        description="POSIX path of the default volume; `<data_dir>/vfolders/volume1` when unset.",
    )
    transfer_base_url: str | None = Field(
        default=None,
        description="Base URL the upload/download tokens point at (a transfer role); the URL "
        "the request arrived at when unset.",
    )
    token_ttl: float = Field(default=3600.0, gt=0, description="Seconds a transfer token is valid.")
    file_uid: int = Field(default=1000, description="Owner of folder files (the kernel user).")
    file_gid: int = Field(default=1000, description="Group of folder files.")
    usage_refresh_interval: float = Field(
        default=300.0, gt=0, description="Seconds between two beat re-measurements of usage."
    )


class CallbacksSection(BaseModel):
    """Session callbacks (`callback_url`, sessions_app.services.callbacks): where the manager
    may send them."""

    allowed_schemes: list[str] = Field(default_factory=lambda: ["http", "https"])
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or `*.example.com` suffixes; empty means any public host.",
    )
    allow_private_addresses: bool = Field(
        default=False, description="Allow loopback, link-local, private and reserved addresses."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class SessionsSection(BaseModel):
    """Session files (sessions_app.services.files)."""

    upload_max_bytes: int = Field(
        default=1024**3, gt=0, description="The most bytes one session file upload may write."
    )


def _loopback_networks() -> list[IPv4Network | IPv6Network]:
    return [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")]


class MetricsSection(BaseModel):
    """Prometheus metrics (backendai_site.metrics): who may read `GET /metrics`."""

    enabled: bool = Field(default=True, description="Serve `/metrics`; 404 when false.")
    allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=_loopback_networks,
        description="Client addresses allowed to scrape without a token (default loopback).",
    )
    bearer_token: str | None = Field(
        default=None,
        min_length=16,
        description="When set, `Authorization: Bearer <token>` is allowed from any address.",
    )


class UsageSection(BaseModel):
    """The usage ledger (sessions_app.services.usage): how often running kernels' time is
    written (a kernel that ends is written at once)."""

    record_interval: float = Field(
        default=60.0, gt=0, description="Seconds between two ledger writes for running kernels."
    )
    batch_size: int = Field(default=500, ge=1, description="Kernels written per transaction.")


class AuditSection(BaseModel):
    """The audit log (backendai_site.audit): how long rows are kept and how the purge runs."""

    retention_days: int = Field(
        default=365, gt=0, description="Days an audit log row is kept; beat purges older ones."
    )
    purge_interval: float = Field(
        default=24 * 3600.0, gt=0, description="Seconds between two runs of the purge (beat)."
    )
    purge_batch_size: int = Field(
        default=5000, gt=0, le=100_000, description="Rows one purge statement deletes at most."
    )


class SiteConfig(EnvThenTomlSettings):
    """Configuration for every process role (web, worker, beat, agent tools)."""

    model_config = SettingsConfigDict(
        env_prefix="BAI_",
        # `BAI_AGENTS_LOST_TIMEOUT` is `agents.lost_timeout`: the first `_` after a section's
        # name opens the section, the rest belongs to the field's name
        env_nested_delimiter="_",
        env_nested_max_split=1,
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
    # request signing methods accepted (COMPAT.md 2.3); HMAC-SHA256 is what the official client
    # sends, and weaker hashes (MD5, SHA-1) stay refused unless listed here
    auth_sign_methods: list[str] = Field(default_factory=lambda: ["HMAC-SHA256"], min_length=1)
    # announcement shown by the official client once per message
    announcement: str = ""
    # where the web role is reachable, written into credentials and printed by the quick start
    public_endpoint: str = "http://127.0.0.1:8090"
    # sections: `get_config().<section>.<field>`, env `BAI_<SECTION>_<FIELD>`
    agents: AgentsSection = Field(default_factory=AgentsSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    idle: IdleSection = Field(default_factory=IdleSection)
    coordinator: CoordinatorSection = Field(default_factory=CoordinatorSection)
    apps: AppsSection = Field(default_factory=AppsSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    callbacks: CallbacksSection = Field(default_factory=CallbacksSection)
    sessions: SessionsSection = Field(default_factory=SessionsSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    usage: UsageSection = Field(default_factory=UsageSection)
    audit: AuditSection = Field(default_factory=AuditSection)

    # benchmarks only (bench/): a URLconf that mounts bench-only baseline views; never in production
    bench_root_urlconf: str | None = None

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @field_validator("auth_sign_methods")
    @classmethod
    def _check_sign_methods(cls, value: list[str]) -> list[str]:
        for method in value:
            kind, _, hash_name = method.lower().partition("-")
            if (
                kind != "hmac"
                or hash_name.startswith("shake")
                or (hash_name not in hashlib.algorithms_guaranteed)
            ):
                raise ValueError(f"{method!r} is not HMAC-<hash> with a fixed-size hash")
        return value

    @property
    def auth_sign_methods_allowed(self) -> frozenset[str]:
        return frozenset(method.lower() for method in self.auth_sign_methods)

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

    def resolved_database_url(self) -> str:
        """`DATABASE_URL`, else the embedded PostgreSQL's socket in `<data>/pgdata`, where
        `backendai_site.devservices` starts that server (nothing here starts it)."""
        if self.database_url:
            return self.database_url
        return f"postgresql://postgres@/postgres?host={self.data_dir / 'pgdata'}"

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

    def resolved_default_volume_path(self) -> Path:
        """Where the quick start's default volume keeps its folders."""
        return self.storage.default_volume_path or self.data_dir / "vfolders" / "volume1"


def _section_names() -> frozenset[str]:
    return frozenset(
        name
        for name, field in SiteConfig.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    )


def _variable_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable of an error's location: `("agents", "lost_timeout")` is
    `BAI_AGENTS_LOST_TIMEOUT`; list items and deeper keys follow after dots."""
    head, *rest = (str(part) for part in loc)
    if head in _section_names() and rest:
        head = f"{head}_{rest.pop(0)}"
    return "BAI_" + ".".join([head, *rest]).upper()


def format_config_errors(error: ValidationError) -> list[str]:
    """One readable line per invalid setting, naming the variable to fix."""
    return [
        f"config error: {_variable_name(item['loc'])}: {item['msg']}" for item in error.errors()
    ]


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
