"""Email addresses as identities: one stored form for every way of writing an address, and one
key for addresses that only look alike.

- The stored form (`email_normalize`): NFKC, then the local part case-folded (NFKC_Casefold:
  `ß` is `ss`, the Kelvin sign is `k`) and the domain mapped by IDNA's UTS #46 to its Unicode
  form, so `exämple.com` and `xn--exmple-cua.com` are one domain.
- The look-alike key (`email_skeleton`): Unicode's UTS #39 skeleton of the local part (each
  character replaced by the prototype of its confusables class: dotless `i` and `i`,
  Cyrillic `a` and Latin `a`, `rn` and `m`), case-folded, then `@` and the stored domain. Two
  addresses with one key are one account (a unique column, accounts/models.py).
- `scripts_mixed`: a name that mixes scripts (Latin with Cyrillic, ...) is refused outright,
  except the mixes UTS #39's "highly restrictive" level allows (Latin with Han and Japanese
  kana, Bopomofo or Hangul).

The confusables data and the script of each character come from `confusable_homoglyphs`
(Unicode's confusables.txt); IDNA from `idna`.
"""

from __future__ import annotations

import functools
import unicodedata

import idna

# Scripts that belong to every script (digits, punctuation, combining marks).
_ANY_SCRIPT = frozenset({"COMMON", "INHERITED"})
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _folded(text: str) -> str:
    """NFKC_Casefold, near enough: NFKC, case fold, NFKC again."""
    return _nfkc(_nfkc(text).casefold())


def domain_ascii(domain: str) -> str | None:
    """The domain as IDNA (UTS #46) A-labels, or None if it is no valid domain name."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def _domain_normalize(domain: str) -> str:
    ascii_form = domain_ascii(domain)
    if ascii_form is None:
        # Not a domain name (registration refuses it): still one form for every spelling.
        return _folded(domain)
    return idna.decode(ascii_form)


def email_normalize(email: str) -> str:
    """The stored form of an address; never raises (a login with any string looks it up)."""
    text = _nfkc(email).strip()  # NFKC first: a full-width at sign is an `@`
    local, at, domain = text.rpartition("@")
    if not at:
        return _folded(text)
    return f"{_folded(local)}@{_domain_normalize(domain)}"


@functools.lru_cache(maxsize=4096)
def _prototype(char: str) -> str:
    """The prototype of `char`'s confusables class (UTS #39), from the library's data.

    Its data is confusables.txt made symmetric (each source lists its prototype, each
    prototype its sources), so the direction is read back: sources are single characters and
    have exactly one entry; a prototype of several characters is never a source.
    """
    glyphs = _glyphs(char)
    if not glyphs:
        return char
    if len(glyphs) > 1:
        return char  # a prototype, listing its sources
    [other] = glyphs
    if len(other) > 1 or len(_glyphs(other)) > 1:
        return other  # a source, and its prototype
    return min(char, other)  # a pair: either one stands for both


def _glyphs(char: str) -> list[str]:
    # Imported when first needed (registration): its data is a few MB no login needs.
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(char, greedy=True)
    return [glyph["c"] for glyph in found[0]["homoglyphs"]] if found else []


def skeleton(text: str) -> str:
    """UTS #39 skeleton, case-folded: equal for strings a reader cannot tell apart."""
    mapped = "".join(_prototype(char) for char in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", mapped).casefold())


def email_skeleton(email: str) -> str:
    """The look-alike key of an address (its local part's skeleton, its stored domain)."""
    local, at, domain = email_normalize(email).rpartition("@")
    return f"{skeleton(local)}{at}{domain}" if at else skeleton(domain)


def scripts_mixed(text: str) -> bool:
    """Whether `text` mixes scripts in a way UTS #39's highly restrictive level refuses."""
    from confusable_homoglyphs import categories

    scripts = categories.unique_aliases(text) - _ANY_SCRIPT
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_MIXES)
