"""Property: no input makes any endpoint answer 5xx, and every answer has a shape it documents.

Every operation of the OpenAPI schema is thrown arbitrary JSON (nested values, numbers, NaN,
text with NUL, control characters and lone surrogates, sent as JSON escapes), bodies made of its
own fields with arbitrary values, raw bytes that are not JSON or not UTF-8, odd path parameters
and odd bearer tokens, with and without a valid one. The OAuth endpoints take forms: they are
thrown form bodies of their own fields (repeated, too), odd Basic headers, and real client
credentials now and then, so that examples get past client authentication.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.api import api as ninja_api
from tests.helpers import FORM, auth, basic

pytestmark = pytest.mark.django_db

# Kept small so that the file runs in seconds; raise it locally to shake out more.
EXAMPLES = 80
MANY = 10**6
ERROR_KEYS = {"detail", "code", "errors"}
OAUTH_ERROR_KEYS = ERROR_KEYS | {"error", "error_description"}
SCHEMA = ninja_api.get_openapi_schema()
COMPONENTS = SCHEMA["components"]["schemas"]
OPERATIONS = [
    pytest.param(method, path, operation, id=f"{method.upper()} {path}")
    for path, methods in SCHEMA["paths"].items()
    for method, operation in methods.items()
]

# The characters that broke things before (NUL, lone surrogates), and their neighbours.
_nasty = st.sampled_from("\x00\ud800\udfff\x1b\x7f\t\u2028")
_char = st.one_of(st.characters(), st.characters(categories=["Cs"]), _nasty)
# Something a real client would send, with one bad character slipped in: it gets past the
# type checks, so this is what reaches the database, the throttle and the hasher.
_slipped = st.builds(
    lambda text, at, char: text[:at] + char + text[at:],
    st.sampled_from(["ada@example.com", "correct horse battery staple", "rt1_AAAA"]),
    st.integers(0, 10),
    _nasty,
)
_text = st.one_of(
    st.text(max_size=40),  # any Unicode but lone surrogates
    st.text(_char, max_size=40),
    _slipped,
    st.text(_char, min_size=100, max_size=300),
    st.builds(lambda n: "é" * n, st.sampled_from([253, 254, 255, 2048, 2049, 4096, 4097])),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)


def _fields(operation: dict[str, Any]) -> list[str]:
    body = operation.get("requestBody")
    if body is None:
        return []
    if FORM in body["content"]:
        return list(body["content"][FORM]["schema"]["properties"])
    ref = body["content"]["application/json"]["schema"]["$ref"]
    return list(COMPONENTS[ref.rsplit("/", 1)[-1]]["properties"])


def _encoded(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    every = st.fixed_dictionaries(dict.fromkeys(fields, _slipped | _slipped | _text))
    some = st.fixed_dictionaries({}, optional=dict.fromkeys(fields, _text | _json))
    as_json = (every | every | some | _json).map(lambda value: json.dumps(value).encode())
    return as_json | st.binary(max_size=64)


def _form_bodies(fields: list[str], credentials: list[tuple[str, str]]) -> st.SearchStrategy[bytes]:
    known = st.sampled_from(["client_credentials", "introspect", "read", "introspect read", ""])
    printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
    value = known | known | printable | _slipped | _text
    params = [field for field in fields if field not in {"client_id", "client_secret"}]
    # The grant type half of the time, so that examples get past it to the client and scope.
    grant = st.just("client_credentials") | value
    strategies = {field: grant if field == "grant_type" else known | value for field in params}
    every = st.fixed_dictionaries(strategies).map(lambda d: list(d.items()))
    # Any of its fields, any number of times (repeats, credentials), in any order.
    some = st.lists(st.tuples(st.sampled_from(fields), value), max_size=6)
    as_form = (every | every | some).map(
        lambda items: "&".join(
            f"{_encoded(k)}={_encoded(v)}" for k, v in [*credentials, *items]
        ).encode()
    )
    return as_form | as_form | st.binary(max_size=64)


def _client_auth(
    data: st.DataObject, credentials: dict[str, str]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Headers and form credentials: the real ones by one method, none, or odd ones."""
    kind = data.draw(st.sampled_from(["form", "basic", "none", "odd-basic", "odd"]), label="auth")
    if kind == "form":
        return {}, list(credentials.items())
    if kind == "basic":
        return basic(credentials["client_id"], credentials["client_secret"]), []
    if kind == "none":
        return {}, []
    odd = data.draw(_text, label="odd credentials").encode("utf-8", "surrogatepass")
    if kind == "odd-basic":
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(odd).decode()}, []
    return {"HTTP_AUTHORIZATION": odd.decode("latin-1")}, []


def _bearer(data: st.DataObject, access: Callable[[], str]) -> str | None:
    kind = data.draw(st.sampled_from(["none", "valid", "odd", "valid-then-odd"]), label="bearer")
    if kind == "none":
        return None
    odd = data.draw(_text, label="odd token") if kind != "valid" else ""
    # Only some examples log in: it is the costly part of an example.
    return odd if kind == "odd" else access() + odd


def _url(path: str, value: str) -> str:
    # A lone surrogate has no UTF-8 form: it goes out as the bytes a sloppy client would send.
    encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
    return path.replace("{session_id}", encoded)


def _check_shape(response: Any, operation: dict[str, Any]) -> None:
    status = response.status_code
    assert status < HTTPStatus.INTERNAL_SERVER_ERROR, response.content
    documented = operation["responses"].get(status, {})
    if status == HTTPStatus.NO_CONTENT or (
        status < HTTPStatus.BAD_REQUEST and "content" not in documented
    ):
        # 204, or a success documented without a body (forward auth's and revocation's 200).
        assert response.content == b""
        return
    body = response.json()
    if status >= HTTPStatus.BAD_REQUEST:
        assert isinstance(body["detail"], str)
        assert isinstance(body["code"], str)
        assert set(body) <= (OAUTH_ERROR_KEYS if "oauth" in operation["tags"] else ERROR_KEYS)
        for error in body.get("errors", []):
            assert set(error) == {"field", "message"}, body
        return
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    for item in body if schema.get("type") == "array" else [body]:
        ref = schema.get("items", schema)["$ref"].rsplit("/", 1)[-1]
        assert set(item) <= set(COMPONENTS[ref]["properties"]), item


@pytest.fixture
def unthrottled(settings):
    """Throttles out of the way, so that every example reaches the code past them."""
    settings.THROTTLE_LOGIN_PER_MINUTE = MANY
    settings.THROTTLE_REGISTER_PER_MINUTE = MANY
    settings.THROTTLE_ACCOUNT_FAILURES = MANY
    settings.THROTTLE_CLIENT_FAILURES_PER_MINUTE = MANY


@pytest.mark.usefixtures("unthrottled")
@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_is_answered_5xx(
    api: Client, user, login, service_account, method, path, operation, data
):
    """Attack: arbitrary JSON, Unicode and bytes at every endpoint, as body, path parameter and
    bearer token. Expected: never a 5xx; an error in the common shape, or a documented body."""
    if FORM in operation.get("requestBody", {}).get("content", {}):
        response = _form_request(api, service_account, method, path, operation, data)
        _check_shape(response, operation)
        return
    bearer = _bearer(data, lambda: login(user)["access"])
    url = _url(path, data.draw(_text, label="path parameter")) if "{" in path else path
    extra = {} if bearer is None else auth(bearer)
    if operation.get("requestBody") is None:
        response = getattr(api, method)(url, **extra)
    else:
        body = data.draw(_bodies(_fields(operation)), label="body")
        response = getattr(api, method)(url, body, content_type="application/json", **extra)

    _check_shape(response, operation)


def _form_request(api, service_account, method, path, operation, data) -> Any:
    # One client per test run of an operation (the database is rolled back after it).
    issued = service_account(scope="introspect read")
    credentials = {"client_id": issued.client.client_id, "client_secret": issued.secret}
    headers, in_form = _client_auth(data, credentials)
    body = data.draw(_form_bodies(_fields(operation), in_form), label="form body")
    return getattr(api, method)(path, body, content_type=FORM, **headers)
