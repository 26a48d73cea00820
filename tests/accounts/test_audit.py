"""The audit log: one row per security event, who and from where; read-only in the admin;
pruned by `prune_audit`. (No secret in any row: tests/api/test_secrets.py.)"""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import keys, services, sessions
from accounts.audit import audit_record
from accounts.exceptions import InvalidCredentials, SessionNotFound, TokenReused, WrongPassword
from accounts.models import AuditEvent
from accounts.types import Caller
from tests.factories import PASSWORD, UserFactory
from tests.helpers import NEW_PASSWORD, T0

pytestmark = pytest.mark.django_db

CALLER = Caller(user_agent="Audit/1.0", ip="203.0.113.9")
IP, AGENT = CALLER.ip, CALLER.user_agent
COLUMNS = ("kind", "user_id", "email", "session_id", "ip", "user_agent", "detail")
RETENTION_DAYS = 365


def _rows(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list(*COLUMNS))


def _login(user, password=PASSWORD):
    return services.user_login(email=user.email, password=password, caller=CALLER)


def test_login_ok_is_recorded_with_user_session_and_client(user):
    pair = _login(user)

    assert _rows() == [("login_ok", user.pk, user.email, pair.session_id, IP, AGENT, "")]


def test_failed_logins_are_recorded_for_unknown_email_and_wrong_password(user):
    for email, password in (("nobody@example.com", "whatever password"), (user.email, "wrong")):
        with pytest.raises(InvalidCredentials):
            services.user_login(email=email, password=password, caller=CALLER)

    assert _rows() == [
        ("login_failed", None, "nobody@example.com", "", IP, AGENT, "unknown email"),
        ("login_failed", user.pk, user.email, "", IP, AGENT, "wrong password or inactive"),
    ]


def test_a_plain_refresh_and_a_grace_replay_write_no_row(user, start):
    pair = start(user)

    sessions.session_refresh(refresh=pair.refresh, caller=CALLER)
    sessions.session_refresh(refresh=pair.refresh, caller=CALLER)  # within the grace window

    assert _rows() == []


def test_refresh_reuse_is_recorded(user, start, settings):
    settings.REFRESH_REUSE_GRACE = timedelta(0)
    pair = start(user)
    sessions.session_refresh(refresh=pair.refresh, caller=CALLER)

    with pytest.raises(TokenReused):
        sessions.session_refresh(refresh=pair.refresh, caller=CALLER)

    assert _rows() == [("refresh_reuse", user.pk, user.email, pair.session_id, IP, AGENT, "")]


def test_logout_is_recorded_once_and_a_silent_logout_writes_nothing(user, start):
    pair = start(user)

    for token in (pair.refresh, pair.refresh, "garbage"):
        sessions.session_logout(refresh=token, caller=CALLER)

    assert _rows() == [("logout", user.pk, user.email, pair.session_id, IP, AGENT, "")]


def test_logout_all_is_recorded(user, start):
    start(user)

    sessions.sessions_end_all(user=user, kind=AuditEvent.Kind.LOGOUT_ALL, caller=CALLER)

    assert _rows() == [("logout_all", user.pk, user.email, "", IP, AGENT, "")]


def test_ending_one_session_is_recorded_and_a_refused_attempt_is_not(user, start):
    other, foreign = start(user), start(UserFactory())

    sessions.session_end(user=user, session_id=other.session_id, caller=CALLER)
    with pytest.raises(SessionNotFound):
        sessions.session_end(user=user, session_id=foreign.session_id, caller=CALLER)

    assert _rows() == [("session_ended", user.pk, user.email, other.session_id, IP, AGENT, "")]


def test_password_change_is_recorded_and_a_wrong_current_password_is_not(user):
    with pytest.raises(WrongPassword):
        services.user_change_password(
            user=user, current_password="not it", new_password=NEW_PASSWORD, caller=CALLER
        )

    services.user_change_password(
        user=user, current_password=PASSWORD, new_password=NEW_PASSWORD, caller=CALLER
    )

    assert _rows() == [("password_changed", user.pk, user.email, "", IP, AGENT, "")]


def test_deactivation_and_deletion_are_recorded_and_survive_the_user(user):
    email = user.email

    services.user_deactivate(user=user)
    services.user_delete(user=user)

    # The rows outlive the user; the foreign key becomes NULL and the address a pseudonym,
    # the same in every row of that user (GDPR: the trail stays, the address goes).
    rows = _rows()
    pseudonym = rows[0][2]
    assert pseudonym.startswith("deleted-")
    assert email not in pseudonym
    assert rows == [
        ("user_deactivated", None, pseudonym, "", None, "", ""),
        ("user_deleted", None, pseudonym, "", None, "", ""),
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

    new_kid = json.loads(path.read_text())["signing_kid"]
    assert _rows() == [("key_rotated", None, "", "", None, "", f"signer is now {new_kid}")]


# --- the admin's view of it ------------------------------------------------------------------


def test_the_admin_audit_list_is_readable_and_filterable(admin_http, user):
    _login(user)
    with pytest.raises(InvalidCredentials):
        _login(user, "a wrong password")

    listing = admin_http.get("/admin/accounts/auditevent/")
    filtered = admin_http.get("/admin/accounts/auditevent/", {"kind__exact": "login_failed"})

    assert listing.status_code == HTTPStatus.OK
    assert [e.kind for e in listing.context["cl"].result_list] == ["login_failed", "login_ok"]
    assert filtered.status_code == HTTPStatus.OK
    assert [e.kind for e in filtered.context["cl"].result_list] == ["login_failed"]
    assert b"/admin/accounts/auditevent/add/" not in listing.content


def test_the_admin_cannot_add_change_or_delete_audit_rows(admin_http, user):
    """Attack: an admin rewrites or erases the audit trail.
    Expected: 403 for add, change and delete; the bulk action deletes nothing."""
    pair = _login(user)
    event = AuditEvent.objects.get()
    url = f"/admin/accounts/auditevent/{event.pk}"

    add = admin_http.post("/admin/accounts/auditevent/add/", {"kind": "logout"})
    change = admin_http.post(f"{url}/change/", {"kind": "logout", "email": "x@example.com"})
    delete = admin_http.post(f"{url}/delete/", {"post": "yes"})
    admin_http.post(
        "/admin/accounts/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert [add.status_code, change.status_code, delete.status_code] == [HTTPStatus.FORBIDDEN] * 3
    assert _rows() == [("login_ok", user.pk, user.email, pair.session_id, IP, AGENT, "")]


def test_the_admin_change_page_of_an_audit_row_is_view_only(admin_http, user):
    _login(user)
    event = AuditEvent.objects.get()

    page = admin_http.get(f"/admin/accounts/auditevent/{event.pk}/change/")

    assert page.status_code == HTTPStatus.OK
    assert b'name="_save"' not in page.content


# --- prune_audit -----------------------------------------------------------------------------


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
    assert settings.AUDIT_RETENTION_DAYS == RETENTION_DAYS
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

    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("days", ["0", "-3"])
def test_prune_audit_refuses_to_empty_the_log(days):
    """Mistake: `prune_audit --days 0` would delete every row. Expected: refused, none deleted."""
    audit_record(kind="logout")

    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_audit", "--days", days, stdout=StringIO())

    assert AuditEvent.objects.count() == 1
