"""config/observability.py over the real stack, in-process: request ids (made, or kept from a
trusted proxy, and written to audit rows), request metrics by route template, the domain
counters, GET /metrics and who may read it, the access log line."""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from http import HTTPStatus

import pytest

from accounts.models import AuditEvent
from tests.config.observed import call, observed_app, sample
from tests.factories import PASSWORD, UserFactory
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
NOT_FOUND = {"detail": "Not found.", "code": "not_found"}
REQUESTS = "auth_http_requests_total"


def _login(app, user, **kwargs):
    return call(
        app, "POST", "/api/token/", json={"email": user.email, "password": PASSWORD}, **kwargs
    )


def test_every_response_carries_a_request_id_made_for_it():
    app = observed_app()
    first = call(app, "GET", "/health/live")
    second = call(app, "GET", "/health/live")
    assert first.status_code == HTTPStatus.OK
    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_client_cannot_choose_its_request_id_without_a_trusted_proxy(settings):
    """Attack: a client sends its own X-Request-ID, to plant it in the logs and audit rows of
    its requests. Expected (TRUSTED_PROXY_COUNT=0): the id is ignored; a new one is made."""
    settings.TRUSTED_PROXY_COUNT = 0
    response = call(observed_app(), "GET", "/health/live", headers={"X-Request-ID": "mine-1"})
    assert response.status_code == HTTPStatus.OK
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_a_trusted_proxys_request_id_is_kept_and_written_to_the_audit_row(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    app = observed_app()

    ok = _login(app, user, headers={"X-Request-ID": "edge-7f3a:1", "X-Forwarded-For": "192.0.2.9"})
    failed = call(
        app,
        "POST",
        "/api/token/",
        json={"email": user.email, "password": "wrong password 1"},
        headers={"X-Request-ID": "edge-7f3a:2", "X-Forwarded-For": "192.0.2.9"},
    )

    assert ok.status_code == HTTPStatus.OK
    assert failed.status_code == HTTPStatus.UNAUTHORIZED
    assert ok.headers["x-request-id"] == "edge-7f3a:1"
    rows = AuditEvent.objects.filter(user=user).order_by("created_at")
    assert [(row.kind, row.request_id) for row in rows] == [
        ("login_ok", "edge-7f3a:1"),
        ("login_failed", "edge-7f3a:2"),
    ]


@pytest.mark.parametrize("proposed", ["x" * 65, "has space", "semi;colon", 'quote"d'])
def test_a_malformed_request_id_is_replaced(settings, proposed):
    """Attack: an id that is too long or carries separators, to break log lines or headers.
    Expected: it is dropped and a new id made."""
    settings.TRUSTED_PROXY_COUNT = 1
    response = call(observed_app(), "GET", "/health/live", headers={"X-Request-ID": proposed})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_requests_are_counted_by_route_template_never_by_path():
    """A session id in the path is user input: the label is the template, and the id appears
    in no series."""
    app = observed_app()
    access = _login(app, UserFactory()).json()["access"]
    session_id = uuid.uuid4().hex
    route = {"route": "/api/sessions/<session_id>/", "method": "DELETE", "status": "404"}
    before = sample(REQUESTS, **route)

    response = call(
        app, "DELETE", f"/api/sessions/{session_id}/", headers={"Authorization": f"Bearer {access}"}
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert sample(REQUESTS, **route) == before + 1
    exposition = call(app, "GET", "/metrics").text
    assert session_id not in exposition


def test_unrouted_requests_get_a_fixed_label():
    """Attack: paths and methods made up to create series (an email in the path, an invented
    method). Expected: the route is `unmatched`, the method `other`; neither appears."""
    app = observed_app()
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    invented = {"route": "/health/live", "method": "other", "status": "405"}
    before = sample(REQUESTS, **unmatched), sample(REQUESTS, **invented)

    assert call(app, "GET", "/api/users/ada@example.com").status_code == HTTPStatus.NOT_FOUND
    assert call(app, "BREWCOFFEE", "/health/live").status_code == HTTPStatus.METHOD_NOT_ALLOWED

    assert (sample(REQUESTS, **unmatched), sample(REQUESTS, **invented)) == (
        before[0] + 1,
        before[1] + 1,
    )
    exposition = call(app, "GET", "/metrics").text
    assert "ada@example.com" not in exposition
    assert "BREWCOFFEE" not in exposition


def test_metrics_are_served_to_loopback():
    response = call(observed_app(), "GET", "/metrics")
    assert response.status_code == HTTPStatus.OK
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE auth_http_requests_total counter" in response.text
    assert "# TYPE auth_logins_total counter" in response.text


@pytest.mark.parametrize(
    "headers", [{}, {"X-Forwarded-For": "127.0.0.1"}], ids=["plain", "forged-forwarded-for"]
)
def test_metrics_do_not_exist_for_other_networks(headers):
    """Attack: a client outside METRICS_ALLOWED_NETWORKS (default: loopback) reads /metrics,
    also claiming to be 127.0.0.1 in X-Forwarded-For with no trusted proxy.
    Expected: 404 in the common shape, as for any path that does not exist."""
    response = call(observed_app(), "GET", "/metrics", client="203.0.113.7", headers=headers)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == NOT_FOUND


def test_metrics_networks_are_configurable(settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    app = observed_app()
    assert call(app, "GET", "/metrics", client="10.9.8.7").status_code == HTTPStatus.OK
    assert call(app, "GET", "/metrics").status_code == HTTPStatus.NOT_FOUND


def test_metrics_take_no_other_method():
    response = call(observed_app(), "POST", "/metrics")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {"detail": "Method not allowed.", "code": "method_not_allowed"}


def test_logins_are_counted_by_outcome(settings):
    settings.THROTTLE_LOGIN_PER_MINUTE = 2
    app, user = observed_app(), UserFactory()
    outcomes = ("ok", "failed", "throttled")
    before = [sample("auth_logins_total", outcome=o) for o in outcomes]
    issued = [sample("auth_tokens_issued_total", kind=k) for k in ("access", "refresh")]

    assert _login(app, user).status_code == HTTPStatus.OK
    wrong = {"email": user.email, "password": "not the password"}
    assert call(app, "POST", "/api/token/", json=wrong).status_code == HTTPStatus.UNAUTHORIZED
    assert _login(app, user).status_code == HTTPStatus.TOO_MANY_REQUESTS

    after = [sample("auth_logins_total", outcome=o) for o in outcomes]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
    assert [sample("auth_tokens_issued_total", kind=k) for k in ("access", "refresh")] == [
        issued[0] + 1,
        issued[1] + 1,
    ]


def test_ended_sessions_are_counted_by_reason(settings):
    settings.REFRESH_REUSE_GRACE = type(settings.REFRESH_REUSE_GRACE)(0)
    app, user = observed_app(), UserFactory()
    before = {r: sample("auth_session_ends_total", reason=r) for r in ("reuse", "logout")}

    first = _login(app, user).json()
    call(app, "POST", "/api/token/refresh/", json={"refresh": first["refresh"]})
    reused = call(app, "POST", "/api/token/refresh/", json={"refresh": first["refresh"]})
    second = _login(app, user).json()
    logout = call(app, "POST", "/api/logout/", json={"refresh": second["refresh"]})

    assert (reused.status_code, reused.json()["code"]) == (HTTPStatus.UNAUTHORIZED, "token_reused")
    assert logout.status_code == HTTPStatus.NO_CONTENT
    assert {r: sample("auth_session_ends_total", reason=r) - before[r] for r in before} == {
        "reuse": 1,
        "logout": 1,
    }


def test_503s_are_counted_by_the_dependency_that_failed(settings):
    """Fault: Redis stops answering (the token store points at a closed port). Expected: 503
    token_store_unavailable, counted under dependency="token_store"."""
    app = observed_app()
    pair = _login(app, UserFactory()).json()
    before = sample("auth_unavailable_responses_total", dependency="token_store")
    settings.TOKEN_STORE_URL = f"redis://127.0.0.1:{free_port()}/0"

    response = call(app, "POST", "/api/token/refresh/", json={"refresh": pair["refresh"]})

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["code"] == "token_store_unavailable"
    assert sample("auth_unavailable_responses_total", dependency="token_store") == before + 1


def test_redis_postgresql_and_hashing_are_timed():
    app = observed_app()
    live = {"operation": "session_is_live"}
    names = (
        ("auth_redis_duration_seconds_count", live),
        ("auth_db_query_duration_seconds_count", {}),
        ("auth_hashing_wait_seconds_count", {}),
    )
    before = [sample(name, **labels) for name, labels in names]

    access = _login(app, UserFactory()).json()["access"]
    me = call(app, "GET", "/api/me/", headers={"Authorization": f"Bearer {access}"})

    assert me.status_code == HTTPStatus.OK
    redis, db, hashing = (
        sample(n, **labels) - b for (n, labels), b in zip(names, before, strict=True)
    )
    assert (redis, hashing) == (1, 1)
    assert db >= 2  # noqa: PLR2004 (the login's user read and update, me's user read at least)
    assert sample("auth_hashing_in_use") == 0
    assert sample("auth_hashing_waiting") == 0


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_access_log_line_has_the_requests_fields():
    # Django's set-up reconfigures logging (and drops pytest's caplog handler): a handler of
    # the test's own, on the access logger.
    app, user = observed_app(), UserFactory()
    access = _login(app, user).json()["access"]
    kept = _Kept()
    logging.getLogger("auth.access").addHandler(kept)
    try:
        response = call(
            app,
            "GET",
            "/api/me/?access_token=secret",
            headers={"Authorization": f"Bearer {access}"},
        )
    finally:
        logging.getLogger("auth.access").removeHandler(kept)

    [record] = kept.records
    fields = {
        name: getattr(record, name)
        for name in ("request_id", "method", "route", "status", "client", "user_id")
    }
    assert fields == {
        "request_id": response.headers["x-request-id"],
        "method": "GET",
        "route": "/api/me/",
        "status": 200,
        "client": "127.0.0.1",
        "user_id": str(user.pk),
    }
    assert record.duration_ms > 0
    assert "secret" not in record.getMessage()


def test_a_request_refused_before_url_resolution_keeps_its_route():
    """RequestGuardMiddleware answers 415 before Django resolves the URL: the label is still
    the route the path names."""
    labels = {"route": "/api/token/", "method": "POST", "status": "415"}
    before = sample(REQUESTS, **labels)

    response = call(
        observed_app(), "POST", "/api/token/", content=b"x", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert sample(REQUESTS, **labels) == before + 1
