"""POST /api/oauth/token/ (client credentials, RFC 6749 4.4) through the test client: the
token, both ways of sending credentials, and every way a request is refused, with its body."""

from __future__ import annotations

import base64
from http import HTTPStatus

import jwt
import pytest

from accounts import clients
from accounts.models import AuditEvent
from tests.helpers import (
    BASIC_CHALLENGE,
    FORM,
    INVALID_CLIENT,
    OAUTH_TOKEN,
    assert_unauthorized,
    basic,
    client_token,
    header_of,
    me,
    oauth_error,
    post_form,
    post_json,
    signer,
)

pytestmark = pytest.mark.django_db

GRANT = {"grant_type": "client_credentials"}
MINUTE = 60
INVALID_SCOPE = oauth_error(
    "invalid_scope", "The requested scope is invalid or not allowed for this client."
)


def _assert_invalid_client(response) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    assert response.json() == INVALID_CLIENT
    assert response["WWW-Authenticate"] == BASIC_CHALLENGE


def test_a_client_gets_an_at_jwt_naming_it_with_its_scope_and_audience(api, service_account):
    issued = service_account()
    client_id = issued.client.client_id

    response = client_token(api, client_id, issued.secret)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert body["scope"] == "read:invoices introspect"
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    assert header_of(body["access_token"])["typ"] == "at+jwt"
    # Verified the way a resource server would, with PyJWT and the published key.
    claims = jwt.decode(
        body["access_token"],
        signer()[1].public_key(),
        algorithms=["ES256"],
        audience="billing-api",
        issuer="auth-service",
    )
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["scope"] == "read:invoices introspect"
    assert claims["sid"] == issued.client.token_sid
    assert claims["exp"] - claims["iat"] == body["expires_in"]


def test_http_basic_credentials_work_too(api, service_account):
    issued = service_account()

    response = post_form(api, OAUTH_TOKEN, GRANT, **basic(issued.client.client_id, issued.secret))

    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:invoices introspect"


def test_a_client_may_ask_for_fewer_scopes(api, service_account):
    issued = service_account()

    response = client_token(api, issued.client.client_id, issued.secret, scope="read:invoices")

    assert response.json()["scope"] == "read:invoices"
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})[
        "scope"
    ] == ("read:invoices")


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("write:invoices", id="a-scope-it-does-not-have"),
        pytest.param("read:invoices admin", id="one-more-than-it-has"),
        pytest.param('read:"invoices"', id="malformed"),
    ],
)
def test_attack_asking_for_a_scope_beyond_the_clients_is_refused(api, service_account, scope):
    """Attack: a client asks for a scope it was not given. Expected: 400 invalid_scope, no
    token."""
    issued = service_account()

    response = client_token(api, issued.client.client_id, issued.secret, scope=scope)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == INVALID_SCOPE


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param(
            lambda cid, secret: {"client_id": cid, "client_secret": "sks_wrong"}, id="form"
        ),
        pytest.param(lambda cid, secret: basic(cid, "sks_wrong"), id="basic"),
    ],
)
def test_attack_wrong_secret_is_401_invalid_client(api, service_account, credentials):
    """Attack: the right client id with a guessed secret, in the form or by HTTP Basic.
    Expected: 401 invalid_client with `WWW-Authenticate: Basic`, and the failure audited."""
    issued = service_account()
    sent = credentials(issued.client.client_id, issued.secret)
    form = {k: v for k, v in sent.items() if not k.startswith("HTTP_")}
    headers = {k: v for k, v in sent.items() if k.startswith("HTTP_")}

    response = post_form(api, OAUTH_TOKEN, {**GRANT, **form}, **headers)

    _assert_invalid_client(response)
    failure = AuditEvent.objects.get(kind=AuditEvent.Kind.CLIENT_AUTH_FAILED)
    assert failure.client_id == issued.client.client_id
    assert "sks_" not in failure.detail


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"HTTP_AUTHORIZATION": "Basic not-base64!"}, id="basic-not-base64"),
        pytest.param({"HTTP_AUTHORIZATION": "Basic c3ZjX25vY29sb24="}, id="basic-without-colon"),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer abc"}, id="another-scheme"),
        pytest.param(basic("svc_unknown", "sks_whatever"), id="unknown-client"),
        pytest.param(basic("svc_" + "0" * 24, "sks_whatever"), id="unknown-well-formed-client"),
        pytest.param(
            {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"svc\x00:x").decode()},
            id="basic-with-nul",
        ),
        pytest.param(
            {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
            id="basic-not-utf8",
        ),
    ],
)
def test_attack_missing_or_malformed_credentials_are_401_invalid_client(api, db, headers):
    """Attack: no credentials, garbage in the Basic header, or a client id that does not
    exist. Expected: 401 invalid_client, the same answer as a wrong secret."""
    _assert_invalid_client(post_form(api, OAUTH_TOKEN, GRANT, **headers))


def test_attack_disabled_client_is_401_invalid_client(api, service_account):
    """Attack: a disabled client's right secret. Expected: 401 invalid_client."""
    issued = service_account()
    clients.client_disable(client=issued.client)

    _assert_invalid_client(client_token(api, issued.client.client_id, issued.secret))


def test_credentials_by_both_methods_are_400_invalid_request(api, service_account):
    """RFC 6749 2.3: one method only. Expected: 400 invalid_request, no token."""
    issued = service_account()
    cid = issued.client.client_id
    data = {**GRANT, "client_id": cid, "client_secret": issued.secret}

    response = post_form(api, OAUTH_TOKEN, data, **basic(cid, issued.secret))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == oauth_error(
        "invalid_request", "Send client credentials by one method only."
    )


def test_a_repeated_parameter_is_400_invalid_request(api, service_account):
    issued = service_account()
    body = "grant_type=client_credentials&scope=introspect&scope=read:invoices"

    response = api.post(
        OAUTH_TOKEN, body, content_type=FORM, **basic(issued.client.client_id, issued.secret)
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == oauth_error("invalid_request", "A parameter was sent more than once.")


def test_an_unknown_parameter_is_ignored_even_twice(api, service_account):
    """RFC 6749 3.2: unrecognised parameters are ignored (schemathesis found them refused)."""
    issued = service_account()
    body = "grant_type=client_credentials&x-extra=1&x-extra=2"

    response = api.post(
        OAUTH_TOKEN, body, content_type=FORM, **basic(issued.client.client_id, issued.secret)
    )

    assert response.status_code == HTTPStatus.OK, response.content


@pytest.mark.parametrize(
    ("data", "body"),
    [
        pytest.param(
            {"grant_type": "password", "username": "a", "password": "b"},
            oauth_error(
                "unsupported_grant_type", "Only grant_type=client_credentials is supported."
            ),
            id="password-grant",
        ),
        pytest.param(
            {"grant_type": "refresh_token", "refresh_token": "rt1_x"},
            oauth_error(
                "unsupported_grant_type", "Only grant_type=client_credentials is supported."
            ),
            id="refresh-grant",
        ),
    ],
)
def test_other_grant_types_are_400_unsupported_grant_type(api, service_account, data, body):
    issued = service_account()

    response = post_form(api, OAUTH_TOKEN, data, **basic(issued.client.client_id, issued.secret))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == body


def test_a_missing_grant_type_is_400_invalid_request_in_both_shapes(api, service_account):
    issued = service_account()

    response = post_form(
        api, OAUTH_TOKEN, {"scope": "introspect"}, **basic(issued.client.client_id, issued.secret)
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert (body["code"], body["error"]) == ("invalid_request", "invalid_request")
    assert body["errors"][0]["field"] == "form.grant_type"


def test_a_json_body_is_415(api, service_account):
    """RFC 6749 3.2: the token endpoint takes form bodies only."""
    issued = service_account()
    data = {**GRANT, "client_id": issued.client.client_id, "client_secret": issued.secret}

    response = post_json(api, OAUTH_TOKEN, data)

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.json() == {
        "detail": "Send the body as application/x-www-form-urlencoded.",
        "code": "unsupported_media_type",
    }


def test_a_client_token_is_no_user_token(api, service_account, settings):
    """Attack: a service account's token (even one whose audience is this service's) sent to
    /api/me/. Expected: 401 invalid_token: a client is not a user."""
    issued = service_account(audience=settings.JWT_AUDIENCE)
    access = client_token(api, issued.client.client_id, issued.secret).json()["access_token"]

    assert_unauthorized(me(api, access))


def test_each_token_issued_is_audited_without_the_secret(api, service_account):
    issued = service_account()

    client_token(api, issued.client.client_id, issued.secret, HTTP_USER_AGENT="billing/1.0")

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.CLIENT_TOKEN)
    assert event.client_id == issued.client.client_id
    assert event.detail == "scope='read:invoices introspect'"
    assert event.ip == "127.0.0.1"


def test_failed_authentications_are_throttled_per_client(api, service_account, settings):
    """Attack: guessing a client's secret. Expected: after THROTTLE_CLIENT_FAILURES_PER_MINUTE
    failures, 429 with Retry-After, even for the right secret, until the minute is over."""
    settings.THROTTLE_CLIENT_FAILURES_PER_MINUTE = 2
    issued = service_account()
    cid = issued.client.client_id
    for _ in range(2):
        _assert_invalid_client(client_token(api, cid, "sks_guess"))

    response = client_token(api, cid, issued.secret)

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json() == {"detail": "Too many attempts; retry later.", "code": "throttled"}
    assert 1 <= int(response["Retry-After"]) <= MINUTE
