"""System checks: what production refuses, as Django reports it (`manage.py check --deploy`).

They run with every management command that checks (`serve` among them) and, in production, at
the ASGI import (`startup_check`), so a bad configuration stops the service before it listens.
They are not tagged `deploy`: each production-only check looks at APP_ENV itself, and a check
that only `--deploy` ran would not stop `serve`. Every message is one line: what is wrong and
how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import ERROR, CheckMessage, Error, register, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from accounts import keys
from accounts.exceptions import KeyConfigurationError

_ALGORITHMS = {"ES256", "RS256"}
_NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"


@register("auth")
def production_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    """auth.E001-E004: what production needs beyond development."""
    if not settings.PRODUCTION:
        return []
    return _errors(
        (
            _weak(settings.SECRET_KEY),
            "auth.E001",
            f"SECRET_KEY is missing or weak: set it to 50+ random characters, e.g. {_NEW_SECRET}",
        ),
        (settings.EMBEDDED, "auth.E002", f"production cannot run on {_embedded_parts()}"),
        (
            not settings.ALLOWED_HOSTS,
            "auth.E003",
            "ALLOWED_HOSTS is empty: set it to the comma-separated host names the service "
            "answers to, e.g. ALLOWED_HOSTS=auth.example.com",
        ),
        (settings.DEBUG, "auth.E004", "DEBUG is on in production: unset DEBUG or set DEBUG=false"),
    )


@register("auth")
def serving_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    """auth.E005, E006, E009, E010: what no mode can serve."""
    return _errors(
        (
            settings.EMBEDDED and settings.WEB_CONCURRENCY > 1,
            "auth.E005",
            f"WEB_CONCURRENCY is {settings.WEB_CONCURRENCY} on the embedded default, which "
            "serves one worker only: set WEB_CONCURRENCY=1, or DATABASE_URL and REDIS_URL",
        ),
        (
            settings.JWT_ALGORITHM not in _ALGORITHMS,
            "auth.E006",
            f"JWT_ALGORITHM is {settings.JWT_ALGORITHM!r}: set it to ES256 (the default) or RS256",
        ),
        (
            _not_redis(settings.TOKEN_STORE_URL),
            "auth.E009",
            f"the token store URL {_shown(settings.TOKEN_STORE_URL)} is not a Redis URL: set "
            "TOKEN_STORE_URL or REDIS_URL to redis://host:6379/0 (or rediss://, unix://)",
        ),
        (
            settings.SECURE_SSL_REDIRECT and not settings.TRUST_X_FORWARDED_PROTO,
            "auth.E010",
            "SECURE_SSL_REDIRECT is on but TRUST_X_FORWARDED_PROTO is off: TLS ends at the "
            "proxy, so every request would look like plain HTTP and be redirected forever; set "
            "TRUST_X_FORWARDED_PROTO=true (the proxy must set X-Forwarded-Proto) or "
            "SECURE_SSL_REDIRECT=false",
        ),
    )


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _not_redis(url: str | None) -> bool:
    return url is not None and not url.startswith(_REDIS_SCHEMES)


def _shown(url: str | None) -> str:
    """The URL without its password, for a message."""
    text = url or ""
    scheme, _, rest = text.rpartition("://")
    return repr(f"{scheme}://{rest.rpartition('@')[2]}" if scheme else rest.rpartition("@")[2])


@register("auth")
def signing_keys(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    """auth.E007-E008: the key set is configured (production) and loads without a flaw."""
    configured = bool(settings.JWT_KEYS or settings.JWT_KEYS_FILE)
    if settings.JWT_ALGORITHM not in _ALGORITHMS or not (configured or settings.PRODUCTION):
        return []  # E006 says it; development makes its own key on first use
    try:
        keys.load_keyset()
    except KeyConfigurationError as exc:
        return [Error(str(exc), id="auth.E008" if configured else "auth.E007")]
    return []


def startup_check() -> None:
    """In production, raise ImproperlyConfigured with every failing check, one per line."""
    if not settings.PRODUCTION:
        return
    messages: list[CheckMessage] = run_checks(include_deployment_checks=True)
    errors = [m for m in messages if m.level >= ERROR and not m.is_silenced()]
    if errors:
        lines = "".join(f"\n  {m.id}: {m.msg}" for m in errors)
        raise ImproperlyConfigured(f"refusing to start:{lines}")


def _errors(*problems: tuple[bool, str, str]) -> list[Error]:
    return [Error(message, id=check_id) for failed, check_id, message in problems if failed]


# Django's own deploy check (security.W009) asks for the same.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5


def _weak(secret: str) -> bool:
    return (
        len(secret) < SECRET_KEY_MIN_LENGTH
        or len(set(secret)) < SECRET_KEY_MIN_UNIQUE
        or secret.startswith(("django-insecure", "dev-insecure"))
    )


def _embedded_parts() -> str:
    parts, fixes = [], []
    if settings.EMBEDDED_DATABASE:
        parts.append("SQLite")
        fixes.append("DATABASE_URL (or DB_HOST)")
    if settings.EMBEDDED_TOKEN_STORE:
        parts.append("the in-process token store")
        fixes.append("TOKEN_STORE_URL or REDIS_URL (or REDIS_HOST)")
    return f"the embedded default ({', '.join(parts)}): set {' and '.join(fixes)}"


# Django's security checks look for its own dotted paths in MIDDLEWARE; ours are subclasses of
# those middlewares (api/middleware.py). The checks that depend on that look-up run here, with
# MIDDLEWARE showing Django's paths, so that HSTS, SSL redirect, nosniff, referrer policy,
# X-Frame-Options and the CSRF cookie are still checked (W001-W003 are silenced in settings).
_DJANGO_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


@register("security", deploy=True)
def security_middleware_settings(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Django's middleware-dependent deploy checks, for our subclasses of its middlewares."""
    from django.core.checks.security import base, csrf
    from django.test.utils import override_settings

    ours = [import_string(path) for path in settings.MIDDLEWARE]
    present = [
        path for path in _DJANGO_MIDDLEWARE if any(issubclass(m, import_string(path)) for m in ours)
    ]
    gated = [
        base.check_sts,
        base.check_sts_include_subdomains,
        base.check_sts_preload,
        base.check_content_type_nosniff,
        base.check_ssl_redirect,
        base.check_xframe_deny,
        base.check_referrer_policy,
        base.check_cross_origin_opener_policy,
        csrf.check_csrf_cookie_secure,
    ]
    # Only the check functions read MIDDLEWARE here, at start-up, before any request.
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, *present]):
        return [message for check in gated for message in check(app_configs)]
