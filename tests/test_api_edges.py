"""Responses Django and Ninja would build on their own, answered in the common error shape."""

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def test_wrong_method_is_405_in_the_common_shape(api):
    response = api.get("/api/register/")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {"detail": "Method not allowed.", "code": "method_not_allowed"}
    assert response["Allow"] == "POST"


def test_post_without_trailing_slash_says_where_to_go_instead_of_dropping_the_body(api):
    response = api.post("/api/register", {"email": "a@b.co"}, content_type="application/json")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {
        "detail": "Not found. Did you mean /api/register/ ?",
        "code": "not_found",
    }


def test_unknown_path_is_404_json(api):
    response = api.get("/nowhere/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_swagger_ui_assets_are_served_without_debug(api, settings):
    """The docs page and the admin need their CSS/JS even with DEBUG off (WhiteNoise)."""
    assert settings.DEBUG is False
    page = api.get("/api/docs").content.decode()
    assert "swagger-ui-bundle.js" in page
    for asset in ("/static/ninja/swagger-ui-bundle.js", "/static/admin/css/base.css"):
        response = api.get(asset)
        assert response.status_code == HTTPStatus.OK, asset
        assert b"".join(response.streaming_content)
