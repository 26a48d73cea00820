"""The admin and mail: a user's page shows whether the address is verified; staff send a
verification or a reset mail (queued, audited with the staff user); failed sends are listed."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditEvent
from tests.factories import UserFactory

from .conftest import ADMIN_EMAIL

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"


def _action(admin_http, action: str, *users):
    data = {"action": action, "_selected_action": [str(user.pk) for user in users]}
    return admin_http.post(USERS, data, follow=True)


def test_the_user_list_and_page_show_whether_the_address_is_verified(admin_http):
    verified = UserFactory(email="ada@example.com", email_verified=True)
    UserFactory(email="bob@example.com")

    listed = admin_http.get(USERS, {"email_verified__exact": "1"})
    page = admin_http.get(f"{USERS}{verified.pk}/change/")

    assert [u.email for u in listed.context["cl"].result_list] == ["ada@example.com"]
    assert page.status_code == HTTPStatus.OK
    assert "Email verified" in page.content.decode()


def test_staff_resend_verification_queued_and_audited_with_the_staff_user(admin_http):
    unverified = UserFactory(email="bob@example.com")
    verified = UserFactory(email="ada@example.com", email_verified=True)

    response = _action(admin_http, "send_verification", unverified, verified)

    assert response.status_code == HTTPStatus.OK
    assert "Verification mail queued for 1 user(s)." in response.content.decode()
    (job,) = DBTaskResult.objects.all()
    assert job.args_kwargs["kwargs"]["kind"] == "verify_email"
    assert job.args_kwargs["kwargs"]["user_id"] == str(unverified.pk)
    event = AuditEvent.objects.get(kind="email_verify_requested")
    assert (event.email, event.actor_email) == ("bob@example.com", ADMIN_EMAIL)


def test_staff_send_a_reset_link_audited_and_never_throttled(admin_http, settings):
    settings.THROTTLE_MAIL_PER_ADDRESS_PER_HOUR = 1
    user = UserFactory(email="ada@example.com")

    for _ in range(2):
        assert _action(admin_http, "send_password_reset", user).status_code == HTTPStatus.OK

    jobs = DBTaskResult.objects.all()
    assert [job.args_kwargs["kwargs"]["kind"] for job in jobs] == ["password_reset"] * 2
    events = AuditEvent.objects.filter(kind="password_reset_requested")
    assert {(e.email, e.actor_email) for e in events} == {("ada@example.com", ADMIN_EMAIL)}


def test_the_task_results_page_lists_mail_jobs(admin_http):
    user = UserFactory(email="ada@example.com")
    _action(admin_http, "send_password_reset", user)

    page = admin_http.get("/admin/django_tasks_database/dbtaskresult/")

    assert page.status_code == HTTPStatus.OK
    (row,) = page.context["cl"].result_list
    assert row.task_path == "accounts.tasks.deliver"
    assert row.status == "READY"


def test_an_address_changed_by_staff_is_no_longer_verified(admin_http):
    user = UserFactory(email="ada@example.com", email_verified=True)
    form = {"email": "ada@example.org", "is_active": "on", "_save": "Save"}

    response = admin_http.post(f"{USERS}{user.pk}/change/", form)

    assert response.status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert (user.email, user.email_verified) == ("ada@example.org", False)
