"""Service accounts (API clients of the client credentials grant): create, authenticate, change,
disable, enable and rotate their secrets; each change audited.

A secret is 256 random bits, shown once; only its SHA-256 is kept. A fast unkeyed hash is enough
here, unlike for passwords: nobody chose the secret, so no dictionary holds it, and 2^256
candidates cannot be tried, so a slow or salted hash (Argon2id) would add ~30 ms of CPU to every
token request and no protection, and an HMAC under SECRET_KEY would end every secret when that
key is rotated. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import throttling, token_store
from accounts.audit import Kind, audit_record
from accounts.exceptions import InvalidClient, InvalidInput
from accounts.models import APIClient, User
from accounts.types import Caller

CLIENT_ID_PREFIX = "svc_"
SECRET_PREFIX = "sks_"
INTROSPECT_SCOPE = "introspect"
NAME_MAX = 100
# RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), kept short.
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")
_AUDIENCE = re.compile(r"^[\x21-\x7e]{1,255}$")
_CLIENT_ID = re.compile(r"^svc_[0-9a-f]{24}$")
# Compared against when the client id is unknown, so that both answers cost the same.
_NOBODY = hashlib.sha256(b"no such client").hexdigest()


@dataclass(frozen=True)
class IssuedSecret:
    """A client and its new secret: the only moment the secret exists outside its holder."""

    client: APIClient
    secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def scope_parse(scope: str) -> list[str]:
    """The scope tokens of a space-separated scope string, in order, without repeats;
    InvalidInput for a malformed one."""
    tokens = list(dict.fromkeys(scope.split()))
    bad = [token for token in tokens if not _SCOPE_TOKEN.match(token)]
    if bad:
        message = "Scopes are 1-64 printable ASCII characters, without spaces, quotes or \\."
        raise InvalidInput([{"field": "scope", "message": message}])
    return tokens


def client_fields_clean(*, name: str, scope: str, audience: str) -> tuple[str, str, str]:
    """Name, scope and audience as stored; InvalidInput listing every problem."""
    problems = []
    name = name.strip()
    if not 0 < len(name) <= NAME_MAX:
        problems.append({"field": "name", "message": f"Give a name of 1-{NAME_MAX} characters."})
    audience = audience.strip() or settings.JWT_AUDIENCE
    if not _AUDIENCE.match(audience):
        message = "An audience is 1-255 printable ASCII characters, without spaces."
        problems.append({"field": "audience", "message": message})
    try:
        scope = " ".join(scope_parse(scope))
    except InvalidInput as exc:
        problems += exc.errors
    if problems:
        raise InvalidInput(problems)
    return name, scope, audience


def client_create(
    *, name: str, scope: str = "", audience: str = "", actor: User | None = None
) -> IssuedSecret:
    """A new active client; its secret is returned once and never stored."""
    name, scope, audience = client_fields_clean(name=name, scope=scope, audience=audience)
    secret = _new_secret()
    client = APIClient.objects.create(
        name=name,
        client_id=CLIENT_ID_PREFIX + secrets.token_hex(12),
        secret_hash=secret_hash(secret),
        scope=scope,
        audience=audience,
        token_sid=uuid.uuid4().hex,
        created_by=actor,
    )
    _audit(Kind.CLIENT_CREATED, client, actor, f"scope={scope!r} aud={audience!r}")
    return IssuedSecret(client=client, secret=secret)


def client_get(*, client_id: str) -> APIClient | None:
    return APIClient.objects.filter(client_id=client_id).first()


def clients_list() -> list[APIClient]:
    return list(APIClient.objects.order_by("name", "client_id"))


def _secret_matches(client: APIClient | None, secret: str) -> bool:
    presented = secret_hash(secret)
    if client is None:
        hmac.compare_digest(presented, _NOBODY)
        return False
    if hmac.compare_digest(presented, client.secret_hash):
        return True
    until = client.previous_secret_until
    return (
        bool(client.previous_secret_hash)
        and until is not None
        and timezone.now() < until
        and hmac.compare_digest(presented, client.previous_secret_hash)
    )


def client_authenticate(*, client_id: str, secret: str, caller: Caller) -> APIClient:
    """The active client these credentials prove; InvalidClient (audited, throttled) else."""
    throttling.client_attempt(client_id=client_id, caller=caller)
    # Anything but an id we issue names no client, and is never looked up or stored (a NUL
    # from an HTTP Basic header is no text PostgreSQL takes).
    well_formed = bool(_CLIENT_ID.fullmatch(client_id))
    client = client_get(client_id=client_id) if well_formed else None
    if _secret_matches(client, secret) and client is not None and client.is_active:
        return client
    throttling.client_failed(client_id=client_id, caller=caller)
    reason = "unknown client" if client is None else "wrong secret or disabled"
    audit_record(
        kind=Kind.CLIENT_AUTH_FAILED,
        client_id=client_id if well_formed else "",
        caller=caller,
        detail=reason if well_formed else "malformed client id",
    )
    raise InvalidClient()


def client_update(
    *, client: APIClient, name: str, scope: str, audience: str, actor: User | None = None
) -> APIClient:
    """Change a client's name, scope or audience; a new scope or audience ends its tokens."""
    name, scope, audience = client_fields_clean(name=name, scope=scope, audience=audience)
    with transaction.atomic():
        locked = APIClient.objects.select_for_update().get(pk=client.pk)
        changed = (locked.scope, locked.audience) != (scope, audience)
        locked.name, locked.scope, locked.audience = name, scope, audience
        if changed:
            _end_tokens(locked)
        locked.save()
        if changed:
            _audit(Kind.CLIENT_UPDATED, locked, actor, f"scope={scope!r} aud={audience!r}")
    return locked


def client_disable(*, client: APIClient, actor: User | None = None) -> APIClient:
    """Disable a client: it cannot authenticate, and every token it holds dies at once.

    The token store is told inside the transaction: if it cannot be, nothing changes
    (StoreUnavailable), so a client is never shown disabled while its tokens still work.
    """
    with transaction.atomic():
        locked = APIClient.objects.select_for_update().get(pk=client.pk)
        locked.is_active = False
        _end_tokens(locked)
        locked.save(update_fields=["is_active", "token_sid"])
        _audit(Kind.CLIENT_DISABLED, locked, actor)
    return locked


def client_enable(*, client: APIClient, actor: User | None = None) -> APIClient:
    """Let a disabled client authenticate again (its old tokens stay dead)."""
    with transaction.atomic():
        APIClient.objects.filter(pk=client.pk).update(is_active=True)
        _audit(Kind.CLIENT_ENABLED, client, actor)
    client.refresh_from_db()
    return client


def client_rotate_secret(
    *, client: APIClient, overlap: timedelta | None = None, actor: User | None = None
) -> IssuedSecret:
    """A new secret; the current one keeps working for `overlap` (CLIENT_SECRET_OVERLAP), an
    older one stops at once. Tokens already issued are untouched."""
    overlap = settings.CLIENT_SECRET_OVERLAP if overlap is None else overlap
    secret = _new_secret()
    with transaction.atomic():
        locked = APIClient.objects.select_for_update().get(pk=client.pk)
        locked.previous_secret_hash = locked.secret_hash if overlap > timedelta(0) else ""
        locked.previous_secret_until = timezone.now() + overlap if overlap > timedelta(0) else None
        locked.secret_hash = secret_hash(secret)
        locked.save(update_fields=["secret_hash", "previous_secret_hash", "previous_secret_until"])
        detail = f"previous secret valid until {locked.previous_secret_until or 'now'}"
        _audit(Kind.CLIENT_SECRET_ROTATED, locked, actor, detail)
    return IssuedSecret(client=locked, secret=secret)


def _end_tokens(client: APIClient) -> None:
    # The new sid first (saved by the caller's transaction), then the store: a failure raises
    # StoreUnavailable and the transaction rolls back.
    client.token_sid = uuid.uuid4().hex
    token_store.client_tokens_end(client_id=client.client_id)


def _audit(kind: str, client: APIClient, actor: User | None, detail: str = "") -> None:
    audit_record(kind=kind, client_id=client.client_id, actor=actor, detail=detail)
