"""The OpenAPI schema at /api/openapi.json and Swagger UI at /api/docs, with its assets."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_describes_the_endpoints(api):
    response = api.get("/api/openapi.json")

    assert response.status_code == HTTPStatus.OK
    schema = response.json()
    paths = schema["paths"]
    for path in ("/api/register/", "/api/token/", "/api/token/refresh/", "/api/logout/"):
        assert set(paths[path]) == {"post"}, path
    assert "get" in paths["/api/me/"]
    assert "get" in paths["/api/sessions/"]
    assert "delete" in paths["/api/sessions/{session_id}/"]
    assert {"201", "400", "409"} <= set(paths["/api/register/"]["post"]["responses"])
    assert paths["/api/me/"]["get"]["security"]
    register_in = schema["components"]["schemas"]["RegisterIn"]
    assert set(register_in["properties"]) == {"email", "password"}
    assert register_in.get("additionalProperties") is False
    token_out = schema["components"]["schemas"]["TokenOut"]
    assert set(token_out["properties"]) == {
        "access",
        "refresh",
        "token_type",
        "expires_in",
        "refresh_expires_in",
    }


def test_swagger_ui_and_its_assets_are_served_without_debug(api, settings):
    """The docs page and the admin need their CSS/JS even with DEBUG off (WhiteNoise)."""
    assert settings.DEBUG is False
    page = api.get("/api/docs")

    assert page.status_code == HTTPStatus.OK
    assert "swagger-ui-bundle.js" in page.content.decode()
    for asset in ("/static/ninja/swagger-ui-bundle.js", "/static/admin/css/base.css"):
        response = api.get(asset)
        assert response.status_code == HTTPStatus.OK, asset
        assert b"".join(response.streaming_content)


# No NUL or C0 control but tab, LF and CR (refused 400 invalid_request, as lone surrogates are).
SAFE = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*$"
EMAIL = {"type": "string", "format": "email", "minLength": 1, "maxLength": 254, "pattern": SAFE}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 4096, "pattern": SAFE}
# Stated for clients; the domain refuses the rest with its other rules (400 invalid).
NEW_PASSWORD = {**PASSWORD, "minLength": 8, "maxLength": 128}
REFRESH_TOKEN = {"type": "string", "maxLength": 2048, "pattern": "^rt1_[A-Za-z0-9_-]+$"}
MAIL_TOKEN = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9_-]+$"}
MAIL_CODE = {"type": "string", "minLength": 1, "maxLength": 16}
CONSTRAINTS = {
    "RegisterIn": {"email": EMAIL, "password": NEW_PASSWORD},
    "LoginIn": {"email": EMAIL, "password": PASSWORD},
    "RefreshIn": {"refresh": REFRESH_TOKEN},
    # RFC 7009: logout answers 204 for any string, so it states (and checks) only a length.
    "LogoutIn": {"refresh": {"type": "string", "maxLength": 2048}},
    "PasswordChangeIn": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    "PasswordResetIn": {"email": EMAIL},
    "PasswordResetConfirmIn": {
        "token": MAIL_TOKEN,
        "email": EMAIL,
        "code": MAIL_CODE,
        "new_password": NEW_PASSWORD,
    },
    "MailSecretIn": {"token": MAIL_TOKEN, "email": EMAIL, "code": MAIL_CODE},
    "EmailChangeIn": {"password": PASSWORD, "new_email": EMAIL},
    "PasswordIn": {"password": PASSWORD},
}
# The OAuth endpoints take forms (RFC 6749 3.2), stated inline under their path.
FORM = "application/x-www-form-urlencoded"
_CREDENTIAL = {"type": "string", "maxLength": 256, "pattern": SAFE}
_CLIENT = {"client_id": _CREDENTIAL, "client_secret": _CREDENTIAL}
_TOKEN_PARAMS = {
    "token": {"type": "string", "minLength": 1, "maxLength": 4096, "pattern": SAFE},
    "token_type_hint": {"type": "string", "maxLength": 64, "pattern": SAFE},
    **_CLIENT,
}
FORM_CONSTRAINTS = {
    "/api/oauth/token/": {
        "grant_type": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": SAFE},
        "scope": {"type": "string", "maxLength": 1024, "pattern": SAFE},
        **_CLIENT,
    },
    "/api/oauth/introspect/": _TOKEN_PARAMS,
    "/api/oauth/revoke/": _TOKEN_PARAMS,
}
SESSION_ID = {"type": "string", "minLength": 32, "maxLength": 32, "pattern": "^[0-9a-f]{32}$"}
CONSTRAINT_KEYWORDS = {"type", "format", "minLength", "maxLength", "pattern"}


def _input_schemas(schema: dict) -> set[str]:
    return {
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        for methods in schema["paths"].values()
        for operation in methods.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }


def _form_schemas(schema: dict) -> dict[str, dict]:
    return {
        path: operation["requestBody"]["content"][FORM]["schema"]["properties"]
        for path, methods in schema["paths"].items()
        for operation in methods.values()
        if FORM in operation.get("requestBody", {}).get("content", {})
    }


def test_every_input_property_states_its_constraints(api):
    """A client or a fuzzer reads from the schema what the service refuses: every property of
    every request body has its type, lengths, and format or pattern where one applies."""
    schema = api.get("/api/openapi.json").json()
    components = schema["components"]["schemas"]

    assert _input_schemas(schema) == set(CONSTRAINTS)
    for name, expected in CONSTRAINTS.items():
        properties = components[name]["properties"]
        stated = {
            field: {k: v for k, v in spec.items() if k in CONSTRAINT_KEYWORDS}
            for field, spec in properties.items()
        }
        assert stated == expected, name
        assert all("maxLength" in spec for spec in properties.values()), name
    forms = _form_schemas(schema)
    assert set(forms) == set(FORM_CONSTRAINTS)
    for path, properties in forms.items():
        stated = {
            field: {k: v for k, v in spec.items() if k in CONSTRAINT_KEYWORDS}
            for field, spec in properties.items()
        }
        assert stated == FORM_CONSTRAINTS[path], path


def test_every_path_parameter_states_its_constraints(api):
    schema = api.get("/api/openapi.json").json()
    parameters = [
        parameter
        for methods in schema["paths"].values()
        for operation in methods.values()
        for parameter in operation.get("parameters", [])
    ]

    assert [(p["name"], p["in"]) for p in parameters] == [("session_id", "path")]
    stated = {k: v for k, v in parameters[0]["schema"].items() if k in CONSTRAINT_KEYWORDS}
    assert stated == SESSION_ID


def test_the_schema_links_each_answer_to_the_requests_it_feeds(api):
    """OpenAPI links (api/openapi.py): register -> log in; a pair -> refresh, log out; the
    session list -> end one. Every link names an operation of the schema."""
    schema = api.get("/api/openapi.json").json()
    operations = {
        operation["operationId"]
        for methods in schema["paths"].values()
        for operation in methods.values()
    }

    def links(path: str, method: str, status: str) -> dict:
        return schema["paths"][path][method]["responses"][status]["links"]

    assert links("/api/register/", "post", "201")["LogIn"]["requestBody"] == {
        "email": "$request.body#/email",
        "password": "$request.body#/password",
    }
    for path in ("/api/token/", "/api/token/refresh/"):
        pair = links(path, "post", "200")
        assert {name: link["requestBody"] for name, link in pair.items()} == {
            "Refresh": {"refresh": "$response.body#/refresh"},
            "LogOut": {"refresh": "$response.body#/refresh"},
        }
    assert links("/api/sessions/", "get", "200")["EndSession"]["parameters"] == {
        "path.session_id": "$response.body#/0/id"
    }
    linked = {
        link["operationId"]
        for methods in schema["paths"].values()
        for operation in methods.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    }
    assert linked <= operations
