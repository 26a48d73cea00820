"""The audit log: one row per security event, never a token or password, read-only in admin."""

import json
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts import keys, services
from accounts.models import AuditEvent
from tests.factories import UserFactory
from tests.lifecycle import T0, auth, post_json, refresh, sid_of

pytestmark = pytest.mark.django_db

AGENT = {"HTTP_USER_AGENT": "Audit/1.0", "REMOTE_ADDR": "203.0.113.9"}
NEW_PASSWORD = "a different long passphrase"
COLUMNS = ("kind", "user_id", "email", "session_id", "ip", "user_agent", "detail")


def _rows(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list(*COLUMNS))


def _login(api, email, password):
    return post_json(api, "/api/token/", {"email": email, "password": password}, **AGENT)


def test_login_ok_is_recorded_with_user_session_and_client(api, user, password):
    pair = _login(api, user.email, password).json()

    assert _rows() == [
        ("login_ok", user.pk, user.email, sid_of(pair), "203.0.113.9", "Audit/1.0", "")
    ]


def test_failed_logins_are_recorded_for_unknown_email_and_wrong_password(api, user):
    _login(api, "nobody@example.com", "whatever password")
    _login(api, user.email, "wrong password here")

    assert _rows() == [
        (
            "login_failed",
            None,
            "nobody@example.com",
            "",
            "203.0.113.9",
            "Audit/1.0",
            "unknown email",
        ),
        (
            "login_failed",
            user.pk,
            user.email,
            "",
            "203.0.113.9",
            "Audit/1.0",
            "wrong password or inactive",
        ),
    ]


def test_a_plain_refresh_writes_no_row(api, user, login):
    pair = login(user)
    before = AuditEvent.objects.count()

    assert refresh(api, pair["refresh"], **AGENT).status_code == HTTPStatus.OK

    assert AuditEvent.objects.count() == before


def test_a_grace_replay_writes_no_row(api, user, login):
    pair = login(user)
    refresh(api, pair["refresh"])
    before = AuditEvent.objects.count()

    assert refresh(api, pair["refresh"]).status_code == HTTPStatus.OK

    assert AuditEvent.objects.count() == before


def test_refresh_reuse_is_recorded(api, user, login, settings):
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    pair = login(user)
    refresh(api, pair["refresh"])

    refresh(api, pair["refresh"], **AGENT)

    assert _rows(kind="refresh_reuse") == [
        ("refresh_reuse", user.pk, user.email, sid_of(pair), "203.0.113.9", "Audit/1.0", "")
    ]


def test_logout_is_recorded_once_and_a_silent_logout_writes_nothing(api, user, login):
    pair = login(user)

    post_json(api, "/api/logout/", {"refresh": pair["refresh"]}, **AGENT)
    post_json(api, "/api/logout/", {"refresh": pair["refresh"]}, **AGENT)
    post_json(api, "/api/logout/", {"refresh": "garbage"}, **AGENT)

    assert _rows(kind="logout") == [
        ("logout", user.pk, user.email, sid_of(pair), "203.0.113.9", "Audit/1.0", "")
    ]


def test_logout_all_is_recorded(api, user, login):
    pair = login(user)

    post_json(api, "/api/logout/all/", None, **auth(pair["access"]), **AGENT)

    assert _rows(kind="logout_all") == [
        ("logout_all", user.pk, user.email, "", "203.0.113.9", "Audit/1.0", "")
    ]


def test_ending_one_session_is_recorded_and_a_refused_attempt_is_not(api, user, login):
    mine, other = login(user), login(user)
    foreign = login(UserFactory())

    api.delete(f"/api/sessions/{sid_of(other)}/", **auth(mine["access"]), **AGENT)
    api.delete(f"/api/sessions/{sid_of(foreign)}/", **auth(mine["access"]), **AGENT)

    assert _rows(kind="session_ended") == [
        ("session_ended", user.pk, user.email, sid_of(other), "203.0.113.9", "Audit/1.0", "")
    ]


def test_password_change_is_recorded_and_a_wrong_current_password_is_not(
    api, user, login, password
):
    pair = login(user)
    body = {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    post_json(api, "/api/password/change/", body, **auth(pair["access"]), **AGENT)
    body = {"current_password": password, "new_password": NEW_PASSWORD}

    post_json(api, "/api/password/change/", body, **auth(pair["access"]), **AGENT)

    assert _rows(kind="password_changed") == [
        ("password_changed", user.pk, user.email, "", "203.0.113.9", "Audit/1.0", "")
    ]


def test_deactivation_and_deletion_are_recorded_and_survive_the_user(user):
    email = user.email

    services.user_deactivate(user=user)
    services.user_delete(user=user)

    # The row keeps the address after the user is gone; the foreign key becomes NULL.
    assert _rows() == [
        ("user_deactivated", None, email, "", None, "", ""),
        ("user_deleted", None, email, "", None, "", ""),
    ]


def test_key_rotation_is_recorded(tmp_path, settings):
    path = tmp_path / "keys.json"
    out = StringIO()
    call_command("jwtkeys", "generate", stdout=out)
    path.write_text(out.getvalue())
    settings.JWT_KEYS, settings.JWT_KEYS_FILE = None, str(path)
    keys.keyset.cache_clear()
    try:
        call_command("jwtkeys", "rotate", stdout=StringIO(), stderr=StringIO())
    finally:
        keys.keyset.cache_clear()

    [row] = _rows(kind="key_rotated")
    new_kid = json.loads(path.read_text())["signing_kid"]
    assert row == ("key_rotated", None, "", "", None, "", f"signer is now {new_kid}")


def test_no_token_or_password_ever_lands_in_an_audit_row(api, user, login, password, settings):
    """Every event of a session's life, then every column of every row is scanned."""
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    wrong = "Wrong-Password-Guess-1"
    secrets = {password, NEW_PASSWORD, wrong}
    _login(api, user.email, wrong)
    _login(api, "nobody@example.com", wrong)
    first, second, third = (_login(api, user.email, password).json() for _ in range(3))
    rotated = refresh(api, first["refresh"], **AGENT).json()
    refresh(api, first["refresh"], **AGENT)  # reuse
    post_json(api, "/api/logout/", {"refresh": second["refresh"]}, **AGENT)
    api.delete(f"/api/sessions/{sid_of(third)}/", **auth(third["access"]), **AGENT)
    fourth = _login(api, user.email, password).json()
    body = {"current_password": password, "new_password": NEW_PASSWORD}
    changed = post_json(api, "/api/password/change/", body, **auth(fourth["access"]), **AGENT)
    post_json(api, "/api/logout/all/", None, **auth(changed.json()["access"]), **AGENT)
    for pair in (first, second, third, fourth, rotated, changed.json()):
        secrets |= {pair["access"], pair["refresh"]}
        # Signatures alone, too: a truncated token would still be a leak.
        secrets |= {pair["access"].rsplit(".", 1)[1], pair["refresh"][-43:]}

    rows = list(AuditEvent.objects.values_list(*[f.attname for f in AuditEvent._meta.fields]))

    assert {r[2] for r in rows} >= {
        "login_failed",
        "login_ok",
        "refresh_reuse",
        "logout",
        "session_ended",
        "password_changed",
        "logout_all",
    }
    for row in rows:
        for value in row:
            text = str(value)
            assert not any(secret in text for secret in secrets), (row, value)


@pytest.fixture
def admin_http():
    admin = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    http = Client()
    http.force_login(admin)
    return http


def test_the_admin_audit_list_is_readable_and_filterable(admin_http, api, user, password):
    _login(api, user.email, password)
    _login(api, user.email, "a wrong password")

    listing = admin_http.get("/admin/accounts/auditevent/")
    filtered = admin_http.get("/admin/accounts/auditevent/", {"kind__exact": "login_failed"})

    assert listing.status_code == HTTPStatus.OK
    assert list(listing.context["cl"].result_list.values_list("kind", flat=True)) == [
        "login_failed",
        "login_ok",
    ]
    assert filtered.status_code == HTTPStatus.OK
    assert [e.kind for e in filtered.context["cl"].result_list] == ["login_failed"]
    assert b"/admin/accounts/auditevent/add/" not in listing.content


def test_the_admin_cannot_add_change_or_delete_audit_rows(admin_http, api, user, password):
    """Attack: an admin rewrites or erases the audit trail -> 403, the row is unchanged."""
    _login(api, user.email, password)
    event = AuditEvent.objects.get()
    url = f"/admin/accounts/auditevent/{event.pk}"

    add = admin_http.post("/admin/accounts/auditevent/add/", {"kind": "logout"})
    change = admin_http.post(f"{url}/change/", {"kind": "logout", "email": "x@example.com"})
    delete = admin_http.post(f"{url}/delete/", {"post": "yes"})
    bulk = admin_http.post(
        "/admin/accounts/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code == HTTPStatus.FORBIDDEN
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert bulk.status_code in {HTTPStatus.OK, HTTPStatus.FOUND, HTTPStatus.FORBIDDEN}
    assert _rows() == [
        ("login_ok", user.pk, user.email, event.session_id, "203.0.113.9", "Audit/1.0", "")
    ]


def test_the_admin_change_page_of_an_audit_row_is_view_only(admin_http, api, user, password):
    _login(api, user.email, password)
    event = AuditEvent.objects.get()

    page = admin_http.get(f"/admin/accounts/auditevent/{event.pk}/change/")

    assert page.status_code == HTTPStatus.OK
    assert b'name="_save"' not in page.content


def test_prune_audit_deletes_only_rows_older_than_the_given_days(time_machine):
    time_machine.move_to(T0, tick=False)
    old = AuditEvent.objects.create(kind="logout", created_at=T0 - timedelta(days=30, minutes=1))
    kept = AuditEvent.objects.create(kind="logout", created_at=T0 - timedelta(days=29, hours=23))
    fresh = AuditEvent.objects.create(kind="logout")
    out = StringIO()

    call_command("prune_audit", "--days", "30", stdout=out)

    assert out.getvalue() == "deleted 1 audit event(s) older than 30 days\n"
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {kept.pk, fresh.pk}
    assert not AuditEvent.objects.filter(pk=old.pk).exists()


def test_prune_audit_defaults_to_the_retention_setting(time_machine, settings):
    time_machine.move_to(T0, tick=False)
    AuditEvent.objects.create(kind="logout", created_at=T0 - timedelta(days=365, seconds=1))
    AuditEvent.objects.create(kind="logout", created_at=T0 - timedelta(days=364))
    assert settings.AUDIT_RETENTION_DAYS == 365
    out = StringIO()

    call_command("prune_audit", stdout=out)

    assert out.getvalue() == "deleted 1 audit event(s) older than 365 days\n"
    assert AuditEvent.objects.count() == 1


def test_prune_audit_follows_the_moving_clock(time_machine):
    time_machine.move_to(T0, tick=False)
    AuditEvent.objects.create(kind="logout")
    time_machine.shift(timedelta(days=7) - timedelta(seconds=1))
    call_command("prune_audit", "--days", "7", stdout=StringIO())
    assert AuditEvent.objects.count() == 1

    time_machine.shift(timedelta(seconds=2))
    call_command("prune_audit", "--days", "7", stdout=StringIO())

    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("days", ["0", "-3"])
def test_prune_audit_refuses_to_empty_the_log(days):
    """Mistake: `prune_audit --days 0` would delete every row. Expected: refused, none deleted."""
    from django.core.management.base import CommandError

    from accounts.audit import audit_record

    audit_record(kind="logout")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_audit", "--days", days, stdout=StringIO())
    assert AuditEvent.objects.count() == 1
