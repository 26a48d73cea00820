"""The OpenAPI schema at /api/openapi.json and Swagger UI at /api/docs, both from the schemas."""

from __future__ import annotations

from http import HTTPStatus


def test_openapi_schema_describes_the_four_endpoints(api):
    response = api.get("/api/openapi.json")

    assert response.status_code == HTTPStatus.OK
    schema = response.json()
    paths = schema["paths"]
    assert set(paths["/api/register/"]) == {"post"}
    assert set(paths["/api/token/"]) == {"post"}
    assert set(paths["/api/token/refresh/"]) == {"post"}
    assert "get" in paths["/api/me/"]
    assert {"201", "400", "409"} <= set(paths["/api/register/"]["post"]["responses"])
    assert paths["/api/me/"]["get"]["security"]
    register_in = schema["components"]["schemas"]["RegisterIn"]
    assert set(register_in["properties"]) == {"email", "password"}
    assert register_in.get("additionalProperties") is False


def test_swagger_ui_is_served(api):
    response = api.get("/api/docs")

    assert response.status_code == HTTPStatus.OK
    assert "swagger" in response.content.decode().lower()
