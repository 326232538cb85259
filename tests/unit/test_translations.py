"""The interface's words: every English text has its translations, per site.

Two sites, two catalogues under ``ats/web/``; English is the key itself.

- The staff interface: ``_("...")`` in the templates under ``ats/web/templates/``
  (all but ``careers_*``) and ``_gettext_in(language, "...")`` in ``ats/web/app.py``;
  ``translations.toml`` has Dutch and French.
- The public careers site: ``_("...")`` in the ``careers_*`` templates,
  ``_gettext_in(language, "...")`` in ``ats/web/careers.py``, the refusals
  (``REFUSALS``) and form messages (``MESSAGES``) it shows, and ``"choice:<value>"``
  for each choice of a fact its application form asks (``workflows/*.yaml``);
  ``careers.toml`` has Dutch, French and German, and English for the choice keys
  alone, since those are no English.

Each catalogue must translate every text of its site, keep its ``{placeholders}``
and hold nothing else.
"""

from __future__ import annotations

import ast
import functools
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from jinja2 import Environment
from jinja2.ext import extract_from_ast

from ats.adapters.workflow_files import read_workflow_files
from ats.domain.workflow import LANGUAGES, Catalog
from ats.service.careers import MESSAGES
from ats.service.sessions import UI_LANGUAGES
from ats.web.careers import REFUSALS
from ats.web.translations import catalog, translator
from tests.conftest import REPO

WEB = REPO / "ats" / "web"
TEMPLATE_DIR = WEB / "templates"
CAREERS_TEMPLATES = tuple(
    sorted([*TEMPLATE_DIR.glob("careers_*.html"), *TEMPLATE_DIR.glob("careers_*.xml")])
)
STAFF_TEMPLATES = tuple(
    path for path in sorted(TEMPLATE_DIR.glob("*.html")) if path not in CAREERS_TEMPLATES
)
WORKFLOWS = tuple(sorted((REPO / "workflows").glob("*.yaml")))

# ``_("...")`` or ``_('...')`` wherever it stands: in ``{{ }}``, in ``{% %}``, in a tuple.
TEMPLATE_CALL = re.compile(
    r"""(?<![\w.])_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""", re.S
)
# The one text a careers template computes: ``_("choice:" ~ choice)`` (see choice_texts).
CHOICE_CALL = re.compile(r"""(?<![\w.])_\(\s*(["'])choice:\1\s*~""")

Texts = dict[str, set[str]]  # each text, with where it is used


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal, flags=re.S)


def _merge(*sources: Texts) -> Texts:
    merged: Texts = {}
    for source in sources:
        for text, where in source.items():
            merged.setdefault(text, set()).update(where)
    return merged


def template_texts(paths: tuple[Path, ...]) -> Texts:
    """Each text a template asks ``_`` for, with the templates that ask for it."""
    found: Texts = {}
    for path in paths:
        for match in TEMPLATE_CALL.finditer(path.read_text(encoding="utf-8")):
            text = _unescape(match.group(1) if match.group(1) is not None else match.group(2))
            found.setdefault(text, set()).add(path.name)
    return found


def code_texts(path: Path) -> Texts:
    """Each literal text ``_gettext_in(language, "...")`` is called with in ``path``."""
    found: Texts = {}
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


@functools.cache
def choice_texts() -> Texts:
    """``"choice:<value>"`` for every choice of every fact an application form asks."""
    found: Texts = {}
    for definition in read_workflow_files(WORKFLOWS, Catalog()):
        for name in definition.application_facts:
            for choice in definition.facts[name].choices:
                found.setdefault(f"choice:{choice}", set()).add(f"{definition.name}.yaml")
    return found


def careers_data_texts() -> Texts:
    """What the careers site translates besides its templates: refusals, form messages, choices."""
    return _merge(
        {text: {"careers.py REFUSALS"} for text in REFUSALS.values()},
        {text: {"service/careers.py MESSAGES"} for text in MESSAGES.values()},
        choice_texts(),
    )


@dataclass(frozen=True)
class Site:
    """A site's texts and the catalogue that translates them."""

    name: str
    catalog: str  # a file under ats/web
    templates: tuple[Path, ...]
    code: Path  # where ``_gettext_in(language, "...")`` is called
    languages: tuple[str, ...]  # each translates every text
    tables: tuple[str, ...]  # every table the catalogue holds
    data_texts: Callable[[], Texts] = dict  # texts from elsewhere than templates and code

    def texts(self) -> Texts:
        return _merge(template_texts(self.templates), code_texts(self.code), self.data_texts())

    def table(self, language: str) -> dict[str, str]:
        return catalog(self.catalog).get(language, {})


STAFF = Site(
    name="staff",
    catalog="translations.toml",
    templates=STAFF_TEMPLATES,
    code=WEB / "app.py",
    languages=tuple(language for language in UI_LANGUAGES if language != "en"),
    tables=tuple(language for language in UI_LANGUAGES if language != "en"),
)
CAREERS = Site(
    name="careers",
    catalog="careers.toml",
    templates=CAREERS_TEMPLATES,
    code=WEB / "careers.py",
    languages=tuple(language for language in LANGUAGES if language != "en"),
    tables=LANGUAGES,  # en: for the choice keys only
    data_texts=careers_data_texts,
)
SITES = [pytest.param(site, id=site.name) for site in (STAFF, CAREERS)]
TABLES = [
    pytest.param(site, language, id=f"{site.name}-{language}")
    for site in (STAFF, CAREERS)
    for language in site.tables
]


def placeholders(text: str) -> set[str]:
    """The ``str.format`` field names in ``text``; a malformed brace raises ``ValueError``."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_extraction_finds_texts_in_templates_and_in_code() -> None:
    """Both sources yield texts, including ones inside ``{% %}`` tuples and ``_('...')``."""
    templates, code = template_texts(STAFF_TEMPLATES), code_texts(STAFF.code)
    assert STAFF_TEMPLATES, "no templates found"
    assert "Candidacy" in templates  # from a ("candidacy", _("Candidacy")) tuple in {% for %}
    assert "Name, email or reference" in templates  # written _('...') in an attribute
    assert "only {roles} may do this" in code  # a call spanning several lines
    assert "{name} is now in “{state}”." in code


def test_the_extraction_finds_the_careers_texts() -> None:
    """The careers templates, refusals, form messages and choices yield texts, apart from staff."""
    templates, texts = template_texts(CAREERS_TEMPLATES), CAREERS.texts()
    assert CAREERS_TEMPLATES, "no careers templates found"
    assert "Service" in templates  # from a ("service", _("Service")) tuple in {% for %}
    assert "Filter the vacancies" in templates  # written _('...') in an attribute
    assert "At most {size} MB." in templates  # followed by .format(...)
    assert REFUSALS["DuplicateApplication"] in texts
    assert MESSAGES["email_hint"] in texts
    assert {"choice:master", "choice:secondary", "choice:law"} <= set(choice_texts())
    assert "Send my application" not in STAFF.texts()  # staff checks skip careers templates


@pytest.mark.parametrize("site", SITES)
def test_the_regex_sees_every_constant_text_jinja_sees(site: Site) -> None:
    """Jinja's own parser finds no ``_`` call with a literal text that the regex misses."""
    environment = Environment(autoescape=True)
    missed: dict[str, list[str]] = {}
    regex = template_texts(site.templates)
    for path in site.templates:
        tree = environment.parse(path.read_text(encoding="utf-8"))
        for _, _, message in extract_from_ast(tree, gettext_functions=("_",)):
            if isinstance(message, str) and message not in regex:
                missed.setdefault(path.name, []).append(message)
    assert not missed, f"texts the extraction regex does not see: {missed}"


def test_the_careers_templates_compute_no_text_but_the_choices() -> None:
    """A ``_`` call without a literal text is only ``_("choice:" ~ ...)``: its texts are known."""
    environment = Environment(autoescape=True)
    unknown: dict[str, list[int]] = {}
    for path in CAREERS_TEMPLATES:
        source = path.read_text(encoding="utf-8")
        computed = {
            line
            for line, _, message in extract_from_ast(
                environment.parse(source), gettext_functions=("_",)
            )
            if not isinstance(message, str)
        }
        choices = {source.count("\n", 0, m.start()) + 1 for m in CHOICE_CALL.finditer(source)}
        if computed - choices:
            unknown[path.name] = sorted(computed - choices)
    assert not unknown, f"_ calls whose text no test knows, by line: {unknown}"


@pytest.mark.parametrize("site", SITES)
def test_every_text_has_a_translation(site: Site) -> None:
    """Each text the site uses has a non-empty entry in each of its languages' tables."""
    texts = site.texts()
    missing = {
        language: sorted(t for t in texts if not site.table(language).get(t, "").strip())
        for language in site.languages
    }
    missing = {language: names for language, names in missing.items() if names}
    report = "\n".join(
        f"[{language}] {len(names)} missing:\n"
        + "\n".join(f"  {n!r} ({', '.join(sorted(texts[n]))})" for n in names)
        for language, names in missing.items()
    )
    assert not missing, f"untranslated {site.name} texts in {site.catalog}:\n{report}"


def test_the_choices_have_english_texts() -> None:
    """``choice:<value>`` is no English: careers.toml's en table names each choice, and no more."""
    english = CAREERS.table("en")
    missing = sorted(key for key in choice_texts() if not english.get(key, "").strip())
    assert not missing, f"choices without an English text in careers.toml [en]: {missing}"
    extra = sorted(set(english) - set(choice_texts()))
    assert not extra, f"careers.toml [en] holds more than the choices: {extra}"


@pytest.mark.parametrize(("site", "language"), TABLES)
def test_translations_keep_the_placeholders(site: Site, language: str) -> None:
    """A translation names the same ``{placeholders}`` as its English text and formats."""
    wrong = []
    for text, translated in site.table(language).items():
        try:
            expected, actual = placeholders(text), placeholders(translated)
            translated.format(**dict.fromkeys(actual, "x"))
        except (ValueError, IndexError, KeyError) as exc:
            wrong.append(f"{text!r} -> {translated!r}: {exc}")
            continue
        if expected != actual:
            wrong.append(f"{text!r} -> {translated!r}: {sorted(expected)} != {sorted(actual)}")
    assert not wrong, f"[{language}] placeholders differ in {site.catalog}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("site", SITES)
def test_no_stale_translations(site: Site) -> None:
    """Every key in the catalogue is still used by the site (en: see the choices test)."""
    texts = site.texts()
    stale = {
        language: sorted(set(table) - set(texts))
        for language, table in catalog(site.catalog).items()
        if language != "en" and set(table) - set(texts)
    }
    assert not stale, f"{site.catalog}: translations the {site.name} site no longer uses: {stale}"


@pytest.mark.parametrize("site", SITES)
def test_the_catalog_has_exactly_the_site_languages(site: Site) -> None:
    """translations.toml: nl and fr (the staff languages but English); careers.toml: all four."""
    assert set(catalog(site.catalog)) == set(site.tables)


def test_the_translator_falls_back_to_english() -> None:
    """An unknown language, or a text without translation, comes back as the English text."""
    assert catalog()["nl"]["Vacancies"] != "Vacancies"  # so the fallback below is visible
    assert translator("nl")("Vacancies") == catalog()["nl"]["Vacancies"]
    assert translator("xx")("Vacancies") == "Vacancies"
    assert translator("en")("Vacancies") == "Vacancies"
    assert translator("nl")("A text nobody translated") == "A text nobody translated"
    assert translator("fr")("A text nobody translated") == "A text nobody translated"


def test_the_careers_translator_uses_its_own_catalog() -> None:
    """careers.toml translates German and the choices' English; staff texts stay apart."""
    careers = CAREERS.catalog
    assert translator("de", careers)("Vacancies") == catalog(careers)["de"]["Vacancies"]
    assert translator("de")("Vacancies") == "Vacancies"  # the staff catalogue has no German
    assert translator("en", careers)("choice:master") == catalog(careers)["en"]["choice:master"]
    assert translator("en", careers)("Vacancies") == "Vacancies"
