"""`manage.py jwtkeys` and the key set in force: generate, list, rotate, prune, JWKS.

The key set is loaded once per process; `keys.keyset.cache_clear()` stands for the restart that
the command asks the operator to do after changing the file.
"""

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.checks import Error
from django.core.management import CommandError, call_command
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from accounts import checks, keys
from tests.helpers import T0, assert_unauthorized, claims_of, me, refresh
from tests.servers import ROOT

pytestmark = pytest.mark.django_db


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("jwtkeys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _restart():
    keys.keyset.cache_clear()


@pytest.fixture
def keyfile(tmp_path, settings):
    """A key-set file made by `jwtkeys generate`, in force as JWT_KEYS_FILE."""
    path = tmp_path / "jwt-keys.json"
    path.write_text(_run("generate")[0])
    settings.JWT_KEYS = None
    settings.JWT_KEYS_FILE = str(path)
    _restart()
    yield path
    _restart()


def _document(path):
    return json.loads(path.read_text())


def _kid(token):
    return jwt.get_unverified_header(token)["kid"]


def _jwks_kids(api):
    return [key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]]


def test_generate_prints_a_key_set_the_service_loads(api, user, login, keyfile):
    document = _document(keyfile)
    [jwk] = document["keys"]

    assert document["signing_kid"] == jwk["kid"] == keys.thumbprint(jwk)
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" in jwk
    assert keys.keyset().signer.kid == jwk["kid"]
    pair = login(user)
    assert _kid(pair["access"]) == jwk["kid"]
    assert me(api, pair["access"]).status_code == HTTPStatus.OK


def test_generate_rs256_when_the_service_is_configured_for_it(settings):
    settings.JWT_ALGORITHM = "RS256"

    document = json.loads(_run("generate", "--alg", "RS256")[0])

    [jwk] = document["keys"]
    assert (jwk["kty"], jwk["alg"]) == ("RSA", "RS256")
    assert keys.parse_keyset(document).signer.alg == "RS256"


def test_generate_refuses_a_key_the_configured_algorithm_cannot_use(settings):
    """A set the service could not load is never printed or written."""
    settings.JWT_ALGORITHM = "ES256"

    with pytest.raises(CommandError, match="the signing key is RS256 but JWT_ALGORITHM is ES256"):
        _run("generate", "--alg", "RS256")


GENERATE = "python manage.py jwtkeys generate"


def _set(*jwks, signing_kid=None):
    return {"signing_kid": signing_kid or jwks[0]["kid"], "keys": list(jwks)}


def _jwk(private, algorithm, alg, kid="k1"):
    return {**algorithm.to_jwk(private, as_dict=True), "kid": kid, "alg": alg}


def _public_only():
    jwk = keys.generate_jwk()
    return _set({name: value for name, value in jwk.items() if name != "d"})


def _duplicate():
    jwk = keys.generate_jwk()
    return _set(jwk, dict(jwk))


def _p384():
    return _set(_jwk(ec.generate_private_key(ec.SECP384R1()), ECAlgorithm, "ES256"))


def _rsa(bits, alg="RS256"):
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _set(_jwk(private, RSAAlgorithm, alg))


# (JWT_ALGORITHM, JWT_KEYS or a {"file": text-or-None}, the one-line message with {source}/{kid})
BAD_KEY_SETS = {
    "empty-set": (
        "ES256",
        lambda: {"signing_kid": "k1", "keys": []},
        "JWT_KEYS has no keys: it needs at least the signing key; make one with `" + GENERATE + "`",
    ),
    "missing-file": (
        "ES256",
        lambda: {"file": None},
        "JWT_KEYS_FILE {path} does not exist: create it with `" + GENERATE + " --out {path}`",
    ),
    "invalid-json": (
        "ES256",
        lambda: {"file": "{not json"},
        "JWT_KEYS_FILE {path} is not valid JSON (Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)): use the output of `" + GENERATE + "`",
    ),
    "not-an-object": (
        "ES256",
        lambda: ["a", "list"],
        'JWT_KEYS is not a JSON object: it must be {{"signing_kid": ..., "keys": [...]}} as `'
        + GENERATE
        + "` prints it",
    ),
    "rsa-key-under-es256": (
        "ES256",
        lambda: _rsa(2048),
        "JWT_KEYS: the signing key is RS256 but JWT_ALGORITHM is ES256: set JWT_ALGORITHM=RS256 "
        "or sign with a ES256 key (`" + GENERATE + " --alg ES256`)",
    ),
    "rsa-key-labelled-es256": (
        "ES256",
        lambda: _rsa(2048, alg="ES256"),
        "JWT_KEYS: key 'k1' is labelled ES256 but is a RSA key: ES256 needs an EC P-256 key; "
        "make one with `" + GENERATE + " --alg ES256`",
    ),
    "rsa-1024-bits": (
        "RS256",
        lambda: _rsa(1024),
        "JWT_KEYS: key 'k1' is a 1024-bit RSA key: RS256 needs at least 2048 bits; make a new "
        "one with `" + GENERATE + " --alg RS256`",
    ),
    "p384-labelled-es256": (
        "ES256",
        _p384,
        "JWT_KEYS: key 'k1' is labelled ES256 but is an EC P-384 key: ES256 needs an EC P-256 "
        "key; make one with `" + GENERATE + " --alg ES256`",
    ),
    "signing-kid-public-only": (
        "ES256",
        _public_only,
        "JWT_KEYS: signing_kid {kid!r} names a public-only key: the signer needs its private "
        'part ("d"); promote a private key with `python manage.py jwtkeys promote`',
    ),
    "duplicate-kid": (
        "ES256",
        _duplicate,
        "JWT_KEYS: key id {kid!r} appears twice: give every key its own kid",
    ),
}


def _configure(settings, tmp_path, algorithm, make):
    """Put a key set in force; the message's {path} and {kid} for it."""
    settings.JWT_ALGORITHM = algorithm
    settings.JWT_KEYS, settings.JWT_KEYS_FILE = None, None
    document = make()
    path = tmp_path / "jwt-keys.json"
    if isinstance(document, dict) and "file" in document:
        if document["file"] is not None:
            path.write_text(document["file"])
        settings.JWT_KEYS_FILE = str(path)
        return {"path": path, "kid": None}
    settings.JWT_KEYS = json.dumps(document)
    return {"path": path, "kid": document.get("signing_kid") if isinstance(document, dict) else 0}


@pytest.mark.parametrize(
    ("algorithm", "make", "message"), BAD_KEY_SETS.values(), ids=BAD_KEY_SETS.keys()
)
def test_a_bad_key_set_is_refused_with_one_line_saying_how_to_fix_it(
    settings, tmp_path, algorithm, make, message
):
    expected = message.format(**_configure(settings, tmp_path, algorithm, make))

    with pytest.raises(keys.KeyConfigurationError) as refused:
        keys.load_keyset()

    assert str(refused.value) == expected
    assert checks.signing_keys(None) == [Error(expected, id="auth.E008")]


def test_production_without_a_key_set_is_refused(settings):
    settings.PRODUCTION, settings.JWT_KEYS, settings.JWT_KEYS_FILE = True, None, None

    assert checks.signing_keys(None) == [
        Error(
            "production needs signing keys: set JWT_KEYS or JWT_KEYS_FILE to the output of "
            f"`{GENERATE}`",
            id="auth.E007",
        )
    ]


def test_readiness_is_down_while_the_signer_cannot_be_loaded(api, settings):
    settings.JWT_ALGORITHM = "ES256"
    settings.JWT_KEYS = json.dumps(_rsa(2048))
    _restart()
    try:
        response = api.get("/health/ready")
    finally:
        _restart()

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "token_store": "ok", "signing_keys": "down"},
    }


STRONG_SECRET = "q8Vn3xT0bLk2Rz7Wc5Hs1Pj9Ud4Fy6Me8Ga0Ko3Ni7Xt2Bv5Lq1Zr9Sw4Cp6Dh8Jf0"


def _production(*command, **env):
    """A process in production mode on the test PostgreSQL and Redis."""
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "APP_ENV": "production",
            "SECRET_KEY": STRONG_SECRET,
            "ALLOWED_HOSTS": "auth.example.com",
            "JWT_KEYS": "",
            "JWT_KEYS_FILE": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_production_refuses_to_start_on_a_bad_key_set_and_starts_on_a_generated_one():
    """`jwtkeys generate` needs no key set; check --deploy and the ASGI import need a good one."""
    generated = _production("manage.py", "jwtkeys", "generate")
    assert generated.returncode == 0, generated.stderr
    p384 = json.dumps(_p384())
    message = (
        "JWT_KEYS: key 'k1' is labelled ES256 but is an EC P-384 key: ES256 needs an EC P-256 "
        f"key; make one with `{GENERATE} --alg ES256`"
    )

    checked = _production("manage.py", "check", "--deploy", JWT_KEYS=p384)
    imported = _production("-c", "import config.asgi", JWT_KEYS=p384)
    good = _production("manage.py", "check", "--deploy", JWT_KEYS=generated.stdout)

    assert checked.returncode != 0
    assert f"(auth.E008) {message}\n" in checked.stderr
    assert imported.returncode != 0
    assert f"refusing to start:\n  auth.E008: {message}\n" in imported.stderr
    assert good.returncode == 0, good.stderr
    # Production's HTTPS defaults (behind a TLS proxy) leave Django's deploy checks no warning.
    assert "System check identified no issues" in good.stdout, good.stderr


def test_the_jwks_publishes_only_public_parts_and_is_cacheable(api, keyfile):
    [private] = _document(keyfile)["keys"]

    response = api.get("/.well-known/jwks.json")

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=300"
    public = {name: value for name, value in private.items() if name != "d"}
    assert response.json() == {"keys": [public]}


def test_the_jwks_max_age_comes_from_settings(api, keyfile, settings):
    settings.JWKS_MAX_AGE = 60

    assert api.get("/.well-known/jwks.json")["Cache-Control"] == "public, max-age=60"


def test_list_marks_the_signer(keyfile, time_machine):
    old = _document(keyfile)["signing_kid"]
    assert _run("list")[0] == f"{old}  ES256  signer\n"
    time_machine.move_to(T0, tick=False)
    _run("rotate")
    new = _document(keyfile)["signing_kid"]

    listed = _run("list")[0]

    assert listed.splitlines() == [
        f"{old}  ES256  verify-only retired_at={int(T0.timestamp())}",
        f"{new}  ES256  signer",
    ]


def test_rotate_writes_a_private_file_and_says_to_restart(keyfile):
    _, err = _run("rotate")

    assert stat.S_IMODE(keyfile.stat().st_mode) == stat.S_IRUSR | stat.S_IWUSR
    assert f"wrote {keyfile}; restart the service (every replica) to load it" in err
    assert f"new signer {_document(keyfile)['signing_kid']}; dropped: -" in err


def test_tokens_of_the_verify_only_old_key_still_pass_after_rotation(api, user, login, keyfile):
    old = _document(keyfile)["signing_kid"]
    before = login(user)
    _run("rotate")
    _restart()
    new = _document(keyfile)["signing_kid"]

    assert new != old
    assert _kid(before["access"]) == old
    assert me(api, before["access"]).status_code == HTTPStatus.OK
    rotated = refresh(api, before["refresh"])
    assert rotated.status_code == HTTPStatus.OK
    assert _kid(rotated.json()["access"]) == new
    assert _kid(login(user)["access"]) == new


def test_a_rotation_shows_in_the_jwks(api, keyfile):
    old = _document(keyfile)["signing_kid"]
    assert _jwks_kids(api) == [old]
    _run("rotate")
    _restart()

    response = api.get("/.well-known/jwks.json")

    assert response["Cache-Control"] == "public, max-age=300"
    assert [key["kid"] for key in response.json()["keys"]] == [
        old,
        _document(keyfile)["signing_kid"],
    ]
    assert all("d" not in key for key in response.json()["keys"])


def test_add_is_verify_only_until_promoted(api, user, login, keyfile):
    old = _document(keyfile)["signing_kid"]
    _run("add")
    _restart()
    [added] = [k["kid"] for k in _document(keyfile)["keys"] if k["kid"] != old]
    assert _jwks_kids(api) == [old, added]
    assert _kid(login(user)["access"]) == old

    _run("promote", "--", added)  # a kid may begin with "-"
    _restart()

    assert _kid(login(user)["access"]) == added


def test_promote_refuses_a_kid_not_in_the_set(keyfile):
    with pytest.raises(CommandError, match="'nope' is not a private key of the set"):
        _run("promote", "nope")


@pytest.mark.parametrize(
    ("after", "kept"),
    [(timedelta(days=1) - timedelta(seconds=1), True), (timedelta(days=1, seconds=1), False)],
    ids=["before-the-longest-lifetime", "after-the-longest-lifetime"],
)
def test_prune_drops_the_old_key_only_once_its_tokens_have_expired(
    api, keyfile, time_machine, after, kept
):
    old = _document(keyfile)["signing_kid"]
    time_machine.move_to(T0, tick=False)
    _run("rotate")
    new = _document(keyfile)["signing_kid"]
    time_machine.shift(after)

    _, err = _run("prune")
    _restart()

    expected = [old, new] if kept else [new]
    assert [k["kid"] for k in _document(keyfile)["keys"]] == expected
    assert _jwks_kids(api) == expected
    assert f"dropped {0 if kept else 1} retired key(s): {'-' if kept else old}\n" in err


def test_a_second_rotation_a_lifetime_later_drops_the_first_key(keyfile, time_machine):
    first = _document(keyfile)["signing_kid"]
    time_machine.move_to(T0, tick=False)
    _run("rotate")
    second = _document(keyfile)["signing_kid"]
    time_machine.shift(timedelta(days=2))

    _run("rotate")

    third = _document(keyfile)["signing_kid"]
    assert [k["kid"] for k in _document(keyfile)["keys"]] == [second, third]
    assert first not in {second, third}


def test_lifetime_for_prune_is_read_from_settings(keyfile, time_machine, settings):
    settings.REFRESH_TOKEN_LIFETIME = timedelta(hours=1)
    time_machine.move_to(T0, tick=False)
    _run("rotate")
    time_machine.shift(timedelta(hours=1, seconds=1))

    _run("prune")

    assert len(_document(keyfile)["keys"]) == 1


def _sign_foreign(payload, headers):
    return jwt.encode(
        payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=headers
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(payload, kid):
    """Algorithm confusion: HMAC keyed with the service's public key in PEM."""
    public = keys.keyset().signer.key.public_key()
    secret = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


FORGERIES = {
    "unknown-kid": lambda payload, kid: _sign_foreign(payload, {"kid": "unknown"}),
    "no-kid": lambda payload, kid: _sign_foreign(payload, {}),
    "our-kid-their-key": lambda payload, kid: _sign_foreign(payload, {"kid": kid}),
    "alg-none": lambda payload, kid: jwt.encode(
        payload, None, algorithm="none", headers={"kid": kid}
    ),
    "hs256-keyed-with-our-public-key": _hs256_with_public_key,
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_token_not_signed_by_a_key_of_the_set_is_refused(api, user, login, keyfile, forge):
    """Attack: a live session's claims under a forged signature or unknown kid -> 401."""
    genuine = login(user)
    kid = _document(keyfile)["signing_kid"]

    forged = forge(claims_of(genuine["access"]), kid)

    assert_unauthorized(me(api, forged))
    assert me(api, genuine["access"]).status_code == HTTPStatus.OK


def test_a_token_of_a_key_removed_from_the_set_is_refused(api, user, login, keyfile):
    """A key taken out of the set (e.g. compromised) stops its access tokens at the next
    restart. Refresh tokens are not signed with it (an HMAC under SECRET_KEY): the session
    goes on, with access tokens of the new key."""
    old = _document(keyfile)["signing_kid"]
    pair = login(user)
    _run("rotate")
    document = _document(keyfile)
    document["keys"] = [k for k in document["keys"] if k["kid"] != old]
    keyfile.write_text(json.dumps(document))
    _restart()

    assert_unauthorized(me(api, pair["access"]))
    rotated = refresh(api, pair["refresh"])
    assert rotated.status_code == HTTPStatus.OK
    assert _kid(rotated.json()["access"]) == document["signing_kid"]


def test_an_unreadable_key_set_fails_closed(api, user, password, keyfile):
    keyfile.write_text("{not json")
    _restart()

    login = api.post(
        "/api/token/",
        {"email": user.email, "password": password},
        content_type="application/json",
    )
    jwks = api.get("/.well-known/jwks.json")
    discovery = api.get("/.well-known/oauth-authorization-server")

    assert login.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert login.json() == {"detail": "Token signing is unavailable.", "code": "key_configuration"}
    for document in (jwks, discovery):
        assert document.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert document.json() == {"detail": "Key set unavailable.", "code": "key_configuration"}
    with pytest.raises(CommandError, match="cannot read"):
        _run("list")


def test_generate_out_writes_a_new_file_only_its_owner_can_read(tmp_path):
    """Attack: a private signing key left readable by every local user (a shell redirect
    honours the umask, often 0644). Expected: `generate --out` writes mode 0600, and refuses
    to overwrite a key set that exists."""
    target = tmp_path / "keys.json"

    _run("generate", "--out", str(target))

    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IRUSR | stat.S_IWUSR
    assert keys.parse_keyset(_document(target)).signer.can_sign
    with pytest.raises(CommandError, match="exists: generate writes a new file only"):
        _run("generate", "--out", str(target))
