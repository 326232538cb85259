"""Candidate mail templates: every key every workflow names, in every language, rendered safely.

No database: the workflows are read from ``workflows/*.yaml`` and rendered
through ``MailRenderer`` over ``notifications/`` with sample data. Broken or
partial template folders are built in ``tmp_path``.
"""

from __future__ import annotations

import email
import email.policy
import shutil
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import UndefinedError

from ats.adapters.mail import POLICY, OutgoingMail, build_message
from ats.adapters.mail_templates import LANGUAGES, MailRenderer, TemplateMissing, template_keys
from ats.adapters.workflow_files import read_workflow_files
from ats.domain.workflow import Catalog
from ats.service.handlers import PANEL_INVITED
from tests.conftest import REPO

NOTIFICATIONS = REPO / "notifications"
BRUSSELS = ZoneInfo("Europe/Brussels")
AT = datetime(2021, 6, 28, 7, 0, tzinfo=UTC)  # 09:00 in Brussels (summer time)
DUE = datetime(2021, 7, 12, 22, 30, tzinfo=UTC)  # 00:30 on 13 July in Brussels
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
HEADERS = {
    "from",
    "to",
    "subject",
    "message-id",
    "date",
    "auto-submitted",
    "mime-version",
    "content-type",
}


def _workflow_keys() -> dict[str, frozenset[str]]:
    paths = sorted((REPO / "workflows").glob("*.yaml"))
    assert paths, "no workflow files found"
    return {d.name: d.template_keys for d in read_workflow_files(paths, Catalog())}


WORKFLOW_KEYS = _workflow_keys()
SESSION = {"start": datetime(2021, 7, 24, 7, 0, tzinfo=UTC), "location": "Selor, Brussel"}
STAFF_KEYS = frozenset({PANEL_INVITED, "approval_reminder"})  # to a user, about a candidacy
ALL_KEYS = sorted(set().union(*WORKFLOW_KEYS.values()) | {PANEL_INVITED})  # sent by the engine


def _context(reason: str = "", due: datetime | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "candidate": {"name": "An Peeters"},
        "vacancy": {"title": "Veiligheidsbegeleider"},
        "service": {"name": "Dienst Vreemdelingenzaken"},
        "status": "Sample status",
        "reason": reason,
        "at": AT,
        "due": due,
        "status_url": "https://ats.example/status",
        "session": None,
        "member": None,
        "candidacy_url": "https://ats.example/candidacies/7",
        "cancelled": False,
        **extra,
    }


@pytest.fixture(scope="module")
def renderer() -> MailRenderer:
    return MailRenderer(NOTIFICATIONS, zone=BRUSSELS)


def _copy_layouts(folder: Path) -> None:
    for name in ("layout.txt", "layout.html"):
        shutil.copy(NOTIFICATIONS / name, folder / name)


def _template_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    """A notifications folder with the real layouts and ``{"nl/key": text}`` templates."""
    folder = tmp_path / "notifications"
    folder.mkdir()
    _copy_layouts(folder)
    for language in LANGUAGES:
        (folder / language).mkdir()
    for name, text in files.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


# -- every key, every language ------------------------------------------------------------


def test_every_workflow_names_templates_and_all_of_them_exist_in_every_language() -> None:
    """The enumeration below is not empty, and no workflow names a key missing on disk."""
    assert len(WORKFLOW_KEYS) >= 7
    assert "application_received" in ALL_KEYS
    assert set(ALL_KEYS) <= template_keys(NOTIFICATIONS)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", ALL_KEYS)
@pytest.mark.parametrize(
    ("reason", "due", "session"),
    [("", None, None), ("Het diploma ontbreekt.", DUE, SESSION)],
    ids=["bare", "reason+due+session"],
)
def test_every_template_renders_in_every_language_with_sample_data(
    renderer: MailRenderer,
    key: str,
    language: str,
    reason: str,
    due: datetime | None,
    session: dict[str, Any] | None,
) -> None:
    """One-line non-empty subject, non-empty text and HTML, in that language, fully rendered.
    Staff mail links the candidacy's staff page instead of the candidate's status page."""
    staff = key in STAFF_KEYS
    context = _context(reason=reason, due=due, session=session)
    if staff:
        context.update(member={"name": "Wim Vermeulen"}, status_url="")
    rendered = renderer.render(key, language, context)

    assert rendered.language == language, "no fallback needed: every language has every key"
    assert rendered.subject
    assert rendered.subject == rendered.subject.strip()
    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject
    assert rendered.text.strip()
    assert rendered.html.strip()
    assert f'<html lang="{language}">' in rendered.html
    assert "An Peeters" in rendered.text
    assert "An Peeters" in rendered.html
    if staff:
        assert "Wim Vermeulen" in rendered.text
        assert "https://ats.example/candidacies/7" in rendered.text
        assert "/status" not in rendered.text
        assert "/status" not in rendered.html
    else:
        assert "https://ats.example/status" in rendered.text
        assert 'href="https://ats.example/status"' in rendered.html
    for output in (rendered.subject, rendered.text, rendered.html):
        assert "{{" not in output
        assert "{%" not in output
    assert "\n\n\n" not in rendered.text, "an empty reason leaves no blank gap"
    if reason and key in ("rejected", "withdrawn"):
        assert reason in rendered.text
        assert reason in rendered.html
    if reason and key == "medical_unfit":
        assert reason not in rendered.text, "medical grounds are never printed"
        assert reason not in rendered.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_escapes_a_reason_and_a_name_that_look_like_markup(
    renderer: MailRenderer, language: str
) -> None:
    context = _context(reason=SCRIPT, candidate={"name": "Jo <b>&</b> Co"})
    rendered = renderer.render("rejected", language, context)

    assert ESCAPED_SCRIPT in rendered.html
    assert "<script" not in rendered.html
    assert "Jo &lt;b&gt;&amp;&lt;/b&gt; Co" in rendered.html
    assert "<b>" not in rendered.html
    assert SCRIPT in rendered.text, "plain text is not HTML-escaped"


# -- strictness, fallback, the key catalogue ------------------------------------------------


@pytest.mark.parametrize(
    "source",
    ["Subject {{ nickname }}\n\nBody\n", "Subject\n\nDear {{ candidate.nickname }}\n"],
    ids=["unknown-name", "unknown-attribute"],
)
def test_a_template_naming_an_unknown_name_fails_instead_of_rendering_blank(
    tmp_path: Path, source: str
) -> None:
    folder = _template_folder(tmp_path, {f"{lang}/broken": source for lang in LANGUAGES})
    renderer = MailRenderer(folder, zone=BRUSSELS)
    with pytest.raises(UndefinedError):
        renderer.render("broken", "nl", _context())


def test_a_language_without_the_template_falls_back_to_dutch_then_the_configured_order(
    tmp_path: Path,
) -> None:
    folder = _template_folder(
        tmp_path,
        {
            "nl/greeting": "Hallo {{ candidate.name }}\n\nNederlands",
            "fr/greeting": "Bonjour {{ candidate.name }}\n\nFrançais",
            "en/greeting": "Hello {{ candidate.name }}\n\nEnglish",
            "en/only_english": "Hello\n\nEnglish only",
        },
    )
    default = MailRenderer(folder, zone=BRUSSELS)
    assert default.languages_for("de") == ["de", "nl", "fr", "en"]
    assert default.languages_for("fr") == ["fr", "nl", "en"]

    rendered = default.render("greeting", "de", _context())
    assert (rendered.language, rendered.subject) == ("nl", "Hallo An Peeters")
    assert '<html lang="nl">' in rendered.html
    assert default.render("greeting", "fr", _context()).language == "fr"
    assert default.render("only_english", "de", _context()).language == "en"

    configured = MailRenderer(folder, zone=BRUSSELS, fallback=("fr", "en"))
    assert configured.render("greeting", "de", _context()).language == "fr"

    with pytest.raises(TemplateMissing):
        default.render("nowhere", "de", _context())


def test_template_keys_lists_only_keys_present_in_all_four_languages(tmp_path: Path) -> None:
    files = {f"{lang}/everywhere": "S\n\nB" for lang in LANGUAGES}
    files.update({f"{lang}/not_in_german": "S\n\nB" for lang in ("nl", "fr", "en")})
    files["nl/dutch_only"] = "S\n\nB"
    folder = _template_folder(tmp_path, files)

    assert template_keys(folder) == frozenset({"everywhere"})
    assert template_keys(folder, ("nl", "fr", "en")) == frozenset({"everywhere", "not_in_german"})


@pytest.mark.parametrize(
    ("language", "words"),
    [("nl", ["juni", "09:00"]), ("fr", ["juin", "09:00"]), ("de", ["Juni", "09:00"])],
)
def test_dates_are_formatted_for_the_language_in_brussels_time(
    tmp_path: Path, language: str, words: list[str]
) -> None:
    source = "Subject\n\nOn {{ at|datetime }}, due {{ due|date }}."
    folder = _template_folder(tmp_path, {f"{lang}/dated": source for lang in LANGUAGES})
    rendered = MailRenderer(folder, zone=BRUSSELS).render("dated", language, _context(due=DUE))
    for word in words:
        assert word in rendered.text
    assert "13" in rendered.text.split("due", 1)[1], "the due date is the Brussels date"


# -- building the message -------------------------------------------------------------------


def _mail(**overrides: Any) -> OutgoingMail:
    values: dict[str, Any] = {
        "message_id": "<ats.1.1.rejected@ats.example>",
        "sender": "Recruitment asylum and migration <no-reply@ats.example>",
        "to_name": "Eve Example",
        "to_address": "eve@example.org",
        "subject": "Your application",
        "text": "Dear Eve,\n\nText.\n",
        "html": "<p>Dear Eve,</p>",
        "sent_at": AT,
        **overrides,
    }
    return OutgoingMail(**values)


def _strict(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.strict)
    for part in parsed.walk():
        assert part.defects == []
        for name, value in part.items():
            assert not value.defects, (name, value.defects)
    return parsed


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_cr_lf_in_a_name_or_subject_cannot_add_a_header(newline: str) -> None:
    mail = _mail(
        to_name=f"Eve Example{newline}Bcc: evil@example.org",
        subject=f"Your application{newline}Bcc: evil@example.org{newline}Subject: pwned",
    )
    parsed = _strict(build_message(mail).as_bytes(policy=POLICY))

    assert {name.lower() for name in parsed} == HEADERS
    assert parsed.get_all("Bcc") is None
    assert len(parsed.get_all("Subject") or []) == 1
    assert parsed["Subject"] == "Your application Bcc: evil@example.org Subject: pwned"
    (address,) = parsed["To"].addresses
    assert (address.display_name, address.addr_spec) == (
        "Eve Example Bcc: evil@example.org",
        "eve@example.org",
    )
    assert parsed["Message-ID"] == mail.message_id
    assert parsed.get_content_type() == "multipart/alternative"


def test_a_long_non_ascii_subject_and_name_are_folded_and_read_back_intact() -> None:
    subject = "Sollicitatie – " + "Veiligheidsbegeleider bij de Dienst Vreemdelingenzaken " * 4
    name = "Zoë Müller-Lüdenscheidt " * 3
    parsed = _strict(build_message(_mail(subject=subject, to_name=name)).as_bytes(policy=POLICY))

    assert parsed["Subject"] == " ".join(subject.split())
    assert parsed["To"].addresses[0].addr_spec == "eve@example.org"
    # Read the folded To back per RFC 2047 (whitespace between adjacent encoded words is
    # dropped); CPython 3.11's address parser keeps a space there, so it is not the judge.
    raw_to = dict(parsed.raw_items())["To"]
    assert str(make_header(decode_header(raw_to))) == f"{' '.join(name.split())} <eve@example.org>"
    assert {name.lower() for name in parsed} == HEADERS
