"""Identities that look alike (issue 9, item 5), over HTTP: an address is one account however
it is spelt in Unicode (NFKC, case fold, IDNA) and whichever look-alike of it is tried (UTS #39
skeleton); names that mix scripts are refused; passwords match in their NFKC form."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import EMAIL_TAKEN, INVALID_CREDENTIALS, MIXED_SCRIPTS, claims_of, post_json
from tests.helpers import login as login_request

pytestmark = pytest.mark.django_db

REGISTER = "/api/register/"
KELVIN = "\u212a"  # KELVIN SIGN, NFKC-equivalent to K
DOTLESS_I = "\u0131"  # LATIN SMALL LETTER DOTLESS I, looks like i
CYRILLIC_A = "\u0430"  # CYRILLIC SMALL LETTER A, looks like Latin a


def _full_width(text: str) -> str:
    """The same text in full-width forms (U+FF01-FF5E), as East Asian input methods type it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in text)


def _register(api, email: str, password: str = PASSWORD):
    return post_json(api, REGISTER, {"email": email, "password": password})


def _invalid_email(message: str) -> dict:
    return {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": [{"field": "email", "message": message}],
    }


@pytest.mark.parametrize(
    ("existing", "lookalike"),
    [
        pytest.param("mike@example.com", f"m{DOTLESS_I}ke@example.com", id="dotless-i"),
        pytest.param(f"m{DOTLESS_I}ke@example.com", "mike@example.com", id="dotless-i-first"),
        pytest.param("kate@example.com", f"{KELVIN}ate@example.com", id="kelvin-sign"),
        pytest.param("ada@exämple.com", "ada@xn--exmple-cua.com", id="idna-punycode"),
        pytest.param("ada@xn--exmple-cua.com", "ADA@EXÄMPLE.COM", id="idna-unicode"),
        pytest.param("strasse@example.de", "Straße@example.de", id="casefold-sharp-s"),
        pytest.param("ada@example.com", _full_width("ada@example.com"), id="full-width"),
        pytest.param("ada@example.com", "ada@exam\u0440le.com", id="cyrillic-er-in-domain"),
        pytest.param("john@example.com", "j0hn@example.com", id="zero-for-o"),
        pytest.param("mike@example.com", "rnike@example.com", id="rn-for-m"),
    ],
)
def test_a_lookalike_of_a_registered_address_is_409(api, settings, existing, lookalike):
    """Attack: register an address a reader cannot tell from an existing account's (Unicode
    spelling, punycode, case folding, homoglyphs), to be taken for its owner.
    Expected (REGISTRATION_ENUMERATION=open): 409 email_taken, the one body every taken address
    gets; one account only. (Protected, the default: the answer of a new address, below.)"""
    settings.REGISTRATION_ENUMERATION = "open"
    assert _register(api, existing).status_code == HTTPStatus.CREATED

    response = _register(api, lookalike)

    if lookalike.endswith("exam\u0440le.com"):  # Latin and Cyrillic in one label: refused first
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json() == _invalid_email(MIXED_SCRIPTS)
    else:
        assert response.status_code == HTTPStatus.CONFLICT
        assert response.json() == EMAIL_TAKEN
    assert User.objects.count() == 1


def test_a_lookalike_registered_in_protected_mode_makes_no_second_account(api):
    """Attack: the same look-alike registration under REGISTRATION_ENUMERATION=protected (the
    default). Expected: the answer a new address gets (201, the same fields), and still one
    account: the look-alike is taken, nobody learns it."""
    assert _register(api, "mike@example.com").status_code == HTTPStatus.CREATED

    response = _register(api, "m\u0131ke@example.com")

    assert response.status_code == HTTPStatus.CREATED
    assert set(response.json()) == {"id", "email", "date_joined"}
    assert list(User.objects.values_list("email", flat=True)) == ["mike@example.com"]


def test_the_kelvin_sign_is_the_letter_k_of_the_same_one_account(api):
    """Attack: log in with `Kate@` spelt with the Kelvin sign. It is NFKC-equivalent to `kate@`:
    the same account, not another one. Expected: kate's password logs in as kate (200, her id
    in `sub`); any other password is 401 invalid_credentials; no account is ever stored under the
    Kelvin spelling."""
    kate = UserFactory(email="kate@example.com")

    wrong = login_request(api, f"{KELVIN}ate@example.com", "not kate's password at all")
    right = login_request(api, f"{KELVIN}ate@example.com", PASSWORD)

    assert (wrong.status_code, wrong.json()) == (HTTPStatus.UNAUTHORIZED, INVALID_CREDENTIALS)
    assert right.status_code == HTTPStatus.OK
    assert claims_of(right.json()["access"])["sub"] == str(kate.pk)
    assert not User.objects.filter(email__contains=KELVIN).exists()


def test_the_punycode_and_unicode_domains_log_in_to_one_account(api):
    created = _register(api, "ada@xn--exmple-cua.com")
    assert created.status_code == HTTPStatus.CREATED
    assert created.json()["email"] == "ada@exämple.com"

    response = login_request(api, "Ada@Exämple.com", PASSWORD)

    assert response.status_code == HTTPStatus.OK
    assert claims_of(response.json()["access"])["sub"] == created.json()["id"]


def test_a_lookalike_that_is_not_registered_logs_in_to_nothing(api):
    """Attack: `mike@` spelt with a dotless i, with mike's password. It is another address,
    which nobody can register beside mike's. Expected: 401 invalid_credentials."""
    UserFactory(email="mike@example.com")

    response = login_request(api, f"m{DOTLESS_I}ke@example.com", PASSWORD)

    assert (response.status_code, response.json()) == (
        HTTPStatus.UNAUTHORIZED,
        INVALID_CREDENTIALS,
    )


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("ada@g\u03bfogle.com", id="greek-omicron-in-latin-label"),
        pytest.param("ada@\u0440aypal.com", id="cyrillic-er-in-latin-label"),
        pytest.param(
            "ada@\u043fp\u0438\u043c\u0435\u0440.\u0440\u0444", id="latin-p-in-cyrillic-label"
        ),
    ],
)
def test_a_domain_label_that_mixes_scripts_is_refused(api, email):
    """Attack: a domain that mixes Latin with Cyrillic or Greek homoglyphs, registered while no
    account it imitates exists yet. Expected: 400 invalid naming the email; no account."""
    response = _register(api, email)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_email(MIXED_SCRIPTS)
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "email",
    [
        pytest.param(f"p{CYRILLIC_A}ypal@example.com", id="cyrillic-a-in-latin-name"),
        pytest.param("\u0438\u0432\u0430\u043d@example.com", id="cyrillic-name"),
    ],
)
def test_a_local_part_outside_ascii_is_refused(api, email):
    """Attack: a local part with a Cyrillic homoglyph. Django's address check allows ASCII
    local parts only (no RFC 6531 addresses), so it is refused before any look-alike rule.
    Expected: 400 invalid naming the email; no account."""
    response = _register(api, email)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_email("Enter a valid email address.")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        pytest.param(
            "Ivan@\u041f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
            "ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
            id="cyrillic-domain",
        ),
        pytest.param("Jose@Exa\u0301mple.com", "jose@ex\u00e1mple.com", id="decomposed-accent"),
        pytest.param(
            "ada@\u3084\u307e\u3060\u5c71\u7530.jp",
            "ada@\u3084\u307e\u3060\u5c71\u7530.jp",
            id="han-and-hiragana",
        ),
        pytest.param(f"m{DOTLESS_I}ke@example.com", f"m{DOTLESS_I}ke@example.com", id="dotless-i"),
    ],
)
def test_an_address_in_one_script_registers_in_its_stored_form(api, email, stored):
    response = _register(api, email)

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json()["email"] == stored


def test_a_domain_that_is_no_idna_name_is_refused(api):
    """An emoji domain: Python's IDNA 2003 codec takes it, UTS #46 (IDNA 2008) does not."""
    response = _register(api, "ada@\U0001f4a9.la")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == _invalid_email("Enter a valid email address.")


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        pytest.param(
            "Cafe\u0301 au lait 42", "Caf\u00e9 au lait 42", id="decomposed-then-composed"
        ),
        pytest.param("\ufb01ne dining room 42", "fine dining room 42", id="ligature-then-letters"),
        pytest.param(_full_width("full width 42"), "full width 42", id="full-width-then-ascii"),
    ],
)
def test_a_password_matches_in_its_nfkc_form(api, argon2, registered, typed):
    """NIST SP 800-63B: the password is NFKC-normalised before hashing, so the same characters
    typed another way (another keyboard, system or input method) log in. Expected: 200."""
    assert _register(api, "ada@example.com", registered).status_code == HTTPStatus.CREATED

    assert login_request(api, "ada@example.com", typed).status_code == HTTPStatus.OK
    assert login_request(api, "ada@example.com", registered).status_code == HTTPStatus.OK
