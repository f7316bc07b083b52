"""Django settings, built from the one `SiteConfig` (see backendai_site/config.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from backendai_site.config import BASE_DIR, get_config

CONFIG = get_config()


def _database_from_url(url: str) -> dict[str, Any]:
    params = conninfo_to_dict(url)
    options = {
        k: v for k, v in params.items() if k not in {"host", "port", "dbname", "user", "password"}
    }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.get("dbname", "postgres"),
        "USER": params.get("user", "postgres"),
        "PASSWORD": params.get("password", ""),
        "HOST": params.get("host", ""),
        "PORT": str(params.get("port", "")),
        # A connection pool per process (psycopg_pool): under ASGI every request runs in its own
        # thread, so Django's persistent connections (CONN_MAX_AGE) would leak one per thread.
        "OPTIONS": {**options, "pool": {"min_size": 1, "max_size": 16, "timeout": 10}},
        "CONN_MAX_AGE": 0,
        "TEST": {"NAME": "test_backendai"},
    }


def _database_url() -> str:
    if CONFIG.database_url:
        return CONFIG.database_url
    from backendai_site.devservices import ensure_embedded_postgres

    return ensure_embedded_postgres(CONFIG.data_dir)


SECRET_KEY = CONFIG.resolved_secret_key()
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
APPEND_SLASH = False  # the official client never sends trailing slashes and never follows redirects
CSRF_FAILURE_VIEW = "backendai_site.common.api.exception_handler.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",
    "backendai_site.accounts",
    "agents_app",
    "sessions_app",
    "storage_app",
    "proxy_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "backendai_site.common.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backendai_site.common.middleware.RateLimitHeadersMiddleware",
    # last, as django-axes asks: it turns a lockout raised by the login view into a response
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backendai_site.urls"
WSGI_APPLICATION = "backendai_site.wsgi.application"
ASGI_APPLICATION = "backendai_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": _database_from_url(_database_url())}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Password logins (the admin console, the console login page) go through django-axes first:
# failures are counted per account and client address together, so one client cannot lock an
# account out for everybody, nor everybody behind one address out of their accounts.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = CONFIG.login_max_failures
AXES_COOLOFF_TIME = timedelta(seconds=CONFIG.rate_limit_window_seconds)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# the login forms post the e-mail (USERNAME_FIELD) as `username`
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "backendai_site.accounts.lockout.login_lockout_response"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backendai_site.accounts.authentication.HMACSignatureAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["backendai_site.common.api.parsers.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "backendai_site.common.api.pagination.DefaultPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backendai_site.common.api.exception_handler.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "backendai-django API",
    "DESCRIPTION": "The Backend.AI manager API, signed with HMAC-SHA256 (see COMPAT.md).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sessions_app.api.openapi.add_async_session_endpoints",
        "backendai_site.common.api.openapi.add_error_responses",
    ],
}

REDIS_URL = CONFIG.redis_url
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "manager"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

BAI_KEYPAIR_ENCRYPTION_KEY = CONFIG.resolved_keypair_encryption_key()

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "backendai_site.common.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if CONFIG.log_json else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- agents_app ---
# Owned by the agents app: manager-side agent settings (env BAI_AGENTS_*), the routes that put
# agent events on the `events` queue, and the beat entry of the LOST sweep.
from agents_app.conf import AgentsManagerSettings  # noqa: E402

AGENTS = AgentsManagerSettings(
    lost_timeout=CONFIG.agents_lost_timeout,
    sweep_interval=CONFIG.agents_sweep_interval,
    command_reply_timeout=CONFIG.agents_command_reply_timeout,
)
CELERY_TASK_ROUTES = {
    **globals().get("CELERY_TASK_ROUTES", {}),
    "agents_app.*": {"queue": "events"},
}
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "agents-sweep-lost": {
        "task": "agents_app.sweep_lost_agents",
        "schedule": AGENTS.sweep_interval,
        "options": {"queue": "events", "expires": AGENTS.sweep_interval},
    },
}
# --- end agents_app ---

# --- sessions_app.scheduler ---
# Owned by the scheduler (env BAI_SCHEDULER_*): its tasks run on `manager`; beat runs a backstop
# pass of every active resource group (a pass skips at once when another holds the group's lock).
from sessions_app.scheduler.conf import SchedulerSettings  # noqa: E402

SCHEDULER = SchedulerSettings(
    backstop_interval=CONFIG.scheduler_backstop_interval,
    hint_debounce=CONFIG.scheduler_hint_debounce,
)
SCHEDULER_HINT_DEBOUNCE_SECONDS = SCHEDULER.hint_debounce
CELERY_TASK_ROUTES = {
    **globals().get("CELERY_TASK_ROUTES", {}),
    "sessions_app.schedule_resource_group": {"queue": "manager"},
    "sessions_app.schedule_all_resource_groups": {"queue": "manager"},
}
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "sessions-scheduler-backstop": {
        "task": "sessions_app.schedule_all_resource_groups",
        "schedule": SCHEDULER.backstop_interval,
        "options": {"queue": "manager", "expires": SCHEDULER.backstop_interval},
    },
}
# --- end ---

# --- sessions_app (lead) ---
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "sessions-sweep-batch-timeouts": {
        "task": "sessions_app.sweep_batch_timeouts",
        "schedule": 10.0,
        "options": {"queue": "manager", "expires": 10.0},
    },
}
# --- end sessions_app (lead) ---

# --- sessions_app.idle ---
# Idle checks (network timeout, session lifetime, utilization) run on `manager` every
# BAI_IDLE_CHECK_INTERVAL seconds; a run that overlaps another is harmless.
CELERY_TASK_ROUTES = {
    **globals().get("CELERY_TASK_ROUTES", {}),
    "sessions_app.sessions_idle_check": {"queue": "manager"},
}
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "sessions-idle-check": {
        "task": "sessions_app.sessions_idle_check",
        "schedule": CONFIG.idle_check_interval,
        "options": {"queue": "manager", "expires": CONFIG.idle_check_interval},
    },
}
# --- end ---

# --- bench ---
# Benchmarks (bench/) serve bench-only baseline views from a URLconf of their own
# (BAI_BENCH_ROOT_URLCONF, e.g. bench._api_list_urls); unset everywhere else.
if CONFIG.bench_root_urlconf:
    ROOT_URLCONF = CONFIG.bench_root_urlconf
# --- end bench ---
