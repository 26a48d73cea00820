"""The Django admin in a real browser: Debian's Chromium driven by Playwright against the service
under uvicorn. A staff user logs in through the login form, finds a user, ends one session and
then all, deactivates the user and reads the audit log; the API then refuses the user's tokens.
A screenshot of each step goes to `$ARTIFACTS_DIR` (default `tests/artifacts/`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts.models import AuditEvent, User
from tests.factories import PASSWORD
from tests.helpers import INVALID_CREDENTIALS
from tests.live.calls import assert_refused, login, me, refresh, signed_up, unique_email
from tests.servers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: apt-get install chromium"
    ),
]

# No GPU, no sandbox (root in a container), and nothing that calls out: the machine is offline
# and Chromium's background fetches would only fill the log with refused connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "tests" / "artifacts")
USERS = "/admin/accounts/user/"
AUDIT = "/admin/accounts/auditevent/"
SESSIONS_OF_USER = 2
# The kind column of the audit list shows each kind's label.
ADMIN_ACTIONS = (
    AuditEvent.Kind.SESSION_ENDED,
    AuditEvent.Kind.LOGOUT_ALL,
    AuditEvent.Kind.USER_DEACTIVATED,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, launched once for the module."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, and Django then refuses
    # every ORM call (and pytest-django's flush). The calls stay plain sync calls in one thread,
    # which is what the guard is there to make sure of.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server, http) -> Iterator[Any]:
    """A fresh browser page (no cookies) on the module's server."""
    context = browser.new_context(base_url=server, viewport={"width": 1600, "height": 900})
    page = context.new_page()
    # What the browser refused to load or run (a Content-Security-Policy violation, say).
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    yield page
    context.close()


@pytest.fixture
def staff(http: httpx.Client) -> User:
    """A superuser, registered over the API (the server hashes its password) and promoted."""
    email = unique_email("staff")
    created = http.post("/api/register/", json={"email": email, "password": PASSWORD})
    assert created.status_code == HTTPStatus.CREATED, created.text
    User.objects.filter(email=email).update(is_staff=True, is_superuser=True)
    return User.objects.get(email=email)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def _log_in(page: Any, server: str, staff: User) -> Any:
    """Log in through the admin's login form; returns the response to the form's POST."""
    page.goto("/admin/")
    assert page.url == f"{server}/admin/login/?next=/admin/"
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("input[type=submit]")
    page.wait_for_load_state()
    return posted.value


def _rows(page: Any) -> list[str]:
    return [row.inner_text() for row in page.locator("#result_list tbody tr").all()]


def test_the_admin_login_form_logs_in_from_chromium(page, server, staff):
    """Bug: with Referrer-Policy no-referrer, Chromium sends `Origin: null` and Django's CSRF
    refuses the admin login (403). Expected: the login form logs in (302 to /admin/)."""
    form = page.goto("/admin/login/")

    posted = _log_in(page, server, staff)

    assert posted.status == HTTPStatus.FOUND, posted.text()[:500]
    assert posted.headers["location"] == "/admin/"
    assert posted.request.header_value("origin") == server
    assert form.headers["referrer-policy"] == "same-origin"
    assert page.url == f"{server}/admin/"
    assert page.locator("h1").inner_text() == "Site administration"


def test_staff_end_a_users_sessions_deactivate_them_and_read_the_audit_log(
    page, server, http, staff
):
    email = unique_email("subject")
    pairs = [signed_up(http, email), login(http, email)]

    page.goto("/admin/")
    _shot(page, "01-login-form")
    assert _log_in(page, server, staff).status == HTTPStatus.FOUND
    _shot(page, "02-admin-index")

    page.goto(USERS)
    page.fill("#searchbar", email)
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    assert page.locator("#result_list .field-email").all_inner_texts() == [email]
    _shot(page, "03-user-found")

    page.click(f"#result_list a:text-is('{email}')")
    assert f"{SESSIONS_OF_USER} live" in page.locator(".field-live_sessions").inner_text()
    page.click("text=view and end sessions")
    assert page.locator("#content tbody tr").count() == SESSIONS_OF_USER
    _shot(page, "04-sessions")

    page.locator("input[value=End]").first.click()
    page.wait_for_load_state()
    assert page.locator(".messagelist").inner_text() == "Session ended."
    assert page.locator("#content tbody tr").count() == SESSIONS_OF_USER - 1
    _shot(page, "05-one-session-ended")

    page.click("input[value='End every session']")
    page.wait_for_load_state()
    assert page.locator(".messagelist").inner_text() == "Every session ended."
    assert page.locator("#content tbody").inner_text() == "No live sessions."
    _shot(page, "06-every-session-ended")
    for pair in pairs:
        assert_refused(me(http, pair["access"]))
        assert_refused(refresh(http, pair["refresh"]))

    again = login(http, email)  # the user logs in anew; deactivation must end that too
    page.click(f".breadcrumbs a:text-is('{email}')")
    page.uncheck("#id_is_active")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert page.url == f"{server}{USERS}"
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    _shot(page, "07-deactivated")
    assert_refused(me(http, again["access"]))
    assert_refused(refresh(http, again["refresh"]))
    refused = http.post("/api/token/", json={"email": email, "password": PASSWORD})
    assert (refused.status_code, refused.json()) == (HTTPStatus.UNAUTHORIZED, INVALID_CREDENTIALS)

    page.goto(AUDIT)
    rows = _rows(page)
    _shot(page, "08-audit-log")
    # Every page of the walk ran under the service's Content-Security-Policy without a refusal.
    assert page.console_errors == []
    for kind in ADMIN_ACTIONS:
        assert [row for row in rows if kind.label in row and staff.email in row], (kind, rows)
    acted = AuditEvent.objects.filter(user__email=email, actor=staff)
    assert set(acted.values_list("kind", "actor_email")) == {
        (kind.value, staff.email) for kind in ADMIN_ACTIONS
    }
