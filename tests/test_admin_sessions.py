"""Django admin: a user's page shows their live sessions; the sessions page ends one or all."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts import sessions
from accounts.models import AuditEvent
from tests.factories import UserFactory
from tests.lifecycle import assert_alive, assert_dead, sid_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_http():
    admin = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    http = Client(HTTP_USER_AGENT="AdminBrowser/1.0")
    http.force_login(admin)
    return http


def _sessions_url(user):
    return f"/admin/accounts/user/{user.pk}/sessions/"


def test_the_user_page_shows_the_live_session_count_and_links_to_them(admin_http, user, login):
    for _ in range(2):
        login(user)
    login(UserFactory())

    page = admin_http.get(f"/admin/accounts/user/{user.pk}/change/")

    assert page.status_code == HTTPStatus.OK
    assert f'2 live &middot; <a href="{_sessions_url(user)}">' in page.content.decode()


def test_the_user_page_counts_zero_after_logout_all(admin_http, api, user, login):
    pair = login(user)
    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL)

    page = admin_http.get(f"/admin/accounts/user/{user.pk}/change/")

    assert "0 live &middot;" in page.content.decode()
    assert_dead(api, pair)


def test_the_sessions_page_lists_each_live_session(admin_http, user, login):
    phone, laptop = login(user, agent="Phone/1.0"), login(user, agent="Laptop/2.0")
    foreign = login(UserFactory(), agent="Foreign/3.0")

    page = admin_http.get(_sessions_url(user))

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert {s.sid for s in page.context["sessions"]} == {sid_of(phone), sid_of(laptop)}
    for pair, agent in ((phone, "Phone/1.0"), (laptop, "Laptop/2.0")):
        assert f'value="{sid_of(pair)}"' in html
        assert agent in html
    assert sid_of(foreign) not in html
    assert "Foreign/3.0" not in html


def test_a_user_agent_cannot_inject_markup_into_the_sessions_page(admin_http, user, login):
    """Attack: stored XSS through the User-Agent header -> shown escaped to the admin."""
    login(user, agent='<script>alert("pwned")</script>')

    html = admin_http.get(_sessions_url(user)).content.decode()

    assert '<script>alert("pwned")</script>' not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html


def test_ending_one_session_from_the_admin_stops_its_tokens(admin_http, api, user, login):
    phone, laptop = login(user), login(user)

    response = admin_http.post(_sessions_url(user), {"session_id": sid_of(phone)})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _sessions_url(user)
    assert_dead(api, phone)
    assert_alive(api, laptop)
    assert list(
        AuditEvent.objects.filter(kind="session_ended").values_list(
            "user_id", "session_id", "user_agent", "ip"
        )
    ) == [(user.pk, sid_of(phone), "AdminBrowser/1.0", "127.0.0.1")]
    followed = admin_http.get(_sessions_url(user))
    assert [m.message for m in followed.context["messages"]] == ["Session ended."]


def test_ending_every_session_from_the_admin_stops_all_tokens(admin_http, api, user, login):
    pairs = [login(user) for _ in range(3)]
    bystander = login(UserFactory())

    response = admin_http.post(_sessions_url(user), {})

    assert response.status_code == HTTPStatus.FOUND
    for pair in pairs:
        assert_dead(api, pair)
    assert_alive(api, bystander)
    assert AuditEvent.objects.filter(kind="logout_all", user=user).count() == 1
    assert "No live sessions." in admin_http.get(_sessions_url(user)).content.decode()


def test_a_user_page_cannot_end_another_users_session(admin_http, api, user, login):
    """A session id posted to the wrong user's page is not found there and stays alive."""
    mine, theirs = login(user), login(UserFactory())

    admin_http.post(_sessions_url(user), {"session_id": sid_of(theirs)})

    followed = admin_http.get(_sessions_url(user))
    assert [m.message for m in followed.context["messages"]] == ["That session had already ended."]
    assert_alive(api, theirs)
    assert_alive(api, mine)


def test_the_sessions_page_of_an_unknown_user_is_404(admin_http):
    response = admin_http.get("/admin/accounts/user/00000000-0000-0000-0000-000000000000/sessions/")

    assert response.status_code == HTTPStatus.NOT_FOUND


def test_staff_without_change_permission_cannot_end_sessions(api, user, login):
    """Attack: a staff member without the right ends a user's sessions -> 403, they live."""
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    http = Client()
    http.force_login(viewer)
    pair = login(user)

    listing = http.get(_sessions_url(user))
    ending = http.post(_sessions_url(user), {})

    assert listing.status_code == HTTPStatus.FORBIDDEN
    assert ending.status_code == HTTPStatus.FORBIDDEN
    assert_alive(api, pair)


def test_someone_not_logged_in_to_the_admin_is_sent_to_its_login(api, user, login):
    """Attack: end sessions through the admin without an admin login -> redirect, they live."""
    pair = login(user)

    response = Client().post(_sessions_url(user), {})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")
    assert_alive(api, pair)


def test_the_sessions_page_needs_the_csrf_token(user, login, api):
    """Attack: a cross-site form posted into the admin's browser -> 403, sessions live."""
    admin = UserFactory(is_staff=True, is_superuser=True)
    http = Client(enforce_csrf_checks=True)
    http.force_login(admin)
    pair = login(user)

    response = http.post(_sessions_url(user), {})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert_alive(api, pair)
