"""The public careers site under ``/jobs``: vacancies in four languages, and applying online.

No login and no JavaScript. The language is the first part of every path
(``/jobs/fr/...``), with links to the same page in the others; ``/jobs`` picks
the browser's. The application form is multipart (it carries a CV), protected
by a token bound to a cookie (CSRF), a honeypot field and a limit of posts per
client address; every refusal names its field and creates nothing.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from babel.dates import format_date
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ats.adapters.drive_file import read_hiring_drive
from ats.domain.workflow import LANGUAGES
from ats.errors import (
    ATSError,
    ConfigurationError,
    CooldownActive,
    DuplicateApplication,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from ats.service import careers
from ats.service.app import App
from ats.web.translations import translator

APPLY_COOKIE = "ats_apply"
log = structlog.get_logger()
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "de": "Deutsch", "en": "English"}
FILTERS = ("service", "function", "wave", "place", "status")
# Public pages: no scripts at all; forms only to us; never framed.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PUBLIC_HEADERS = {
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
}
CACHED = {**PUBLIC_HEADERS, "Cache-Control": "public, max-age=300"}
PRIVATE = {**PUBLIC_HEADERS, "Cache-Control": "no-store"}


@dataclass
class Posted:
    """An application post as read: its fields, its file, or why it could not be read."""

    fields: dict[str, str] = field(default_factory=dict)
    cv: careers.Upload | None = None
    too_large: bool = False
    malformed: bool = False


def add_careers(api: FastAPI, app: App) -> None:
    """Mount the public careers site on ``api``."""
    secure = app.settings.public_url.startswith("https://")
    cookie_name = f"__Host-{APPLY_COOKIE}" if secure else APPLY_COOKIE
    base = app.settings.public_url.rstrip("/")
    templates = Environment(
        loader=PackageLoader("ats.web", "templates"),
        autoescape=select_autoescape(("html", "xml")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.globals["_"] = _gettext
    templates.filters["day"] = lambda value, language: (
        format_date(value, "long", locale=f"{language}_BE") if value else ""
    )
    # The CV and the other fields; read by _read_post before the route runs.
    api.state.careers_form_limit = app.settings.cv_max_kb * 1024 + 256 * 1024

    def language_of(lang: str) -> str:
        if lang not in LANGUAGES:
            raise NotFound(f"no page in language {lang[:10]!r} (choose {', '.join(LANGUAGES)})")
        return lang

    def render(
        request: Request,
        name: str,
        *,
        language: str,
        status: int = 200,
        headers: Mapping[str, str] = CACHED,
        **values: Any,
    ) -> HTMLResponse:
        path = request.url.path
        rest = path.split("/", 3)[3] if path.count("/") >= 3 else ""
        # The same page in each language; a list keeps its filters (a form post's page does not).
        query = f"?{request.url.query}" if request.url.query and request.method == "GET" else ""
        switch = [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "href": f"/jobs/{code}" + (f"/{rest}" if rest else "") + query,
            }
            for code in LANGUAGES
        ]
        html = templates.get_template(name).render(
            language=language,
            switch=switch,
            drive_title=_drive_title(language),
            base=base,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=dict(headers))

    drive = app.settings.hiring_drive_file
    try:  # only the site's title; the catalogue itself is what `ats init` loaded
        titles = read_hiring_drive(drive).title if drive.exists() else {}
    except ConfigurationError as exc:
        log.warning("careers.drive_unreadable", problem=str(exc).splitlines()[0])
        titles = {}

    def _drive_title(language: str) -> str:
        return titles.get(language) or titles.get("en") or "ATS"

    def error_page(request: Request, exc: ATSError, status: int | None = None) -> HTMLResponse:
        parts = request.url.path.split("/")
        language = parts[2] if len(parts) > 2 and parts[2] in LANGUAGES else "en"
        code = status or exc.http_status
        response = render(
            request,
            "careers_error.html",
            language=language,
            status=code,
            headers=PRIVATE,
            code=code,
            message=_message(exc, language),
        )
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    staff_error_page = api.state.web_error_page

    def any_error_page(request: Request, exc: ATSError, status: int | None = None) -> Response:
        path = request.url.path
        if path == "/jobs" or path.startswith("/jobs/"):
            return error_page(request, exc, status)
        return staff_error_page(request, exc, status)  # type: ignore[no-any-return]

    api.state.web_error_page = any_error_page

    # -- pages -------------------------------------------------------------------------------

    @api.get("/jobs", include_in_schema=False)
    def jobs(request: Request) -> Response:
        return RedirectResponse(f"/jobs/{_preferred(request)}", status_code=303)

    @api.get("/jobs/{lang}", include_in_schema=False)
    def vacancy_list(request: Request, lang: str) -> HTMLResponse:
        language = language_of(lang)
        chosen = {k: request.query_params.get(k, "")[:64] for k in FILTERS}
        rows, options = careers.filtered(careers.vacancies(app, language), chosen)
        return render(
            request,
            "careers_list.html",
            language=language,
            vacancies=rows,
            options=options,
            chosen=chosen,
            filtered=any(chosen.values()),
        )

    @api.get("/jobs/{lang}/feed.atom", include_in_schema=False)
    def feed(request: Request, lang: str) -> Response:
        language = language_of(lang)
        rows = sorted(careers.vacancies(app, language), key=lambda v: v["opens_on"], reverse=True)
        xml = templates.get_template("careers_feed.xml").render(
            language=language,
            base=base,
            title=_drive_title(language),
            vacancies=rows[:50],
            updated=max((v["opens_on"] for v in rows), default=careers.today(app)),
        )
        return Response(xml, media_type="application/atom+xml", headers=CACHED)

    @api.get("/jobs/{lang}/privacy", include_in_schema=False)
    def privacy(request: Request, lang: str) -> HTMLResponse:
        language = language_of(lang)
        return render(request, "careers_privacy.html", language=language, **privacy_values())

    @api.get("/jobs/{lang}/{code}", include_in_schema=False)
    def vacancy_page(request: Request, lang: str, code: str) -> HTMLResponse:
        language = language_of(lang)
        v = careers.vacancy(app, code, language)
        url = f"{base}/jobs/{language}/{v['code']}"
        posting = careers.job_posting(v, url=url, language=language, zone=app.settings.zone)
        return render(
            request,
            "careers_vacancy.html",
            language=language,
            v=v,
            json_ld=_json_script(posting),
        )

    def form_page(
        request: Request,
        language: str,
        v: dict[str, Any],
        *,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
        token: str | None = None,
    ) -> HTMLResponse:
        token = token or request.cookies.get(cookie_name) or secrets.token_urlsafe(32)
        response = render(
            request,
            "careers_apply.html",
            language=language,
            headers=PRIVATE,
            status=status,
            v=v,
            csrf=token,
            values=values or {"language": language},
            errors=errors or {},
            fields=[careers.fact_field(spec, language) for spec in v["asks"]],
            cv_limit=careers.size_text(app.settings.cv_max_kb * 1024),
            **privacy_values(),
        )
        response.set_cookie(
            cookie_name, token, httponly=True, samesite="strict", secure=secure, path="/"
        )
        return response

    def privacy_values() -> dict[str, Any]:
        s = app.settings
        return {
            "retention": {
                "rejected": s.retention_rejected_months,
                "withdrawn": s.retention_withdrawn_months,
                "hired": s.retention_hired_months,
            },
            "contact": s.privacy_contact,
        }

    @api.get("/jobs/{lang}/{code}/apply", include_in_schema=False)
    def apply_form(request: Request, lang: str, code: str) -> HTMLResponse:
        language = language_of(lang)
        v = careers.vacancy(app, code, language)
        if not v["open"]:
            return render(request, "careers_vacancy.html", language=language, v=v, json_ld="")
        return form_page(request, language, v)

    @api.post("/jobs/{lang}/{code}/apply", include_in_schema=False)
    def apply_post(request: Request, lang: str, code: str, posted: PostedForm) -> Response:
        language = language_of(lang)
        address = request.client.host if request.client else "unknown"
        careers.count_post(app, "apply", address)  # every post counts, good or bad
        v = careers.vacancy(app, code, language)
        if posted.too_large:
            limit = careers.size_text(app.settings.cv_max_kb * 1024)
            message = _gettext_in(language, careers.MESSAGES["cv_size"]).format(size=limit)
            return form_page(request, language, v, errors={"cv": message}, status=413)
        if posted.malformed:
            raise InvalidInput("the form could not be read; reload the page and send it again")
        _check_origin(request)
        token = request.cookies.get(cookie_name, "")
        if not token or not hmac.compare_digest(posted.fields.get("csrf", ""), token):
            raise Forbidden("the form has expired or did not come from this site; reload the page")
        if posted.fields.get("website"):  # the honeypot: hidden from people, filled by bots
            raise InvalidInput("the form could not be accepted")
        values = {k: v for k, v in posted.fields.items() if k not in ("csrf", "website")}
        try:
            careers.apply_online(app, code, language, posted.fields, posted.cv)
        except careers.FormErrors as exc:
            errors = {
                name: _gettext_in(language, careers.MESSAGES[key]).format(**params)
                for name, (key, params) in exc.fields.items()
            }
            if exc.fields.get("email", ("",))[0] == "email_hint":
                values["email_checked"] = values.get("email", "").strip()
            # A CV over the limit is 413 however much over; other mistakes are 422.
            status = 413 if exc.fields.get("cv", ("",))[0] == "cv_size" else 422
            return form_page(
                request, language, v, values=values, errors=errors, status=status, token=token
            )
        except (DuplicateApplication, CooldownActive, careers.VacancyClosed) as exc:
            return render(
                request,
                "careers_refused.html",
                language=language,
                headers=PRIVATE,
                status=exc.http_status,
                v=v,
                kind=type(exc).__name__,
                message=_message(exc, language),
            )
        # The token cookie stays: a form opened in another tab can still be sent.
        return RedirectResponse(f"/jobs/{language}/{v['code']}/thanks", status_code=303)

    @api.get("/jobs/{lang}/{code}/thanks", include_in_schema=False)
    def thanks(request: Request, lang: str, code: str) -> HTMLResponse:
        language = language_of(lang)
        v = careers.vacancy(app, code, language)
        return render(
            request,
            "careers_thanks.html",
            language=language,
            headers=PRIVATE,
            v=v,
            answer_by=careers.answer_by(app, v),
        )

    @api.get("/sitemap.xml", include_in_schema=False)
    def sitemap() -> Response:
        codes = [v["code"] for v in careers.vacancies(app, "en")]
        paths = ["", *(f"/{code}" for code in codes)]
        xml = templates.get_template("careers_sitemap.xml").render(
            base=base, paths=paths, languages=LANGUAGES
        )
        return Response(xml, media_type="application/xml", headers=CACHED)

    @api.get("/robots.txt", include_in_schema=False)
    def robots() -> Response:
        text = (
            "User-agent: *\nAllow: /jobs\nAllow: /static/careers.css\nDisallow: /\n"
            f"Sitemap: {base}/sitemap.xml\n"
        )
        return Response(text, media_type="text/plain", headers=CACHED)


# -- helpers -------------------------------------------------------------------------------


async def _read_post(request: Request) -> Posted:
    """The multipart form, read up to the limit; past it, only that it was too large."""
    form_limit = int(request.app.state.careers_form_limit)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > form_limit:
        return Posted(too_large=True)
    body, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > form_limit:
            return Posted(too_large=True)
        body.append(chunk)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return Posted(malformed=True)

    async def replay() -> AsyncGenerator[bytes, None]:
        yield b"".join(body)

    try:
        form = await MultiPartParser(
            request.headers, replay(), max_files=1, max_fields=40, max_part_size=64 * 1024
        ).parse()
    except MultiPartException:
        return Posted(malformed=True)
    posted = Posted()
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            await value.close()
            if name == "cv" and data:
                posted.cv = careers.Upload(value.filename or "cv", data)
        elif name not in posted.fields:
            posted.fields[name] = value
    return posted


# A module-level alias: FastAPI resolves the dependency from the annotation's globals.
PostedForm = Annotated[Posted, Depends(_read_post)]


@pass_context
def _gettext(context: Context, text: str) -> str:
    return _gettext_in(str(context.get("language", "en")), text)


def _gettext_in(language: str, text: str) -> str:
    return translator(language, "careers.toml")(text)


# What a refusal says to an applicant, in English; translated in ats/web/careers.toml.
REFUSALS = {
    "DuplicateApplication": "You have already applied for this vacancy. The confirmation "
    "email we sent you has a link to follow your application.",
    "VacancyClosed": "This vacancy is closed: it no longer takes applications.",
    "CooldownActive": "You took part in this Selor selection test recently without "
    "passing it; you can apply again once the waiting period has passed.",
    "TooManyAttempts": "Too many forms were sent from your connection. Please try again later.",
    "Forbidden": "The form has expired. Reload the page and send it again.",
    "NotFound": "This page does not exist (any more).",
    "InvalidInput": "The form could not be accepted.",
}


def _message(exc: ATSError, language: str) -> str:
    """What a refusal says to an applicant, in their language."""
    kind = next((k.__name__ for k in type(exc).__mro__ if k.__name__ in REFUSALS), "InvalidInput")
    return _gettext_in(language, REFUSALS[kind])


def _preferred(request: Request) -> str:
    """The browser's first language among ours (Accept-Language order), else Dutch."""
    weighted = []
    for index, part in enumerate(request.headers.get("accept-language", "").split(",")):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, code.strip()[:2].lower()))
    for _q, _i, code in sorted(weighted):
        if code in LANGUAGES:
            return code
    return "nl"


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("this form was sent from another site")


def _json_script(data: Mapping[str, Any]) -> Markup:
    """JSON for a <script type="application/ld+json">: no way to close the element early."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a script element
