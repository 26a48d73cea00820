"""`manage.py clients`: create, list, disable, enable API clients and rotate their secrets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import clients
from accounts.exceptions import AccountsError, InvalidInput
from accounts.models import APIClient


class Command(BaseCommand):
    help = (
        "Manage API clients (service accounts of the client credentials grant). "
        "create NAME --scope S --audience A: prints the client id and its secret, once; "
        "list; disable CLIENT_ID (its tokens die at once); enable CLIENT_ID; "
        "rotate CLIENT_ID [--overlap SECONDS]: prints a new secret, the old one works until then."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new client; prints its id and secret once")
        create.add_argument("name")
        create.add_argument(
            "--scope",
            action="append",
            default=[],
            help="a scope it may be granted (repeat, or space-separate); introspect: may call "
            "the introspection endpoint",
        )
        create.add_argument(
            "--audience", default="", help="its tokens' aud (default: JWT_AUDIENCE)"
        )
        actions.add_parser("list", help="every client, without secrets")
        for name, text in (("disable", "disable; its tokens die at once"), ("enable", "enable")):
            actions.add_parser(name, help=text).add_argument("client_id")
        rotate = actions.add_parser("rotate", help="a new secret, printed once")
        rotate.add_argument("client_id")
        rotate.add_argument(
            "--overlap",
            type=int,
            default=None,
            help="seconds the current secret keeps working (default: CLIENT_SECRET_OVERLAP)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except InvalidInput as exc:
            raise CommandError("; ".join(e["message"] for e in exc.errors)) from None
        except AccountsError as exc:
            raise CommandError(exc.detail) from None

    def _create(self, options: dict[str, Any]) -> None:
        issued = clients.client_create(
            name=options["name"], scope=" ".join(options["scope"]), audience=options["audience"]
        )
        self._secret(issued)

    def _list(self, options: dict[str, Any]) -> None:
        for client in clients.clients_list():
            state = "active" if client.is_active else "disabled"
            self.stdout.write(
                f"{client.client_id}\t{state}\t{client.name}\t"
                f"scope={client.scope!r}\taud={client.audience}"
            )

    def _disable(self, options: dict[str, Any]) -> None:
        clients.client_disable(client=self._client(options["client_id"]))
        self.stdout.write(f"{options['client_id']} disabled: its tokens no longer work")

    def _enable(self, options: dict[str, Any]) -> None:
        clients.client_enable(client=self._client(options["client_id"]))
        self.stdout.write(f"{options['client_id']} enabled")

    def _rotate(self, options: dict[str, Any]) -> None:
        overlap = options["overlap"]
        if overlap is not None and overlap < 0:
            raise CommandError("--overlap must be 0 or more seconds")
        issued = clients.client_rotate_secret(
            client=self._client(options["client_id"]),
            overlap=None if overlap is None else timedelta(seconds=overlap),
        )
        self._secret(issued)
        until = issued.client.previous_secret_until
        self.stderr.write(
            f"the previous secret works until {until}"
            if until
            else "the previous secret no longer works"
        )

    def _client(self, client_id: str) -> APIClient:
        client = clients.client_get(client_id=client_id)
        if client is None:
            raise CommandError(f"no client {client_id!r}")
        return client

    def _secret(self, issued: clients.IssuedSecret) -> None:
        # On stdout, for a pipe into a secret store; the note goes to stderr.
        self.stdout.write(f"client_id={issued.client.client_id}")
        self.stdout.write(f"client_secret={issued.secret}")
        self.stderr.write("the secret is shown this once: only its hash is kept")
