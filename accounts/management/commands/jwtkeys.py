"""`manage.py jwtkeys`: generate, list and rotate the signing key set."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import keys
from accounts.audit import Kind, audit_record
from accounts.exceptions import KeyConfigurationError


class Command(BaseCommand):
    help = (
        "Manage the JWT signing keys. generate: print a new key set; list: show the keys in "
        "force; add: add a verify-only key; promote KID: make it the signer; prune: drop "
        "retired keys whose tokens have expired; rotate: add + promote + prune in one step."
    )
    # It makes and mends the key set, so it must run while the set is missing or broken (the
    # auth.E007/E008 checks): every action checks the documents it reads and writes itself.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action", choices=["generate", "list", "add", "promote", "prune", "rotate"]
        )
        parser.add_argument("kid", nargs="?", help="the key id to promote")
        parser.add_argument("--alg", default=settings.JWT_ALGORITHM, choices=["ES256", "RS256"])
        parser.add_argument(
            "--file",
            default=settings.JWT_KEYS_FILE or None,
            help="key-set file to change (default: JWT_KEYS_FILE)",
        )
        parser.add_argument(
            "--out",
            help="generate: write the new set to this new file, readable by its owner only",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except KeyConfigurationError as exc:
            raise CommandError(str(exc)) from None

    def _generate(self, options: dict[str, Any]) -> None:
        out = options.get("out")
        if out and Path(out).exists():
            raise CommandError(f"{out} exists: generate writes a new file only (see rotate)")
        jwk = keys.generate_jwk(options["alg"])
        self._emit({"signing_kid": jwk["kid"], "keys": [jwk]}, out)

    def _list(self, options: dict[str, Any]) -> None:
        document = self._read(options["file"]) if options["file"] else keys.load_document()
        keyset = keys.parse_keyset(document)
        for key in keyset.keys.values():
            role = "signer" if key.kid == keyset.signer.kid else "verify-only"
            retired = f" retired_at={key.retired_at}" if key.retired_at else ""
            self.stdout.write(f"{key.kid}  {key.alg}  {role}{retired}")

    def _add(self, options: dict[str, Any]) -> None:
        document = self._document(options)
        jwk = keys.generate_jwk(options["alg"])
        document["keys"].append(jwk)
        self._emit(document, options["file"])
        self.stderr.write(f"added {jwk['kid']} (verify-only until promoted)")

    def _promote(self, options: dict[str, Any]) -> None:
        if not options["kid"]:
            raise CommandError("promote needs the kid of the key to make the signer")
        document = keys.promote(self._document(options), options["kid"])
        self._emit(document, options["file"])
        audit_record(kind=Kind.KEY_ROTATED, detail=f"signer is now {options['kid']}")

    def _prune(self, options: dict[str, Any]) -> None:
        document, dropped = keys.prune(self._document(options))
        self._emit(document, options["file"])
        self.stderr.write(f"dropped {len(dropped)} retired key(s): {', '.join(dropped) or '-'}")

    def _rotate(self, options: dict[str, Any]) -> None:
        document = self._document(options)
        jwk = keys.generate_jwk(options["alg"])
        document["keys"].append(jwk)
        document, dropped = keys.prune(keys.promote(document, jwk["kid"]))
        self._emit(document, options["file"])
        audit_record(kind=Kind.KEY_ROTATED, detail=f"signer is now {jwk['kid']}")
        self.stderr.write(f"new signer {jwk['kid']}; dropped: {', '.join(dropped) or '-'}")

    def _document(self, options: dict[str, Any]) -> dict[str, Any]:
        if options["file"]:
            return self._read(options["file"])
        return keys.load_document()

    @staticmethod
    def _read(path: str) -> dict[str, Any]:
        try:
            return dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None

    def _emit(self, document: dict[str, Any], path: str | None) -> None:
        keys.parse_keyset(document)  # never write a set the service could not load
        text = json.dumps(document, indent=2)
        if path is None:
            self.stdout.write(text)
            return
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".jwtkeys-")
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
        self.stderr.write(f"wrote {target}; restart the service (every replica) to load it")
