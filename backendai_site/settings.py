"""Django settings, built from the one `SiteConfig` (see backendai_site/config.py).

Only Django's (and Celery's) own settings live here; the platform's settings are read with
`get_config().<section>.<field>`. Importing this module starts nothing: with `DATABASE_URL` unset
the database is the embedded PostgreSQL that `python -m backendai_site.devservices env` brings up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from backendai_site.celery_schedule import beat_schedule, task_routes
from backendai_site.config import BASE_DIR, get_config
from backendai_site.console.navigation import UNFOLD as UNFOLD

site_config = get_config()  # lower case: not a Django setting


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
        # With the pool, Django has psycopg_pool test a connection before lending it, so the
        # connections a database restart broke are replaced instead of failing requests.
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": "test_backendai"},
    }


SECRET_KEY = site_config.resolved_secret_key()
DEBUG = site_config.debug
ALLOWED_HOSTS = site_config.allowed_hosts
CSRF_TRUSTED_ORIGINS = site_config.csrf_trusted_origins
APPEND_SLASH = False  # the official client never sends trailing slashes and never follows redirects
CSRF_FAILURE_VIEW = "backendai_site.common.api.exception_handler.csrf_failure"

INSTALLED_APPS = [
    # first: its templates and admin site replace the stock admin's (backendai_site/console)
    "unfold",
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
    "backendai_site.manager",
    "backendai_site.audit",
    "backendai_site.export",
    "agents_app",
    "sessions_app",
    "storage_app",
    "templates_app",
    "proxy_app",
    # last: re-registers the libraries' admin pages on the theme (they must be registered first)
    "backendai_site.console",
]

MIDDLEWARE = [
    # first, so a request's time includes every other middleware (backendai_site/metrics)
    "backendai_site.metrics.web.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backendai_site.common.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # after authentication: request ids, and an audit entry per mutating request
    # (backendai_site/audit, design note 0014)
    "backendai_site.audit.middleware.AuditLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # console pages in the admin user's time zone (backendai_site/console/middleware.py)
    "backendai_site.console.middleware.ConsoleTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backendai_site.common.middleware.RateLimitHeadersMiddleware",
    # records every 5xx answer in the error log (`GET /logs/error`)
    "backendai_site.manager.middleware.ServerErrorLogMiddleware",
    "backendai_site.common.middleware.DatabaseUnavailableMiddleware",
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

DATABASES = {"default": _database_from_url(site_config.resolved_database_url())}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Password logins (the admin console, the console login page) go through django-axes first:
# failures are counted per account and client address together, so one client cannot lock an
# account out for everybody, nor everybody behind one address out of their accounts.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = site_config.login_max_failures
AXES_COOLOFF_TIME = timedelta(seconds=site_config.rate_limit_window_seconds)
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
        "backendai_site.accounts.authentication.FuncSessionAuthentication",
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
    "PREPROCESSING_HOOKS": ["backendai_site.common.api.openapi.drop_session_mode_copies"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sessions_app.api.openapi.add_async_session_endpoints",
        "backendai_site.common.api.openapi.add_error_responses",
    ],
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": site_config.redis_url,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [site_config.redis_url]},
    }
}

CELERY_BROKER_URL = site_config.redis_url
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "manager"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ROUTES = task_routes()
CELERY_BEAT_SCHEDULE = beat_schedule(site_config)

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
            "formatter": "json" if site_config.log_json else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": site_config.log_level},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Benchmarks (bench/) serve bench-only baseline views from a URLconf of their own
# (BAI_BENCH_ROOT_URLCONF, e.g. bench._api_list_urls); unset everywhere else.
if site_config.bench_root_urlconf:
    ROOT_URLCONF = site_config.bench_root_urlconf
