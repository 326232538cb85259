"""The interface's words in Dutch and French; English is the key and the fallback.

``translations.toml`` holds one table per language mapping each English text
to its translation. A test checks every text the templates ask for is there.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from importlib.resources import files


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    text = files("ats.web").joinpath("translations.toml").read_text(encoding="utf-8")
    return {language: dict(table) for language, table in tomllib.loads(text).items()}


def translator(language: str) -> Callable[[str], str]:
    table = catalog().get(language, {})
    return lambda text: table.get(text, text)
