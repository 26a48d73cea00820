"""The request path under ASGI: how often a request crosses between the event loop and a thread,
where password hashing runs, and what happens when every hashing slot is taken."""

from __future__ import annotations

import asyncio
import threading
from http import HTTPStatus
from typing import Any

import pytest
from asgiref import sync
from django.test import AsyncClient

from accounts import hashing
from tests.factories import PASSWORD, UserFactory
from tests.helpers import TOKEN_FIELDS, login, through_asgi

pytestmark = pytest.mark.django_db(transaction=True)

# request_started, the view (auth, ORM, Redis, serialisation: one crossing), response.close.
API_CROSSINGS = 3
JSON = "application/json"
BUSY = {"detail": "Too many logins in progress; retry shortly.", "code": "busy"}


@pytest.fixture
def crossings(monkeypatch) -> list[str]:
    """Every sync_to_async call made while the fixture is active, by the function it runs."""
    calls: list[str] = []
    original = sync.SyncToAsync.__call__

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(self.func, "__qualname__", repr(self.func)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counting)
    return calls


@pytest.fixture
def pair(client) -> dict[str, Any]:
    user = UserFactory()
    return login(client, user.email, PASSWORD).json()


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_me_crosses_to_a_thread_three_times(pair, crossings):
    bearer = {"Authorization": f"Bearer {pair['access']}"}

    response = _run(AsyncClient().get("/api/me/", headers=bearer))

    assert response.status_code == HTTPStatus.OK
    assert len(crossings) == API_CROSSINGS, crossings


def test_refresh_crosses_to_a_thread_three_times(pair, crossings):
    body = {"refresh": pair["refresh"]}

    response = _run(AsyncClient().post("/api/token/refresh/", body, content_type=JSON))

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == TOKEN_FIELDS
    assert len(crossings) == API_CROSSINGS, crossings


def test_no_admin_middleware_runs_for_the_api(pair, crossings):
    _run(AsyncClient().get("/api/me/", headers={"Authorization": f"Bearer {pair['access']}"}))

    assert not [name for name in crossings if "Middleware" in name]


def test_the_admin_still_gets_its_session_and_csrf_middleware(crossings):
    response = _run(AsyncClient().get("/admin/login/"))

    assert response.status_code == HTTPStatus.OK
    assert "csrftoken" in response.cookies
    assert {"SessionMiddleware.process_request", "CsrfViewMiddleware.process_view"} <= set(
        crossings
    )


def test_password_hashing_never_runs_on_the_event_loop(monkeypatch, argon2):
    from accounts.hashers import Argon2idHasher

    on_loop: list[bool] = []
    original = Argon2idHasher.encode

    def recording(self: Any, password: str, salt: str) -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            on_loop.append(False)
        else:
            on_loop.append(True)
        return original(self, password, salt)

    monkeypatch.setattr(Argon2idHasher, "encode", recording)
    body = {"email": "loop@example.com", "password": "a long enough passphrase 7"}

    registered = _run(AsyncClient().post("/api/register/", body, content_type=JSON))
    logged_in = _run(AsyncClient().post("/api/token/", body, content_type=JSON))

    assert (registered.status_code, logged_in.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert on_loop
    assert not any(on_loop)


def test_a_login_that_finds_every_hashing_slot_taken_is_refused_not_queued(client, settings):
    """Attack: a flood of logins, each ~30 ms of CPU and 19 MiB, queued without limit.
    Expected: once every slot is taken for longer than PASSWORD_HASH_WAIT_MS, 503 busy with
    Retry-After; nothing is queued, and the next login after the flood works."""
    settings.PASSWORD_HASH_CONCURRENCY = 1
    settings.PASSWORD_HASH_WAIT_MS = 50
    user = UserFactory()
    held = threading.Event()
    release = threading.Event()

    def occupy() -> None:
        with hashing.hashing_slot():
            held.set()
            release.wait(10)

    occupant = threading.Thread(target=occupy)
    occupant.start()
    held.wait(10)
    try:
        refused = login(client, user.email, PASSWORD)
    finally:
        release.set()
        occupant.join()

    assert refused.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert refused.json() == BUSY
    assert refused["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
    assert login(client, user.email, PASSWORD).status_code == HTTPStatus.OK


# --- the hot path (api/hotpath.py): the whole ASGI application, as uvicorn calls it ----------


HOT = [
    ("GET", "/api/me/", "access"),
    ("GET", "/api/auth/verify", "access"),
    ("POST", "/api/token/refresh/", "refresh"),
]


def _request(pair: dict[str, Any], method: str, token: str) -> dict[str, Any]:
    if token == "access":
        return {"headers": {"Authorization": f"Bearer {pair['access']}"}}
    return {"json": {"refresh": pair["refresh"]}}


@pytest.mark.parametrize(("method", "path", "token"), HOT)
def test_the_hot_path_answers_with_no_thread_crossing(pair, crossings, method, path, token):
    response = through_asgi(method, path, hot=True, **_request(pair, method, token))

    assert response.status_code == HTTPStatus.OK, response.content
    assert crossings == []


@pytest.mark.parametrize(("method", "path", "token"), HOT)
def test_without_the_hot_path_django_answers_with_its_crossings(
    pair, crossings, method, path, token
):
    response = through_asgi(method, path, hot=False, **_request(pair, method, token))

    assert response.status_code == HTTPStatus.OK, response.content
    assert len(crossings) == API_CROSSINGS, crossings


def test_a_cors_request_goes_to_django(pair, crossings, settings):
    """django-cors-headers answers requests with an Origin: the hot path steps aside."""
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    headers = {"Authorization": f"Bearer {pair['access']}", "Origin": "https://app.example.com"}

    response = through_asgi("GET", "/api/me/", hot=True, headers=headers)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert len(crossings) == API_CROSSINGS, crossings


def test_a_refresh_body_it_cannot_read_goes_to_django_whole(pair, crossings):
    """A body that is not the schema's JSON is Django's to refuse, in its words (400), and
    Django gets the body the hot path already read."""
    response = through_asgi(
        "POST", "/api/token/refresh/", hot=True, json={"refresh": pair["refresh"], "x": 1}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid_request"
    assert response.json()["errors"] == [{"field": "x", "message": "Unknown field."}]
    assert any("sync_view_wrapper" in name for name in crossings), crossings  # Ninja's view
