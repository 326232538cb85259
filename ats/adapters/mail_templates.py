"""Candidate mail from templates: a subject, plain text and HTML, in the candidate's language.

``notifications/<language>/<key>.txt`` holds the subject (first line) and the
text body; ``notifications/layout.txt`` and ``layout.html`` wrap every body.
Text and HTML have separate Jinja2 environments: HTML autoescapes, so a
reason or a name can never become markup; both are strict about undefined
names, so a typo in a template fails loudly instead of sending a blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, pass_context
from jinja2.runtime import Context

LANGUAGES = ("nl", "fr", "de", "en")


class TemplateMissing(LookupError):
    """No file for this template key in any of the languages tried."""


@dataclass(frozen=True)
class RenderedMail:
    language: str
    subject: str
    text: str
    html: str


def template_keys(notifications_dir: Path, languages: Sequence[str] = LANGUAGES) -> frozenset[str]:
    """Keys with a template in every language: the ones a workflow may name."""
    per_language = [
        {p.stem for p in (notifications_dir / lang).glob("*.txt")} for lang in languages
    ]
    return frozenset(set.intersection(*per_language)) if per_language else frozenset()


class MailRenderer:
    def __init__(
        self,
        notifications_dir: Path,
        *,
        zone: ZoneInfo,
        fallback: Sequence[str] = ("nl", "fr", "en"),
    ) -> None:
        self.zone = zone
        self.fallback = tuple(fallback)
        loader = FileSystemLoader(notifications_dir)
        self._text = Environment(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text: escaping would corrupt it; HTML escapes
            keep_trailing_newline=False,
        )
        self._html = Environment(loader=loader, undefined=StrictUndefined, autoescape=True)
        for environment in (self._text, self._html):
            environment.filters["datetime"] = self._format_datetime
            environment.filters["date"] = self._format_date

    def languages_for(self, preferred: str) -> list[str]:
        """The candidate's language first, then the configured fallbacks, without repeats."""
        return list(dict.fromkeys([preferred, *self.fallback]))

    def render(self, key: str, language: str, context: Mapping[str, Any]) -> RenderedMail:
        """Subject, text and HTML of ``key``, in ``language`` or the first fallback that has it."""
        for candidate_language in self.languages_for(language):
            try:
                template = self._text.get_template(f"{candidate_language}/{key}.txt")
            except TemplateNotFound:
                continue
            names = {**context, "language": candidate_language}
            rendered = template.render(names)
            subject, _, body = rendered.partition("\n")
            subject = " ".join(subject.split())  # one line, whatever the data held
            body = body.strip("\n")
            text = self._text.get_template("layout.txt").render({**names, "body": body})
            paragraphs = [block.splitlines() for block in body.split("\n\n") if block.strip()]
            html = self._html.get_template("layout.html").render(
                {**names, "subject": subject, "paragraphs": paragraphs}
            )
            return RenderedMail(candidate_language, subject, text.rstrip("\n") + "\n", html)
        raise TemplateMissing(f"no template {key!r} in {', '.join(self.languages_for(language))}")

    def format_day(self, value: datetime, language: str) -> str:
        """A day as the language writes it in full, in Brussels time (for pages, not mail)."""
        return format_date(value.astimezone(self.zone).date(), "full", locale=f"{language}_BE")

    @pass_context
    def _format_datetime(
        self, context: Context, value: datetime, fmt: Literal["long", "medium"] = "medium"
    ) -> str:
        """The full date and the hour and minute, as the language writes them, in Brussels time."""
        locale = _locale(context)
        local = value.astimezone(self.zone)
        pattern = str(get_datetime_format(fmt, locale=locale))
        day = format_date(local.date(), "full", locale=locale)
        return pattern.replace("{1}", day).replace(
            "{0}", format_time(local, "short", locale=locale)
        )

    @pass_context
    def _format_date(self, context: Context, value: datetime, fmt: str = "long") -> str:
        return format_date(value.astimezone(self.zone).date(), fmt, locale=_locale(context))


def _locale(context: Context) -> str:
    """Belgian conventions for each language: nl_BE, fr_BE, de_BE, en_BE."""
    return f"{context.get('language', 'nl')}_BE"
