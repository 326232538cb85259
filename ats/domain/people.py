"""How two records of one person are recognised: addresses and names in a comparable form."""

from __future__ import annotations

import unicodedata

_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def normalised_email(email: str) -> str:
    """The mailbox an address reaches, as far as the address tells: for comparing only.

    Case does not matter, a ``+tag`` after the local part does not either, and
    Gmail ignores dots in the local part (googlemail.com is gmail.com). A local
    part that starts with ``+`` is left whole: there is nothing before the tag.
    """
    text = email.strip().casefold()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL:
        local = local.replace(".", "") or local
        domain = "gmail.com"
    return f"{local}@{domain}".strip()


def normalised_name(name: str) -> str:
    """A name for comparing: case, accents and runs of whitespace do not matter."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(folded.split())
