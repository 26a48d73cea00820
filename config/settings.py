"""Django settings: every value comes from the environment through config.env."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(env.get("STATE_DIR", str(BASE_DIR / "var")))

APP_ENV = env.get("APP_ENV", "development").lower()
if APP_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"APP_ENV must be development or production, not {APP_ENV!r}")
PRODUCTION = APP_ENV == "production"
DEBUG = env.get_bool("DEBUG", False)

_DEV_SECRET = "dev-insecure-secret-key-only-for-local-development-never-in-production"
# Never empty, so that commands which need no secret (jwtkeys generate) run anywhere; production
# refuses to start on this value (auth.E001).
SECRET_KEY = env.get("SECRET_KEY", _DEV_SECRET)
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS")

DATABASES_DEFAULT, EMBEDDED_DATABASE = env.database(str(STATE_DIR / "db.sqlite3"))
DATABASES = {"default": DATABASES_DEFAULT}
REDIS_URL = env.redis_url()
# The token store (sessions, rotation, throttling): its own connection, never the Django cache.
# None: the in-process store (fakeredis), for the embedded default.
TOKEN_STORE_URL: str | None = env.get("TOKEN_STORE_URL") or REDIS_URL
TOKEN_STORE_CONNECT_TIMEOUT = env.get_float("REDIS_CONNECT_TIMEOUT", 1.0)
TOKEN_STORE_TIMEOUT = env.get_float("REDIS_TIMEOUT", 2.0)
EMBEDDED_TOKEN_STORE = TOKEN_STORE_URL is None
EMBEDDED = EMBEDDED_DATABASE or EMBEDDED_TOKEN_STORE
WEB_CONCURRENCY = env.get_int("WEB_CONCURRENCY", 1, minimum=1)
SERVE_HOST = env.get("HOST", "127.0.0.1")
SERVE_PORT = env.get_int("PORT", 8000, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "accounts",
    "api",
]

# api/middleware.py: no thread hop on the API's path (the admin-only ones run under /admin/).
MIDDLEWARE = [
    # First: it sees every answer, and notes the route template for the metrics and the log.
    "api.route_label.RouteLabelMiddleware",
    "api.middleware.InlineSecurityMiddleware",
    "api.middleware.StaticFiles",
    "corsheaders.middleware.CorsMiddleware",
    "api.middleware.RequestGuardMiddleware",
    "api.middleware.AdminOnlySessionMiddleware",
    "api.middleware.InlineCommonMiddleware",
    "api.middleware.AdminOnlyCsrfViewMiddleware",
    "api.middleware.AdminOnlyAuthenticationMiddleware",
    "api.middleware.AdminOnlyMessageMiddleware",
    "api.middleware.InlineXFrameOptionsMiddleware",
]
# Django looks for its own dotted paths of these three; ours are subclasses of them
# (api/middleware.py), so the warnings would be false. Their other deploy checks (HSTS, SSL
# redirect, ...) are tied to the same look-up and do not run: accounts/checks.py has our own.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

AUTH_USER_MODEL = "accounts.User"
# The first hashes new passwords (NFKC-normalised, NIST SP 800-63B); the others only check older
# hashes, made over the password as given, which are re-hashed by the first on login.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idNFKCHasher",
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Argon2id hashes (~30 ms, 19 MiB each) a process runs at once, and how long a login waits for
# a free slot before it is answered 503 (accounts/hashing.py). Default: one per core.
PASSWORD_HASH_CONCURRENCY = env.get_int("PASSWORD_HASH_CONCURRENCY", os.cpu_count() or 1, minimum=1)
PASSWORD_HASH_WAIT_MS = env.get_int("PASSWORD_HASH_WAIT_MS", 5000, minimum=0)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

_CACHE_URL = env.get("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": _CACHE_URL}
        if _CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LANGUAGE_CODE = "en"
# The languages of the mails (templates in accounts/templates/mail/<language>/), chosen by the
# request's Accept-Language and stored with the job.
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# The admin's and Swagger UI's assets, served by WhiteNoise straight from the installed apps
# (no collectstatic step, no separate web server): a handful of files, read once at start-up.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# 64 KiB is far more than any request of this API needs.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

CORS_ALLOWED_ORIGINS = env.get_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = False

# The admin and Swagger UI load their scripts and styles from here only (no inline scripts);
# JSON answers execute nothing. Style attributes need 'unsafe-inline' (the admin's templates).
CONTENT_SECURITY_POLICY = env.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
)
SECURE_CONTENT_TYPE_NOSNIFF = True
# same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the admin's own
# forms and Django's CSRF check refuses them; same-origin sends the real Origin (and Referer)
# to this site only, and nothing to any other.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
# Production's defaults assume what docs/deployment.md asks for: TLS ends at a proxy that sets
# X-Forwarded-Proto (overwriting any a client sent). HSTS is sent on HTTPS responses only: a
# year, subdomains included, and `preload` (consent only: a domain joins browsers' preload list
# when its owner submits the registrable domain, which must send the header itself).
SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.get_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env.get_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
# The service never ends TLS itself: a request is HTTPS when the proxy says so.
TRUST_X_FORWARDED_PROTO = env.get_bool("TRUST_X_FORWARDED_PROTO", PRODUCTION)
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain HTTP is redirected to HTTPS, but for health checks (load balancers, the container's
# HEALTHCHECK call them over plain HTTP). Needs TRUST_X_FORWARDED_PROTO (auth.E010).
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health/"]

# The Django admin and the API docs can be switched off, and the admin limited to networks
# (comma-separated addresses or CIDRs, the client address as TRUSTED_PROXY_COUNT reads it).
ADMIN_ENABLED = env.get_bool("ADMIN_ENABLED", True)
ADMIN_ALLOWED_NETWORKS = env.get_networks("ADMIN_ALLOWED_NETWORKS")
API_DOCS_ENABLED = env.get_bool("API_DOCS_ENABLED", True)
# Client address for audit and session lists: REMOTE_ADDR unless a proxy we trust sets it.
TRUSTED_PROXY_COUNT = env.get_int("TRUSTED_PROXY_COUNT", 0)

JWT_ALGORITHM = env.get("JWT_ALGORITHM", "ES256").upper()
ACCESS_TOKEN_LIFETIME = timedelta(seconds=env.get_int("ACCESS_TOKEN_LIFETIME", 300, minimum=1))
REFRESH_TOKEN_LIFETIME = timedelta(seconds=env.get_int("REFRESH_TOKEN_LIFETIME", 86400, minimum=1))
SESSION_MAX_LIFETIME = timedelta(seconds=env.get_int("SESSION_MAX_LIFETIME", 30 * 86400, minimum=1))
REFRESH_REUSE_GRACE = timedelta(seconds=env.get_int("REFRESH_REUSE_GRACE", 10))
JWT_ISSUER = env.get("JWT_ISSUER", "auth-service")
JWT_AUDIENCE = env.get("JWT_AUDIENCE", "auth-service")
# The client_id claim of access tokens (RFC 9068): the client they were issued to.
JWT_CLIENT_ID = env.get("JWT_CLIENT_ID", "auth-service")
# Scopes granted by group: {"group name": ["scope", ...]}. Access tokens carry the user's group
# names as `roles` and the union of their groups' scopes as `scope`.
JWT_GROUP_SCOPES = env.get_scope_map("JWT_GROUP_SCOPES")
JWT_KEYS = env.get("JWT_KEYS")
JWT_KEYS_FILE = env.get("JWT_KEYS_FILE")
JWT_DEV_KEYS_FILE = STATE_DIR / "dev-jwt-keys.json"
JWT_LEEWAY = timedelta(seconds=env.get_int("JWT_LEEWAY", 0))
# django-ninja-jwt's settings are pydantic BaseSettings, which read the environment too, where
# ACCESS_TOKEN_LIFETIME and REFRESH_TOKEN_LIFETIME are ours (in seconds): given here, they win.
NINJA_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_TOKEN_LIFETIME,
}
JWKS_MAX_AGE = env.get_int("JWKS_MAX_AGE", 300)
# Throttling (README.md, Throttling; 0 turns a limit off). Login and registration attempts per
# client address per minute.
THROTTLE_LOGIN_PER_MINUTE = env.get_int("THROTTLE_LOGIN_PER_MINUTE", 30)
THROTTLE_REGISTER_PER_MINUTE = env.get_int("THROTTLE_REGISTER_PER_MINUTE", 30)
# Failed logins one client (address) may make on one account before each further attempt
# waits: THROTTLE_BACKOFF_BASE_SECONDS, doubled at every failure, up to the max.
THROTTLE_PAIR_FREE_FAILURES = env.get_int("THROTTLE_PAIR_FREE_FAILURES", 5)
THROTTLE_BACKOFF_BASE_SECONDS = env.get_int("THROTTLE_BACKOFF_BASE_SECONDS", 1)
THROTTLE_BACKOFF_MAX_SECONDS = env.get_int("THROTTLE_BACKOFF_MAX_SECONDS", 900, minimum=1)
# Past this many failures on one account within the window, clients that never logged in to
# it back off from their first failure; clients that did are not held back by others.
THROTTLE_ACCOUNT_FAILURES = env.get_int("THROTTLE_ACCOUNT_FAILURES", 10)
THROTTLE_ACCOUNT_WINDOW_SECONDS = env.get_int("THROTTLE_ACCOUNT_WINDOW_SECONDS", 900, minimum=1)
# Consecutive failures on one account (since its last success) past which unknown clients are
# refused until a success from a known client or `manage.py throttle_clear EMAIL`.
THROTTLE_ACCOUNT_MAX_FAILURES = env.get_int("THROTTLE_ACCOUNT_MAX_FAILURES", 100)
# Days a client stays known to an account after a login, and failure counts are kept.
THROTTLE_KNOWN_CLIENT_DAYS = env.get_int("THROTTLE_KNOWN_CLIENT_DAYS", 30, minimum=1)
# Failed API client authentications (OAuth endpoints) per client address, and per client id,
# per minute; past it, 429 until the minute is over. Successes are not counted.
THROTTLE_CLIENT_FAILURES_PER_MINUTE = env.get_int("THROTTLE_CLIENT_FAILURES_PER_MINUTE", 10)
# Seconds an API client's previous secret keeps working after a rotation (the default of
# `manage.py clients rotate` and of the admin's rotation).
CLIENT_SECRET_OVERLAP = timedelta(seconds=env.get_int("CLIENT_SECRET_OVERLAP", 86400))
AUDIT_RETENTION_DAYS = env.get_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
RETRY_AFTER_SECONDS = env.get_int("RETRY_AFTER_SECONDS", 5, minimum=1)

# --- the hot path (api/hotpath.py): me and refresh answered on the event loop, before Django.
# false: every request goes through Django's handler (the same answers, about twice the CPU).
HOT_PATH_ENABLED = env.get_bool("HOT_PATH_ENABLED", True)
# Its one SQL read is a prepared statement; false for a pooler in transaction mode that cannot
# keep them (PgBouncer before 1.21). Django's own connections never prepare.
DB_PREPARED_STATEMENTS = env.get_bool("DB_PREPARED_STATEMENTS", True)

# --- mail (README.md, Mail). Django's own setting names. Mail is queued in the request's
# transaction (Django's tasks framework, the django-tasks backport) and sent by a worker,
# `manage.py db_worker`; the embedded default prints mails on the console and needs no worker.
EMAIL_DELIVERY = env.get("EMAIL_DELIVERY", "console" if EMBEDDED else "smtp").lower()
if EMAIL_DELIVERY not in {"smtp", "console"}:
    raise ImproperlyConfigured(f"EMAIL_DELIVERY must be smtp or console, not {EMAIL_DELIVERY!r}")
EMAIL_BACKEND = f"django.core.mail.backends.{EMAIL_DELIVERY}.EmailBackend"
EMAIL_HOST = env.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env.get_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.get("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.get_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.get_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "auth-service <no-reply@localhost>")
# database: jobs in PostgreSQL, run by `manage.py db_worker`; immediate: run at commit, in the
# request's process (the embedded default: no worker to start).
TASKS_BACKEND = env.get("TASKS_BACKEND", "immediate" if EMBEDDED else "database").lower()
_TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND must be database or immediate, not {TASKS_BACKEND!r}"
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASKS_BACKEND]}}
# A failed send is tried again after MAIL_RETRY_BASE_SECONDS, doubled each time, at most
# MAIL_MAX_ATTEMPTS times in all; every attempt is a row in the admin's task results.
MAIL_MAX_ATTEMPTS = env.get_int("MAIL_MAX_ATTEMPTS", 6, minimum=1)
MAIL_RETRY_BASE_SECONDS = env.get_int("MAIL_RETRY_BASE_SECONDS", 30, minimum=1)
# Links in mails: FRONTEND_URL + the path, where {token} is the secret. Never the request's Host.
FRONTEND_URL = env.get("FRONTEND_URL", "http://localhost:3000").rstrip("/")
PASSWORD_RESET_PATH = env.get("PASSWORD_RESET_PATH", "/reset-password?token={token}")
EMAIL_VERIFY_PATH = env.get("EMAIL_VERIFY_PATH", "/verify-email?token={token}")
EMAIL_CHANGE_PATH = env.get("EMAIL_CHANGE_PATH", "/confirm-email?token={token}")
# Seconds a reset link (and its code) works; a verification or email-change link.
PASSWORD_RESET_TIMEOUT = env.get_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=60)
EMAIL_TOKEN_TIMEOUT = env.get_int("EMAIL_TOKEN_TIMEOUT", 86400, minimum=60)
# true: no login (403 email_not_verified) until the address is verified.
REQUIRE_VERIFIED_EMAIL = env.get_bool("REQUIRE_VERIFIED_EMAIL", False)
# protected: registering a taken address answers like a new one (the owner is mailed instead);
# open: 409 email_taken, which tells anyone whether an address has an account.
REGISTRATION_ENUMERATION = env.get("REGISTRATION_ENUMERATION", "protected").lower()
if REGISTRATION_ENUMERATION not in {"protected", "open"}:
    raise ImproperlyConfigured(
        f"REGISTRATION_ENUMERATION must be protected or open, not {REGISTRATION_ENUMERATION!r}"
    )
# Mails a flow (reset, verification, email change, registration) may send per address and per
# client address per hour; confirmations (token or code) per client address per minute.
THROTTLE_MAIL_PER_ADDRESS_PER_HOUR = env.get_int("THROTTLE_MAIL_PER_ADDRESS_PER_HOUR", 5)
THROTTLE_MAIL_PER_CLIENT_PER_HOUR = env.get_int("THROTTLE_MAIL_PER_CLIENT_PER_HOUR", 20)
THROTTLE_CONFIRM_PER_MINUTE = env.get_int("THROTTLE_CONFIRM_PER_MINUTE", 30)

# --- the edge (config/serving.py, config/edge.py): how much and how slowly a client may send.
# Seconds a client gets to send a request's headers, and then its body; a slower one is dropped.
CLIENT_TIMEOUT = env.get_int("CLIENT_TIMEOUT", 10, minimum=1)
# Bytes of request line and headers; more gets 431 (counted as they arrive, never held whole).
MAX_REQUEST_HEADER_BYTES = env.get_int("MAX_REQUEST_HEADER_BYTES", 16384, minimum=1024)
# Seconds an idle keep-alive connection stays open; connections and requests in flight per
# worker before uvicorn answers 503; connections the kernel queues before they are accepted.
KEEPALIVE_TIMEOUT = env.get_int("KEEPALIVE_TIMEOUT", 5, minimum=1)
LIMIT_CONCURRENCY = env.get_int("LIMIT_CONCURRENCY", 1000, minimum=1)
BACKLOG = env.get_int("BACKLOG", 2048, minimum=1)
ACCESS_LOG = env.get_bool("ACCESS_LOG", True)
# config.edge refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE before Django reads them, so
# Django's spooled body (and an upload) never outgrows memory onto disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# --- observability (config/observability.py, docs/operations.md)
# Who may read GET /metrics (addresses or CIDRs, the client address as TRUSTED_PROXY_COUNT
# reads it); everyone else gets 404. Default: this host only.
METRICS_ALLOWED_NETWORKS = env.get_networks("METRICS_ALLOWED_NETWORKS") or [
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
]
# Where uvicorn's workers keep their metrics (prometheus-client's multiprocess mode): a directory
# of this service's own, emptied by `manage.py serve` at start. Unset: with more than one
# worker, serve makes a temporary one (accounts/apps.py creates a missing one).
PROMETHEUS_MULTIPROC_DIR = env.get("PROMETHEUS_MULTIPROC_DIR")
# Traces over OTLP, off unless OpenTelemetry's endpoint variable is set (config/tracing.py).
TRACING = bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
# json: one JSON object per line on stdout (production's default); text: for a terminal.
LOG_FORMAT = env.get("LOG_FORMAT", "json" if PRODUCTION else "text").lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "config.logs.TextFormatter"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        # stderr, so that a command's output (jwtkeys generate > keys.json) stays clean; the
        # server's processes move it to stdout (config/logs.py, to_stdout).
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
        # A logger with no handler at all falls back to logging.lastResort (stderr, with the
        # traceback): silencing takes a handler that drops everything.
        "drop": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": env.get("LOG_LEVEL", "INFO").upper()},
    # Django logs the request on 4xx/5xx; tokens only ever travel in headers and bodies, not URLs.
    "loggers": {
        "django.request": {"level": "ERROR"},
        # A request for a host outside ALLOWED_HOSTS is answered 400; no traceback for it.
        "django.security.DisallowedHost": {"handlers": ["drop"], "propagate": False},
        # config/observability.py writes the access log (auth.access), with the request id;
        # uvicorn's own would be a second, plain line per request.
        "uvicorn.access": {"handlers": ["drop"], "propagate": False},
        "uvicorn": {"handlers": ["console"], "propagate": False},
    },
}
