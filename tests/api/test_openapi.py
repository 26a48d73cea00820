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
