"""Signing keys: the configured key set, its signer, and the public JWKS other services fetch.

Every flaw of the set is a KeyConfigurationError whose message is one line: what is wrong and
how to fix it. accounts/checks.py turns it into a system check, so production refuses to start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from accounts.exceptions import KeyConfigurationError

logger = logging.getLogger(__name__)

_ALGORITHMS: dict[str, Any] = {"ES256": ECAlgorithm, "RS256": RSAAlgorithm}
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
_MIN_RSA_BITS = 2048
_GENERATE = "python manage.py jwtkeys generate"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    key: Any  # a cryptography private or public key object
    retired_at: int | None = None

    @property
    def can_sign(self) -> bool:
        return isinstance(self.key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)

    def public_jwk(self) -> dict[str, Any]:
        public = self.key.public_key() if self.can_sign else self.key
        jwk = _ALGORITHMS[self.alg].to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


@dataclass(frozen=True)
class KeySet:
    signer: SigningKey
    keys: dict[str, SigningKey] = field(default_factory=dict)

    def verifier(self, kid: str | None) -> SigningKey | None:
        return self.keys.get(kid) if kid else None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.keys.values()]}


def generate_jwk(alg: str = "ES256") -> dict[str, Any]:
    """A new private JWK with its RFC 7638 thumbprint as `kid`."""
    private: Any
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise KeyConfigurationError(f"unsupported algorithm {alg!r}: use ES256 or RS256")
    jwk = _ALGORITHMS[alg].to_jwk(private, as_dict=True)
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def parse_keyset(document: dict[str, Any], *, source: str = "the key set") -> KeySet:
    """Build a KeySet from `{"signing_kid": ..., "keys": [JWK, ...]}`; raise on any flaw."""
    jwks = document.get("keys")
    if not isinstance(jwks, list) or not jwks:
        raise KeyConfigurationError(
            f"{source} has no keys: it needs at least the signing key; make one with `{_GENERATE}`"
        )
    keys: dict[str, SigningKey] = {}
    for position, jwk in enumerate(jwks, start=1):
        key = _parse_jwk(jwk, source, position)
        if key.kid in keys:
            raise KeyConfigurationError(
                f"{source}: key id {key.kid!r} appears twice: give every key its own kid"
            )
        keys[key.kid] = key
    return KeySet(signer=_signer(document.get("signing_kid"), keys, source), keys=keys)


def _signer(kid: Any, keys: dict[str, SigningKey], source: str) -> SigningKey:
    signer = keys.get(kid) if isinstance(kid, str) else None
    if signer is None:
        raise KeyConfigurationError(
            f"{source}: signing_kid {kid!r} names no key of the set: set it to the kid of one "
            "of its private keys"
        )
    if not signer.can_sign:
        raise KeyConfigurationError(
            f"{source}: signing_kid {kid!r} names a public-only key: the signer needs its "
            'private part ("d"); promote a private key with `python manage.py jwtkeys promote`'
        )
    if signer.alg != settings.JWT_ALGORITHM:
        raise KeyConfigurationError(
            f"{source}: the signing key is {signer.alg} but JWT_ALGORITHM is "
            f"{settings.JWT_ALGORITHM}: set JWT_ALGORITHM={signer.alg} or sign with a "
            f"{settings.JWT_ALGORITHM} key (`{_GENERATE} --alg {settings.JWT_ALGORITHM}`)"
        )
    return signer


def _parse_jwk(jwk: Any, source: str, position: int) -> SigningKey:
    if not isinstance(jwk, dict):
        raise KeyConfigurationError(
            f"{source}: key #{position} is not a JSON object: every key is a JWK"
        )
    alg, kid = jwk.get("alg"), jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeyConfigurationError(
            f"{source}: key #{position} has no kid: give it one (`{_GENERATE}` uses the key's "
            "RFC 7638 thumbprint)"
        )
    if alg not in _ALGORITHMS:
        raise KeyConfigurationError(f"{source}: key {kid!r} has alg {alg!r}: use ES256 or RS256")
    _check_type(jwk, kid, alg, source)
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
    except jwt.PyJWKError as exc:
        raise KeyConfigurationError(
            f"{source}: key {kid!r} is not a valid {alg} JWK ({exc}): replace it with one "
            f"from `{_GENERATE} --alg {alg}`"
        ) from None
    if alg == "RS256" and key.key_size < _MIN_RSA_BITS:
        raise KeyConfigurationError(
            f"{source}: key {kid!r} is a {key.key_size}-bit RSA key: RS256 needs at least "
            f"{_MIN_RSA_BITS} bits; make a new one with `{_GENERATE} --alg RS256`"
        )
    retired_at = jwk.get("retired_at")
    if retired_at is not None and (isinstance(retired_at, bool) or not isinstance(retired_at, int)):
        raise KeyConfigurationError(
            f"{source}: key {kid!r} has retired_at {retired_at!r}: it must be a Unix time in "
            "seconds (`jwtkeys promote` sets it)"
        )
    return SigningKey(kid=kid, alg=alg, key=key, retired_at=retired_at)


def _check_type(jwk: dict[str, Any], kid: str, alg: str, source: str) -> None:
    """ES256 means an EC key on P-256, RS256 an RSA key: nothing else under either label."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if alg == "ES256" and (kty, crv) != ("EC", "P-256"):
        found = f"an EC {crv} key" if kty == "EC" else f"a {kty} key"
        raise KeyConfigurationError(
            f"{source}: key {kid!r} is labelled ES256 but is {found}: ES256 needs an EC P-256 "
            f"key; make one with `{_GENERATE} --alg ES256`"
        )
    if alg == "RS256" and kty != "RSA":
        raise KeyConfigurationError(
            f"{source}: key {kid!r} is labelled RS256 but is a {kty} key: RS256 needs an RSA "
            f"key; make one with `{_GENERATE} --alg RS256`"
        )


def load_document() -> dict[str, Any]:
    """The raw key-set document from JWT_KEYS, JWT_KEYS_FILE, or the development key file."""
    return _load()[0]


def _load() -> tuple[dict[str, Any], str]:
    if settings.JWT_KEYS:
        return _decode(settings.JWT_KEYS, "JWT_KEYS"), "JWT_KEYS"
    if settings.JWT_KEYS_FILE:
        source = f"JWT_KEYS_FILE {settings.JWT_KEYS_FILE}"
        return _decode(_read(Path(settings.JWT_KEYS_FILE)), source), source
    if settings.PRODUCTION:
        raise KeyConfigurationError(
            f"production needs signing keys: set JWT_KEYS or JWT_KEYS_FILE to the output of "
            f"`{_GENERATE}`"
        )
    path = Path(settings.JWT_DEV_KEYS_FILE)
    source = f"the development key file {path}"
    return _decode(_development_text(path), source), source


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise KeyConfigurationError(
            f"JWT_KEYS_FILE {path} does not exist: create it with `{_GENERATE} --out {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeyConfigurationError(
            f"JWT_KEYS_FILE {path} cannot be read ({reason}): make it a readable file, e.g. "
            f"`{_GENERATE} > {path}`"
        ) from None


def _decode(text: str, source: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KeyConfigurationError(
            f"{source} is not valid JSON ({exc}): use the output of `{_GENERATE}`"
        ) from None
    if not isinstance(document, dict):
        raise KeyConfigurationError(
            f'{source} is not a JSON object: it must be {{"signing_kid": ..., "keys": [...]}} '
            f"as `{_GENERATE}` prints it"
        )
    return document


def _development_text(path: Path) -> str:
    if not path.exists():
        jwk = generate_jwk(settings.JWT_ALGORITHM)
        document = {"signing_kid": jwk["kid"], "keys": [jwk]}
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: of several workers starting at once, one writes, the rest read.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            time.sleep(0.2)
        else:
            with os.fdopen(fd, "w") as out:
                json.dump(document, out)
            logger.warning("generated a development signing key in %s", path)
    return path.read_text()


def promote(document: dict[str, Any], kid: str) -> dict[str, Any]:
    """The document with `kid` as the signer and the previous signer retired as of now."""
    by_kid = {jwk.get("kid"): jwk for jwk in document.get("keys", [])}
    if kid not in by_kid or "d" not in by_kid[kid]:
        raise KeyConfigurationError(f"{kid!r} is not a private key of the set")
    previous = by_kid.get(document.get("signing_kid"))
    if previous is not None and previous["kid"] != kid:
        previous["retired_at"] = int(time.time())
    by_kid[kid].pop("retired_at", None)
    return {**document, "signing_kid": kid}


def prune(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Drop retired keys older than the longest token lifetime: none of their tokens is valid."""
    longest = max(settings.ACCESS_TOKEN_LIFETIME, settings.REFRESH_TOKEN_LIFETIME)
    cutoff = time.time() - longest.total_seconds()
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for jwk in document.get("keys", []):
        retired = jwk.get("retired_at")
        expired = retired is not None and retired < cutoff
        (dropped if expired else kept).append(jwk)
    return {**document, "keys": kept}, [jwk["kid"] for jwk in dropped]


def load_keyset() -> KeySet:
    """The configured key set, read and checked now (the system checks; keyset() caches it)."""
    document, source = _load()
    return parse_keyset(document, source=source)


@lru_cache(maxsize=1)
def keyset() -> KeySet:
    """The key set in force, loaded once per process."""
    return load_keyset()


def signer_check() -> None:
    """Raise KeyConfigurationError unless the key set loads and its signer signs (readiness)."""
    signer = keyset().signer
    try:
        token = jwt.encode({"ready": True}, signer.key, algorithm=signer.alg)
        jwt.decode(token, signer.key.public_key(), algorithms=[signer.alg])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise KeyConfigurationError(
            f"the signing key {signer.kid!r} cannot sign ({exc}): replace the key set with the "
            f"output of `{_GENERATE}`"
        ) from None
