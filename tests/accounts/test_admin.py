"""The Django admin through the test client: login, users, a user's sessions (end one or all),
deactivation by unticking active, the password form and deletion (each ends every session)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from accounts import services, sessions
from accounts.exceptions import InvalidCredentials
from accounts.models import AuditEvent, User
from accounts.types import Caller
from tests.factories import PASSWORD, UserFactory
from tests.helpers import NEW_PASSWORD

from .conftest import ADMIN_AGENT, ADMIN_EMAIL

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
CALLER = Caller(user_agent="pytest", ip="127.0.0.1")


def _listed(response) -> set[str]:
    assert response.status_code == HTTPStatus.OK
    return {user.email for user in response.context["cl"].result_list}


def _sessions_url(user: User) -> str:
    return f"{USERS}{user.pk}/sessions/"


def _change_form(user: User, **changes: str) -> dict[str, str]:
    data = {
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "_save": "Save",
        **changes,
    }
    return {name: value for name, value in data.items() if value != ""}


def _add_form(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {
        "email": email,
        "password1": password,
        "password2": password,
        "usable_password": "true",
        "_save": "Save",
    }


def _messages(http: Client, user: User) -> list[str]:
    return [m.message for m in http.get(_sessions_url(user)).context["messages"]]


def _actors(kind: str) -> list[tuple[object, str]]:
    """Who acted in each audit row of a kind: the staff user and the email kept for them."""
    rows = AuditEvent.objects.filter(kind=kind).order_by("id")
    return list(rows.values_list("actor_id", "actor_email"))


def _admin() -> User:
    return User.objects.get(email=ADMIN_EMAIL)


def _can_log_in(email: str, password: str = PASSWORD) -> bool:
    try:
        services.user_login(email=email, password=password, caller=CALLER)
    except InvalidCredentials:
        return False
    return True


# --- login and users -------------------------------------------------------------------------


def test_a_superuser_logs_in_to_the_admin_with_email_and_password():
    UserFactory(email=ADMIN_EMAIL, is_staff=True, is_superuser=True)
    http = Client()

    page = http.get("/admin/login/")
    response = http.post("/admin/login/", {"username": ADMIN_EMAIL, "password": PASSWORD})

    assert page.status_code == HTTPStatus.OK
    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    assert http.get(USERS).status_code == HTTPStatus.OK


def test_admin_pages_are_refused_to_non_staff(client):
    client.force_login(UserFactory())

    response = client.get(USERS)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")


def test_the_user_list_searches_and_filters(admin_http):
    UserFactory(email="ada@example.com")
    UserFactory(email="grace@example.com", is_active=False)
    UserFactory(email="linus@example.org", is_staff=True)
    everyone = {ADMIN_EMAIL, "ada@example.com", "grace@example.com", "linus@example.org"}

    assert _listed(admin_http.get(USERS)) == everyone
    assert _listed(admin_http.get(USERS, {"q": "ADA@example"})) == {"ada@example.com"}
    assert _listed(admin_http.get(USERS, {"q": "example.org"})) == {"linus@example.org"}
    assert _listed(admin_http.get(USERS, {"is_active__exact": "0"})) == {"grace@example.com"}
    assert _listed(admin_http.get(USERS, {"is_staff__exact": "1"})) == {
        ADMIN_EMAIL,
        "linus@example.org",
    }


def test_the_add_form_creates_a_normalized_user_who_can_log_in(admin_http):
    response = admin_http.post(f"{USERS}add/", _add_form("Bob@Example.COM"))

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    assert User.objects.get(email="bob@example.com").check_password(PASSWORD)
    assert _can_log_in("bob@example.com")


def test_the_add_form_refuses_a_case_variant_of_an_existing_email(admin_http):
    UserFactory(email="bob@example.com")

    response = admin_http.post(f"{USERS}add/", _add_form("BOB@example.com"))

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="bob@example.com").count() == 1


def test_the_add_form_applies_the_password_rules(admin_http):
    response = admin_http.post(f"{USERS}add/", _add_form("bob@example.com", "12345678"))

    assert response.status_code == HTTPStatus.OK
    assert not User.objects.filter(email="bob@example.com").exists()


def test_the_change_form_normalizes_a_new_email(admin_http, user):
    admin_http.post(f"{USERS}{user.pk}/change/", _change_form(user, email="New@Example.COM"))

    user.refresh_from_db()
    assert user.email == "new@example.com"


def test_createsuperuser_noinput_takes_email_and_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("createsuperuser", interactive=False, verbosity=0)

    root = User.objects.get()
    assert root.email == "root@example.com"
    assert (root.is_staff, root.is_superuser, root.is_active) == (True, True, True)
    assert _can_log_in("root@example.com")


# --- deactivation, password, deletion: each ends every session ------------------------------


def test_unticking_active_stops_logins_and_every_live_token(admin_http, user, start, dead):
    phone, laptop = start(user), start(user)

    response = admin_http.post(f"{USERS}{user.pk}/change/", _change_form(user, is_active=""))

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.is_active is False
    assert sessions.sessions_list(user=user) == []
    dead(phone)
    dead(laptop)
    assert not _can_log_in(user.email)
    assert AuditEvent.objects.filter(kind="user_deactivated", user=user).count() == 1
    assert _actors("user_deactivated") == [(_admin().pk, ADMIN_EMAIL)]


def test_a_deactivation_without_the_token_store_changes_nothing_and_says_so(
    admin_http, user, start, alive, settings
):
    """Fault: Redis down while staff untick "active". Expected: no 500; a redirect back to the
    form with the error, the user still active, and once Redis is back their sessions live (the
    change and the end of the sessions happen together or not at all)."""
    phone = start(user)
    url, settings.TOKEN_STORE_URL = settings.TOKEN_STORE_URL, "redis://127.0.0.1:9/0"

    response = admin_http.post(f"{USERS}{user.pk}/change/", _change_form(user, is_active=""))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{USERS}{user.pk}/change/"
    shown = [m.message for m in admin_http.get(response["Location"]).context["messages"]]
    assert shown == ["Token service temporarily unavailable; retry shortly. Nothing was changed."]
    settings.TOKEN_STORE_URL = url
    user.refresh_from_db()
    assert user.is_active is True
    alive(phone)


def test_saving_an_active_user_leaves_their_sessions_alone(admin_http, user, start, alive):
    pair = start(user)

    response = admin_http.post(f"{USERS}{user.pk}/change/", _change_form(user, is_staff="on"))

    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    user.refresh_from_db()
    assert user.is_staff is True
    assert len(sessions.sessions_list(user=user)) == 1
    alive(pair)


def test_the_password_form_sets_the_password_and_ends_every_session(admin_http, user, start, dead):
    """Account recovery: an admin sets a new password. Expected: the new password logs in,
    the old one does not, the thief's sessions end, and one password_changed row."""
    stolen = start(user)

    response = admin_http.post(
        f"{USERS}{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == HTTPStatus.FOUND, response.content[:3000]
    dead(stolen)
    assert not _can_log_in(user.email)
    assert _can_log_in(user.email, NEW_PASSWORD)
    assert AuditEvent.objects.filter(kind="password_changed", user=user).count() == 1
    assert _actors("password_changed") == [(_admin().pk, ADMIN_EMAIL)]


def test_deleting_a_user_ends_every_live_token(admin_http, user, start, dead):
    pair = start(user)

    response = admin_http.post(f"{USERS}{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert not User.objects.filter(pk=user.pk).exists()
    dead(pair)
    assert _actors("user_deleted") == [(_admin().pk, ADMIN_EMAIL)]


def test_bulk_deleting_users_ends_every_live_token_of_each(admin_http, start, dead, alive):
    first, second, bystander = UserFactory(), UserFactory(), UserFactory()
    pairs = [start(first), start(second)]
    kept = start(bystander)

    response = admin_http.post(
        USERS,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert list(User.objects.filter(pk__in=[first.pk, second.pk, bystander.pk])) == [bystander]
    for pair in pairs:
        dead(pair)
    alive(kept)
    assert _actors("user_deleted") == [(_admin().pk, ADMIN_EMAIL)] * 2


# --- a user's sessions -----------------------------------------------------------------------


def test_the_user_page_shows_the_live_session_count_and_links_to_them(admin_http, user, start):
    start(user)
    start(user)
    start(UserFactory())

    page = admin_http.get(f"{USERS}{user.pk}/change/")

    assert page.status_code == HTTPStatus.OK
    assert f'2 live &middot; <a href="{_sessions_url(user)}">' in page.content.decode()


def test_the_user_page_counts_zero_after_logout_all(admin_http, user, start):
    start(user)
    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL)

    page = admin_http.get(f"{USERS}{user.pk}/change/")

    assert "0 live &middot;" in page.content.decode()


def test_the_sessions_page_lists_each_live_session_of_that_user(admin_http, user, start):
    phone, laptop = start(user, agent="Phone/1.0"), start(user, agent="Laptop/2.0")
    foreign = start(UserFactory(), agent="Foreign/3.0")

    page = admin_http.get(_sessions_url(user))

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert {s.session_id for s in page.context["sessions"]} == {
        phone.session_id,
        laptop.session_id,
    }
    for pair, agent in ((phone, "Phone/1.0"), (laptop, "Laptop/2.0")):
        assert f'value="{pair.session_id}"' in html
        assert agent in html
    assert foreign.session_id not in html
    assert "Foreign/3.0" not in html


def test_a_user_agent_cannot_inject_markup_into_the_sessions_page(admin_http, user, start):
    """Attack: stored XSS through the User-Agent header. Expected: shown escaped to the admin."""
    start(user, agent='<script>alert("pwned")</script>')

    html = admin_http.get(_sessions_url(user)).content.decode()

    assert '<script>alert("pwned")</script>' not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html


def test_ending_one_session_stops_its_tokens(admin_http, user, start, dead, alive):
    phone, laptop = start(user), start(user)

    response = admin_http.post(_sessions_url(user), {"session_id": phone.session_id})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _sessions_url(user)
    dead(phone)
    alive(laptop)
    rows = AuditEvent.objects.filter(kind="session_ended")
    assert list(rows.values_list("user_id", "session_id", "user_agent", "ip")) == [
        (user.pk, phone.session_id, ADMIN_AGENT, "127.0.0.1")
    ]
    assert _actors("session_ended") == [(_admin().pk, ADMIN_EMAIL)]
    assert _messages(admin_http, user) == ["Session ended."]


def test_ending_every_session_stops_all_tokens(admin_http, user, start, dead, alive):
    pairs = [start(user) for _ in range(3)]
    bystander = start(UserFactory())

    response = admin_http.post(_sessions_url(user), {})

    assert response.status_code == HTTPStatus.FOUND
    for pair in pairs:
        dead(pair)
    alive(bystander)
    assert AuditEvent.objects.filter(kind="logout_all", user=user).count() == 1
    assert _actors("logout_all") == [(_admin().pk, ADMIN_EMAIL)]
    assert "No live sessions." in admin_http.get(_sessions_url(user)).content.decode()


def test_a_user_page_cannot_end_another_users_session(admin_http, user, start, alive):
    """Attack: a session id posted to the wrong user's page.
    Expected: not found there ("already ended"), and it stays alive."""
    mine, theirs = start(user), start(UserFactory())

    admin_http.post(_sessions_url(user), {"session_id": theirs.session_id})

    assert _messages(admin_http, user) == ["That session had already ended."]
    alive(theirs)
    alive(mine)


def test_the_sessions_page_of_an_unknown_user_is_404(admin_http):
    response = admin_http.get(f"{USERS}00000000-0000-0000-0000-000000000000/sessions/")

    assert response.status_code == HTTPStatus.NOT_FOUND


def test_staff_without_change_permission_cannot_end_sessions(user, start, alive):
    """Attack: a staff member without the right ends a user's sessions. Expected: 403."""
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    http = Client()
    http.force_login(viewer)
    pair = start(user)

    listing = http.get(_sessions_url(user))
    ending = http.post(_sessions_url(user), {})

    assert (listing.status_code, ending.status_code) == (HTTPStatus.FORBIDDEN,) * 2
    alive(pair)


def test_someone_not_logged_in_to_the_admin_is_sent_to_its_login(user, start, alive):
    """Attack: end sessions through the admin without an admin login. Expected: a redirect
    to the admin login, and the sessions live."""
    pair = start(user)

    response = Client().post(_sessions_url(user), {})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")
    alive(pair)


def test_the_sessions_page_needs_the_csrf_token(user, start, alive):
    """Attack: a cross-site form posted into the admin's browser. Expected: 403, they live."""
    http = Client(enforce_csrf_checks=True)
    http.force_login(UserFactory(is_staff=True, is_superuser=True))
    pair = start(user)

    response = http.post(_sessions_url(user), {})

    assert response.status_code == HTTPStatus.FORBIDDEN
    alive(pair)


def test_the_audit_log_keeps_the_actors_email_when_the_actor_is_deleted(admin_http, user):
    admin_http.post(f"{USERS}{user.pk}/change/", _change_form(user, is_active=""))

    _admin().delete()

    assert _actors("user_deactivated") == [(None, ADMIN_EMAIL)]


def test_the_audit_list_shows_who_acted(admin_http, user):
    admin_http.post(f"{USERS}{user.pk}/change/", _change_form(user, is_active=""))

    page = admin_http.get("/admin/accounts/auditevent/")

    assert page.status_code == HTTPStatus.OK
    assert f'<td class="field-actor_email">{ADMIN_EMAIL}</td>' in page.content.decode()


def test_a_users_own_actions_name_no_actor(user):
    services.user_login(email=user.email, password=PASSWORD, caller=CALLER)
    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL, caller=CALLER)

    assert _actors("login_ok") + _actors("logout_all") == [(None, "")] * 2


ADMIN_LOGIN = "/admin/login/?next=/admin/"
FREE_FAILURES = 5


def _admin_login(http: Client, email: str, password: str):
    return http.post(ADMIN_LOGIN, {"username": email, "password": password})


def test_the_admin_login_is_throttled_and_audited_like_the_api_login(settings):
    """Attack: guessing a staff password at /admin/login/, which answered 200 to every wrong
    guess with no throttle and no audit row. Expected: each guess is audited as login_failed;
    past the free failures the form refuses even the right password ("Too many attempts") and
    logs nobody in; the API login from the same address is held back too."""
    settings.THROTTLE_PAIR_FREE_FAILURES = FREE_FAILURES
    staff = UserFactory(is_staff=True, is_superuser=True)
    http = Client(HTTP_USER_AGENT=ADMIN_AGENT)

    guesses = [_admin_login(http, staff.email, f"guess {n}") for n in range(FREE_FAILURES)]
    refused = _admin_login(http, staff.email, PASSWORD)

    assert {g.status_code for g in guesses} == {HTTPStatus.OK}
    assert refused.status_code == HTTPStatus.OK
    assert "Too many attempts; retry in 1 s." in refused.content.decode()
    assert "_auth_user_id" not in http.session
    failed = AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED, email=staff.email)
    assert failed.count() == FREE_FAILURES
    api = Client().post(
        "/api/token/",
        {"email": staff.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert api.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_staff_login_through_the_admin_form_is_audited():
    staff = UserFactory(is_staff=True)
    http = Client(HTTP_USER_AGENT=ADMIN_AGENT)

    answer = _admin_login(http, staff.email, PASSWORD)

    assert answer.status_code == HTTPStatus.FOUND
    assert answer["Location"] == "/admin/"
    row = AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN_OK, user=staff)
    assert (row.detail, row.user_agent) == ("admin", ADMIN_AGENT)


def test_a_user_who_is_not_staff_is_refused_by_the_admin_form():
    user = UserFactory()

    answer = _admin_login(Client(), user.email, PASSWORD)

    assert answer.status_code == HTTPStatus.OK
    assert "Please enter the correct email address and password for a staff" in (
        answer.content.decode()
    )
