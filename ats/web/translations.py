"""The interface's words; English is the key and the fallback.

``translations.toml`` (staff pages: Dutch and French) and ``careers.toml`` (the
public careers site: Dutch, French and German) hold one table per language
mapping each English text to its translation. A test checks every text the templates ask for is there.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from importlib.resources import files


@functools.cache
def catalog(name: str = "translations.toml") -> dict[str, dict[str, str]]:
    text = files("ats.web").joinpath(name).read_text(encoding="utf-8")
    return {language: dict(table) for language, table in tomllib.loads(text).items()}


def translator(language: str, name: str = "translations.toml") -> Callable[[str], str]:
    """Translate the English ``text`` with the catalogue ``name`` (the careers site has its own)."""
    table = catalog(name).get(language, {})
    return lambda text: table.get(text, text)
