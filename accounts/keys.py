"""Signing keys: the configured key set, its signer, and the public JWKS other services fetch."""

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


def parse_keyset(document: dict[str, Any]) -> KeySet:
    """Build a KeySet from `{"signing_kid": ..., "keys": [JWK, ...]}`; raise on any flaw."""
    keys: dict[str, SigningKey] = {}
    for jwk in document.get("keys") or []:
        key = _parse_jwk(jwk)
        if key.kid in keys:
            raise KeyConfigurationError(f"key id {key.kid!r} appears twice")
        keys[key.kid] = key
    signing_kid = document.get("signing_kid")
    signer = keys.get(signing_kid) if isinstance(signing_kid, str) else None
    if signer is None or not signer.can_sign:
        raise KeyConfigurationError("signing_kid must name a private key of the set")
    if signer.alg != settings.JWT_ALGORITHM:
        raise KeyConfigurationError(
            f"the signing key is {signer.alg} but JWT_ALGORITHM is {settings.JWT_ALGORITHM}"
        )
    return KeySet(signer=signer, keys=keys)


def _parse_jwk(jwk: dict[str, Any]) -> SigningKey:
    alg, kid = jwk.get("alg"), jwk.get("kid")
    if alg not in _ALGORITHMS or not isinstance(kid, str) or not kid:
        raise KeyConfigurationError("every key needs a kid and an alg of ES256 or RS256")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
    except jwt.PyJWKError as exc:
        raise KeyConfigurationError(f"key {kid!r} is not a valid {alg} JWK: {exc}") from None
    retired_at = jwk.get("retired_at")
    return SigningKey(kid=kid, alg=alg, key=key, retired_at=retired_at)


def load_document() -> dict[str, Any]:
    """The raw key-set document from JWT_KEYS, JWT_KEYS_FILE, or the development key file."""
    try:
        if settings.JWT_KEYS:
            return dict(json.loads(settings.JWT_KEYS))
        if settings.JWT_KEYS_FILE:
            return dict(json.loads(Path(settings.JWT_KEYS_FILE).read_text()))
    except (OSError, ValueError) as exc:
        raise KeyConfigurationError(f"cannot read the key set: {exc}") from None
    if settings.PRODUCTION:
        raise KeyConfigurationError("production needs JWT_KEYS or JWT_KEYS_FILE")
    return _development_document(Path(settings.JWT_DEV_KEYS_FILE))


def _development_document(path: Path) -> dict[str, Any]:
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
    return dict(json.loads(path.read_text()))


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


@lru_cache(maxsize=1)
def keyset() -> KeySet:
    """The key set in force, loaded once per process."""
    return parse_keyset(load_document())
