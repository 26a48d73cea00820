"""Liveness of service accounts' tokens: one key per client, `auth:{c:<client id>}`, holding the
`sid` its live tokens carry. A token is live while the key holds its `sid`: disabling the client
deletes the key, so every token of it dies at once, and a new `sid` (kept in PostgreSQL) keeps
the old tokens dead when it is enabled again. Checking a token is one GET, no SQL."""

from __future__ import annotations

from accounts.token_store.connection import client, script, text, translate_errors


def _client_key(client_id: str) -> str:
    return f"auth:{{c:{client_id}}}"


@translate_errors
def client_tokens_live(*, client_id: str, session_id: str, ttl_ms: int) -> None:
    """Tokens of this client carrying `session_id` are live for at least `ttl_ms` from now."""
    script("client_live")(keys=[_client_key(client_id)], args=[session_id, max(ttl_ms, 1)])


@translate_errors
def client_token_is_live(*, client_id: str, session_id: str) -> bool:
    """Whether a token of this client with this `sid` is live: one round trip."""
    current = client().get(_client_key(client_id))
    return current is not None and text(current) == session_id


@translate_errors
def client_tokens_end(*, client_id: str) -> None:
    """Every token of this client stops working."""
    client().delete(_client_key(client_id))
