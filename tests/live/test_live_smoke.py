"""The service under uvicorn, over real HTTP: the whole flow, and the body limits of chunked
requests (which only a real server sends without Content-Length)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus

import pytest

from tests.factories import PASSWORD
from tests.live.calls import login, me, refresh, unique_email

pytestmark = pytest.mark.slow

CHUNK = 8192
BODY_LIMIT = 64 * 1024
TOO_LARGE = {"detail": "Request body too large.", "code": "payload_too_large"}
NOT_JSON = {"detail": "Send the body as application/json.", "code": "unsupported_media_type"}


def test_flow_over_real_http(http):
    email = unique_email()
    created = http.post("/api/register/", json={"email": email, "password": PASSWORD})
    assert created.status_code == HTTPStatus.CREATED, created.text

    pair = login(http, email)

    response = me(http, pair["access"])
    assert response.status_code == HTTPStatus.OK
    assert response.json()["email"] == email
    rotated = refresh(http, pair["refresh"])
    assert rotated.status_code == HTTPStatus.OK, rotated.text
    assert rotated.json()["refresh"] != pair["refresh"]


def _chunked(data: bytes) -> Iterator[bytes]:
    yield from (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))


def test_chunked_bodies_get_the_same_limits_over_real_http(http):
    """Attack: a body sent chunked has no Content-Length, to slip past the limits.
    Expected: 413 payload_too_large over 64 KiB, 415 unsupported_media_type for text/plain."""
    big = json.dumps({"email": "a" * BODY_LIMIT + "@example.com", "password": PASSWORD})
    small = json.dumps({"email": unique_email(), "password": PASSWORD})

    too_big = http.post(
        "/api/register/",
        content=_chunked(big.encode()),
        headers={"Content-Type": "application/json"},
    )
    plain = http.post(
        "/api/register/", content=_chunked(small.encode()), headers={"Content-Type": "text/plain"}
    )

    assert (too_big.status_code, too_big.json()) == (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    assert (plain.status_code, plain.json()) == (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, NOT_JSON)
