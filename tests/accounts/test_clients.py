"""API clients (service accounts): secrets kept as hashes only, rotation with an overlap,
disabling (fails closed without the token store), `manage.py clients`, and the admin pages."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import clients, oauth, token_store
from accounts.exceptions import InvalidClient, InvalidInput, StoreUnavailable
from accounts.models import APIClient, AuditEvent
from accounts.types import Caller
from tests.factories import UserFactory
from tests.servers import free_port

pytestmark = pytest.mark.django_db

CALLER = Caller(user_agent="pytest", ip="127.0.0.1")
CLIENTS = "/admin/accounts/apiclient/"
SECRET = re.compile(r"sks_[A-Za-z0-9_-]{43}")


def _authenticates(client_id: str, secret: str) -> bool:
    try:
        clients.client_authenticate(client_id=client_id, secret=secret, caller=CALLER)
    except InvalidClient:
        return False
    return True


def _token(issued: clients.IssuedSecret) -> oauth.ClientToken:
    credentials = oauth.Credentials(issued.client.client_id, issued.secret)
    return oauth.client_credentials_grant(
        grant_type="client_credentials", credentials=credentials, scope=None, caller=CALLER
    )


def _live(client: APIClient) -> bool:
    return token_store.client_token_is_live(client_id=client.client_id, session_id=client.token_sid)


def test_only_a_hash_of_the_secret_is_kept():
    issued = clients.client_create(name="billing", scope="a b a", audience="billing-api")

    row = APIClient.objects.get(pk=issued.client.pk)
    assert SECRET.fullmatch(issued.secret)
    assert row.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in str(list(APIClient.objects.values()))
    assert issued.secret not in str(list(AuditEvent.objects.values()))
    assert (row.scope, row.audience, row.is_active) == ("a b", "billing-api", True)
    assert row.client_id.startswith("svc_")


def test_audience_defaults_to_jwt_audience_and_bad_fields_are_all_reported(settings):
    assert clients.client_create(name="x").client.audience == settings.JWT_AUDIENCE

    with pytest.raises(InvalidInput) as refused:
        clients.client_create(name="", scope='bad"scope', audience="two words")
    assert [e["field"] for e in refused.value.errors] == ["name", "audience", "scope"]


def test_rotation_keeps_the_old_secret_for_the_overlap_only(time_machine):
    time_machine.move_to("2031-03-01 12:00:00+00:00", tick=False)
    issued = clients.client_create(name="billing")
    cid = issued.client.client_id

    rotated = clients.client_rotate_secret(client=issued.client, overlap=timedelta(hours=1))

    assert rotated.secret != issued.secret
    assert _authenticates(cid, rotated.secret)
    assert _authenticates(cid, issued.secret)  # within the overlap
    time_machine.move_to("2031-03-01 13:00:00+00:00", tick=False)
    assert not _authenticates(cid, issued.secret)  # past it
    assert _authenticates(cid, rotated.secret)
    # A second rotation without overlap: the newest secret only.
    third = clients.client_rotate_secret(client=rotated.client, overlap=timedelta(0))
    assert not _authenticates(cid, rotated.secret)
    assert _authenticates(cid, third.secret)
    rotations = AuditEvent.objects.filter(kind=AuditEvent.Kind.CLIENT_SECRET_ROTATED)
    assert [event.client_id for event in rotations] == [cid, cid]


def test_rotation_leaves_issued_tokens_alone():
    issued = clients.client_create(name="billing")
    _token(issued)

    clients.client_rotate_secret(client=issued.client)

    assert _live(APIClient.objects.get(pk=issued.client.pk))


def test_disabling_ends_the_tokens_and_refuses_the_secret():
    issued = clients.client_create(name="billing")
    _token(issued)
    assert _live(issued.client)

    disabled = clients.client_disable(client=issued.client)

    assert not _live(issued.client)  # the sid its tokens carry
    assert not _live(disabled)  # nor the new one, until a token is issued again
    assert not _authenticates(issued.client.client_id, issued.secret)
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.CLIENT_DISABLED)
    assert event.client_id == issued.client.client_id


def test_disabling_without_the_token_store_changes_nothing(settings):
    """Fault: the token store is down (a closed port) when a client is disabled. Expected:
    StoreUnavailable, and the client is still active in PostgreSQL: it is never shown disabled
    while tokens of it may still work."""
    issued = clients.client_create(name="billing")
    settings.TOKEN_STORE_URL = f"redis://127.0.0.1:{free_port()}/0"

    with pytest.raises(StoreUnavailable):
        clients.client_disable(client=issued.client)

    row = APIClient.objects.get(pk=issued.client.pk)
    assert (row.is_active, row.token_sid) == (True, issued.client.token_sid)
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.CLIENT_DISABLED).exists()


def test_issuing_without_the_token_store_issues_nothing(settings):
    """Fault: the token store is down at issue. Expected: StoreUnavailable (503), no token."""
    issued = clients.client_create(name="billing")
    settings.TOKEN_STORE_URL = f"redis://127.0.0.1:{free_port()}/0"

    with pytest.raises(StoreUnavailable):
        _token(issued)
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.CLIENT_TOKEN).exists()


# --- manage.py clients ------------------------------------------------------------------------


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("clients", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_create_prints_the_id_and_secret_once():
    out, err = _run(
        "create",
        "billing",
        "--scope",
        "read:invoices",
        "--scope",
        "introspect",
        "--audience",
        "billing-api",
    )

    client_id = re.search(r"^client_id=(svc_\w+)$", out, re.M)[1]
    secret = re.search(r"^client_secret=(\S+)$", out, re.M)[1]
    assert "shown this once" in err
    client = APIClient.objects.get(client_id=client_id)
    assert (client.scope, client.audience) == ("read:invoices introspect", "billing-api")
    assert _authenticates(client_id, secret)
    listed, _ = _run("list")
    assert f"{client_id}\tactive\tbilling" in listed
    assert secret not in listed


def test_command_rotate_and_disable():
    issued = clients.client_create(name="billing")
    cid = issued.client.client_id

    out, err = _run("rotate", cid, "--overlap", "0")

    new_secret = re.search(r"^client_secret=(\S+)$", out, re.M)[1]
    assert "no longer works" in err
    assert not _authenticates(cid, issued.secret)
    assert _authenticates(cid, new_secret)
    out, _ = _run("disable", cid)
    assert "disabled" in out
    assert not _authenticates(cid, new_secret)
    assert "disabled" in _run("list")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("disable", "svc_nope"), "no client 'svc_nope'"),
        (("rotate", "svc_nope"), "no client 'svc_nope'"),
        (("create", "x", "--scope", 'a"b'), "Scopes are"),
    ],
)
def test_command_errors_are_one_line(args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


# --- the admin ----------------------------------------------------------------------------------


def _secret_of(response) -> str:
    assert response.status_code == HTTPStatus.OK, response.content[:500]
    assert "no-store" in response["Cache-Control"]
    return re.search(r'<code id="client-secret">(\S+)</code>', response.content.decode())[1]


def test_admin_creates_a_client_and_shows_the_secret_once(admin_http):
    response = admin_http.post(
        f"{CLIENTS}add/", {"name": "billing", "scope": "introspect", "audience": ""}
    )

    secret = _secret_of(response)
    client = APIClient.objects.get(name="billing")
    assert _authenticates(client.client_id, secret)
    assert client.created_by.email == "admin@example.com"
    # Nowhere to be seen again: not on its page, not in the list.
    for page in (f"{CLIENTS}{client.pk}/change/", CLIENTS):
        shown = admin_http.get(page)
        assert shown.status_code == HTTPStatus.OK
        assert secret not in shown.content.decode()


def test_admin_refuses_a_bad_scope_with_the_form_again(admin_http):
    response = admin_http.post(f"{CLIENTS}add/", {"name": "x", "scope": 'a"b', "audience": ""})

    assert response.status_code == HTTPStatus.OK
    assert "Scopes are" in response.content.decode()
    assert not APIClient.objects.exists()


def test_admin_rotates_a_secret_with_an_overlap(admin_http):
    issued = clients.client_create(name="billing")

    secret = _secret_of(admin_http.post(f"{CLIENTS}{issued.client.pk}/rotate/", {"overlap": "60"}))

    assert _authenticates(issued.client.client_id, secret)
    assert _authenticates(issued.client.client_id, issued.secret)
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.CLIENT_SECRET_ROTATED)
    assert event.actor_email == "admin@example.com"


def test_admin_disables_and_enables_with_actions(admin_http):
    issued = clients.client_create(name="billing")
    _token(issued)

    response = admin_http.post(
        CLIENTS, {"action": "disable", "_selected_action": [issued.client.pk]}, follow=True
    )

    assert "1 client(s) disabled." in [m.message for m in response.context["messages"]]
    assert not _live(issued.client)
    assert not _authenticates(issued.client.client_id, issued.secret)
    admin_http.post(CLIENTS, {"action": "enable", "_selected_action": [issued.client.pk]})
    assert _authenticates(issued.client.client_id, issued.secret)


def test_admin_scope_change_ends_the_clients_tokens(admin_http):
    issued = clients.client_create(name="billing", scope="a b")
    _token(issued)

    response = admin_http.post(
        f"{CLIENTS}{issued.client.pk}/change/",
        {"name": "billing", "scope": "a", "audience": issued.client.audience, "_save": "Save"},
    )

    assert response.status_code == HTTPStatus.FOUND, response.content[:800]
    assert APIClient.objects.get(pk=issued.client.pk).scope == "a"
    assert not _live(issued.client)


def test_admin_staff_without_permission_cannot_see_clients(db):
    staff = UserFactory(is_staff=True)
    http = Client()
    http.force_login(staff)

    assert http.get(CLIENTS).status_code == HTTPStatus.FORBIDDEN
    assert http.get(f"{CLIENTS}add/").status_code == HTTPStatus.FORBIDDEN
