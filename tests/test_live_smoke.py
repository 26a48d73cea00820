from http import HTTPStatus

import httpx


def test_flow_over_real_http(live_server_url, password):
    with httpx.Client(base_url=live_server_url) as http:
        created = http.post(
            "/api/register/", json={"email": "live@example.com", "password": password}
        )
        assert created.status_code == HTTPStatus.CREATED, created.text
        pair = http.post("/api/token/", json={"email": "live@example.com", "password": password})
        assert pair.status_code == HTTPStatus.OK
        me = http.get("/api/me/", headers={"Authorization": f"Bearer {pair.json()['access']}"})
        assert me.status_code == HTTPStatus.OK
        assert me.json()["email"] == "live@example.com"
