"""Dajian's Django settings.

Every setting comes from the environment through the typed helpers of ``django-environ``;
the embedded default (no variable set) runs on SQLite under ``var/`` with a broker that
needs no server, so ``make run`` works on a fresh machine.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("DAJIAN_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()


def _secret_key() -> str:
    """The key from ``DAJIAN_SECRET_KEY``, else one generated once into ``var/``."""
    configured = env.str("DAJIAN_SECRET_KEY", default="")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DAJIAN_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DAJIAN_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DAJIAN_CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = env.str("DAJIAN_TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True
LANGUAGE_CODE = env.str("DAJIAN_LANGUAGE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphene_django",
    "polymorphic",
    "django_celery_beat",
    "dajian.platform",
    "dajian.builder",
    "dajian.runtime",
    "dajian.app_templates",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dajian.platform.auth.WorkspaceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dajian.urls"
WSGI_APPLICATION = "dajian.wsgi.application"
ASGI_APPLICATION = "dajian.asgi.application"

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
            ]
        },
    }
]

# --- database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'dajian.sqlite3'}")
}
_db = DATABASES["default"]
if "sqlite" in _db["ENGINE"]:
    # WAL: single-row commits go from ~0.8k/s to ~3.9k/s; a busy timeout instead of
    # "database is locked" when the web process and the worker write at once.
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    # Persistent connections: a new connection per request costs ~20 ms.
    _db["CONN_MAX_AGE"] = env.int("DAJIAN_CONN_MAX_AGE", default=600)
    _db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- caches, sessions ------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True

# --- static and uploaded files -------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("DAJIAN_MEDIA_ROOT", default=str(VAR_DIR / "media")))
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DAJIAN_MAX_REQUEST_BYTES", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- GraphQL ----------------------------------------------------------------------------
GRAPHENE = {"SCHEMA": "dajian.schema.schema"}

# --- E-mail (automation notifications): EMAIL_URL, e.g. smtp+tls://user:pw@host:587 ---
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="dajian@localhost")

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "out").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("DAJIAN_CELERY_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Celery's Django fixup closes the database connection around every task unless told to
# reuse it: a new PostgreSQL connection per outbox event cost 6–9 ms of CPU, a third of
# the machine (bench figure 7). Reused for this many tasks, then renewed.
CELERY_DB_REUSE_MAX = env.int("DAJIAN_CELERY_DB_REUSE_MAX", default=100)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Dajian limits -------------------------------------------------------------------------
DAJIAN = {
    "MAX_PAGE_SIZE": 100,
    "GRAPHQL_MAX_DEPTH": env.int("DAJIAN_GRAPHQL_MAX_DEPTH", default=12),
    "GRAPHQL_MAX_TOKENS": env.int("DAJIAN_GRAPHQL_MAX_TOKENS", default=5000),
    "GRAPHQL_MAX_ALIASES": env.int("DAJIAN_GRAPHQL_MAX_ALIASES", default=30),
    "GRAPHQL_MAX_QUERY_BYTES": env.int("DAJIAN_GRAPHQL_MAX_QUERY_BYTES", default=100_000),
    "MAX_RECORD_BYTES": env.int("DAJIAN_MAX_RECORD_BYTES", default=512 * 1024),
    "MAX_FORM_FIELDS": 500,
    "MAX_BULK_DECISIONS": env.int("DAJIAN_MAX_BULK_DECISIONS", default=100),
    # Widgets of one dashboard computed at a time on PostgreSQL (docs/dashboards.md).
    "DASHBOARD_THREADS": env.int("DAJIAN_DASHBOARD_THREADS", default=2),
    "MAX_WORKFLOW_STAGES": 100,
    "MAX_CHAIN_STEPS": 30,
    "MAX_STEP_APPROVERS": 50,
    "MAX_EXPRESSION_CHARS": 4096,
    "MAX_EXPRESSION_DEPTH": 32,
    "MAX_UPLOAD_BYTES": env.int("DAJIAN_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024),
    "MAX_IMAGE_PIXELS": env.int("DAJIAN_MAX_IMAGE_PIXELS", default=40_000_000),
    # Automations (docs/automations.md)
    "MAX_AUTOMATION_DEPTH": env.int("DAJIAN_MAX_AUTOMATION_DEPTH", default=5),
    "MAX_AUTOMATION_ACTIONS": 20,
    "AUTOMATION_BATCH_SIZE": env.int("DAJIAN_AUTOMATION_BATCH_SIZE", default=1000),
    "ACTION_MAX_ATTEMPTS": env.int("DAJIAN_ACTION_MAX_ATTEMPTS", default=3),
    "WEBHOOK_TIMEOUT_SECONDS": env.float("DAJIAN_WEBHOOK_TIMEOUT_SECONDS", default=10.0),
    "WEBHOOK_MAX_ATTEMPTS": env.int("DAJIAN_WEBHOOK_MAX_ATTEMPTS", default=6),
    "WEBHOOK_BACKOFF_SECONDS": env.float("DAJIAN_WEBHOOK_BACKOFF_SECONDS", default=30.0),
    "WEBHOOK_BACKOFF_CAP_SECONDS": env.float("DAJIAN_WEBHOOK_BACKOFF_CAP_SECONDS", default=3600.0),
    "DEMO_PASSWORD": env.str("DAJIAN_DEMO_PASSWORD", default=""),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DAJIAN_LOG_LEVEL", default="WARNING")},
    # The CEL library logs every failed function call (e.g. size(null) in an evidence
    # rule on an empty field); the expression service already turns those into results.
    "loggers": {"cel": {"level": env.str("DAJIAN_CEL_LOG_LEVEL", default="ERROR")}},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Outbox events left pending (broker down at commit time) are re-enqueued every minute.
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {"task": "dajian.runtime.sweep_outbox", "schedule": 60.0},
    "fire-due-timers": {"task": "dajian.runtime.fire_due_timers", "schedule": 30.0},
    "scan-date-triggers": {"task": "dajian.automations.scan_date_triggers", "schedule": 300.0},
    "retry-actions": {"task": "dajian.automations.retry_failed_actions", "schedule": 60.0},
    "send-due-deliveries": {"task": "dajian.deliveries.send_due", "schedule": 30.0},
}
