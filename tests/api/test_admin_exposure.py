"""The admin and the API docs can be switched off, and the admin limited to networks."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from http import HTTPStatus

import pytest

from tests.servers import ROOT

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize(
    ("allowed", "status"),
    [("10.0.0.0/8", HTTPStatus.NOT_FOUND), ("127.0.0.0/8,10.0.0.0/8", HTTPStatus.OK)],
    ids=["outside", "inside"],
)
def test_the_admin_answers_only_inside_its_networks(client, settings, allowed, status):
    """Attack: the admin's login probed from outside the operators' networks. Expected: 404
    in the common shape, as if there were no admin; inside, the login page."""
    settings.ADMIN_ALLOWED_NETWORKS = [ipaddress.ip_network(n) for n in allowed.split(",")]

    answer = client.get("/admin/login/")

    assert answer.status_code == status
    if status == HTTPStatus.NOT_FOUND:
        assert answer.json() == NOT_FOUND


def test_the_admin_network_is_the_address_the_trusted_proxy_saw(client, settings):
    """Attack: X-Forwarded-For naming an allowed address, sent without a trusted proxy.
    Expected: 404 (only TRUSTED_PROXY_COUNT proxies are believed); through one proxy, 200."""
    settings.ADMIN_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.2.0/24")]
    forged = {"HTTP_X_FORWARDED_FOR": "10.1.2.3"}

    assert client.get("/admin/login/", **forged).status_code == HTTPStatus.NOT_FOUND
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/admin/login/", **forged).status_code == HTTPStatus.OK


def _status_in_a_process(env: dict[str, str], *paths: str) -> list[int]:
    code = (
        "import django, sys; django.setup(); from django.test import Client; "
        "print(*[Client(HTTP_HOST='localhost').get(p).status_code for p in sys.argv[1:]])"
    )
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    run = subprocess.run(
        [sys.executable, "-c", code, *paths],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(word) for word in run.stdout.split()]


def test_the_admin_and_the_docs_can_be_switched_off():
    paths = ("/admin/login/", "/api/docs", "/api/openapi.json", "/health/live")

    on = _status_in_a_process({}, *paths)
    off = _status_in_a_process({"ADMIN_ENABLED": "false", "API_DOCS_ENABLED": "false"}, *paths)

    assert on == [HTTPStatus.OK] * len(paths)
    assert off == [HTTPStatus.NOT_FOUND] * (len(paths) - 1) + [HTTPStatus.OK]
