"""The staff interface's words: every English text has a Dutch and a French translation.

The texts are read from where they are used: ``_("...")`` in the templates under
``ats/web/templates/`` and ``_gettext_in(language, "...")`` in ``ats/web/app.py``.
``ats/web/translations.toml`` must translate each of them, keep its ``{placeholders}``
and hold nothing else.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from jinja2 import Environment
from jinja2.ext import extract_from_ast

from ats.service.sessions import UI_LANGUAGES
from ats.web.translations import catalog, translator
from tests.conftest import REPO

WEB = REPO / "ats" / "web"
TEMPLATES = tuple(sorted((WEB / "templates").glob("*.html")))
APP = WEB / "app.py"
LANGUAGES = ("nl", "fr")  # English is the key itself

# ``_("...")`` or ``_('...')`` wherever it stands: in ``{{ }}``, in ``{% %}``, in a tuple.
TEMPLATE_CALL = re.compile(
    r"""(?<![\w.])_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""", re.S
)


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal, flags=re.S)


def template_texts(paths: tuple[Path, ...] = TEMPLATES) -> dict[str, set[str]]:
    """Each text a template asks ``_`` for, with the templates that ask for it."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for match in TEMPLATE_CALL.finditer(path.read_text(encoding="utf-8")):
            text = _unescape(match.group(1) if match.group(1) is not None else match.group(2))
            found.setdefault(text, set()).add(path.name)
    return found


def code_texts(path: Path = APP) -> dict[str, set[str]]:
    """Each literal text ``_gettext_in(language, "...")`` is called with in ``path``."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_gettext_in"
        ):
            continue
        arguments = node.args[1:2] + [k.value for k in node.keywords if k.arg == "text"]
        for argument in arguments:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.setdefault(argument.value, set()).add(path.name)
    return found


def used_texts() -> dict[str, set[str]]:
    texts = template_texts()
    for text, where in code_texts().items():
        texts.setdefault(text, set()).update(where)
    return texts


def placeholders(text: str) -> set[str]:
    """The ``str.format`` field names in ``text``; a malformed brace raises ``ValueError``."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_extraction_finds_texts_in_templates_and_in_code() -> None:
    """Both sources yield texts, including ones inside ``{% %}`` tuples and ``_('...')``."""
    templates, code = template_texts(), code_texts()
    assert TEMPLATES, "no templates found"
    assert "Candidacy" in templates  # from a ("candidacy", _("Candidacy")) tuple in {% for %}
    assert "Name, email or reference" in templates  # written _('...') in an attribute
    assert "only {roles} may do this" in code  # a call spanning several lines
    assert "{name} is now in “{state}”." in code


def test_the_regex_sees_every_constant_text_jinja_sees() -> None:
    """Jinja's own parser finds no ``_`` call with a literal text that the regex misses."""
    environment = Environment(autoescape=True)
    missed = {}
    regex = template_texts()
    for path in TEMPLATES:
        tree = environment.parse(path.read_text(encoding="utf-8"))
        for _, _, message in extract_from_ast(tree, gettext_functions=("_",)):
            if isinstance(message, str) and message not in regex:
                missed.setdefault(path.name, []).append(message)
    assert not missed, f"texts the extraction regex does not see: {missed}"


def test_every_text_has_a_dutch_and_a_french_translation() -> None:
    """Each text the interface uses has a non-empty entry in the nl and fr tables."""
    texts = used_texts()
    tables = catalog()
    missing = {
        language: sorted(t for t in texts if not tables.get(language, {}).get(t, "").strip())
        for language in LANGUAGES
    }
    missing = {language: names for language, names in missing.items() if names}
    report = "\n".join(
        f"[{language}] {len(names)} missing:\n" + "\n".join(f"  {n!r}" for n in names)
        for language, names in missing.items()
    )
    assert not missing, f"untranslated texts:\n{report}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    """A translation names the same ``{placeholders}`` as its English text and formats."""
    wrong = []
    for text, translated in catalog().get(language, {}).items():
        try:
            expected, actual = placeholders(text), placeholders(translated)
            translated.format(**dict.fromkeys(actual, "x"))
        except (ValueError, IndexError, KeyError) as exc:
            wrong.append(f"{text!r} -> {translated!r}: {exc}")
            continue
        if expected != actual:
            wrong.append(f"{text!r} -> {translated!r}: {sorted(expected)} != {sorted(actual)}")
    assert not wrong, f"[{language}] placeholders differ:\n" + "\n".join(wrong)


def test_no_stale_translations() -> None:
    """Every key in translations.toml is still used by a template or by app.py."""
    texts = used_texts()
    stale = {
        language: sorted(set(table) - set(texts))
        for language, table in catalog().items()
        if set(table) - set(texts)
    }
    assert not stale, f"translations no template or code uses any more: {stale}"


def test_the_catalog_has_exactly_the_interface_languages() -> None:
    """translations.toml holds one table per non-English interface language, no other."""
    assert set(catalog()) == set(LANGUAGES) == set(UI_LANGUAGES) - {"en"}


def test_the_translator_falls_back_to_english() -> None:
    """An unknown language, or a text without translation, comes back as the English text."""
    assert catalog()["nl"]["Vacancies"] != "Vacancies"  # so the fallback below is visible
    assert translator("nl")("Vacancies") == catalog()["nl"]["Vacancies"]
    assert translator("xx")("Vacancies") == "Vacancies"
    assert translator("en")("Vacancies") == "Vacancies"
    assert translator("nl")("A text nobody translated") == "A text nobody translated"
    assert translator("fr")("A text nobody translated") == "A text nobody translated"
