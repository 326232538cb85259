"""The staff web interface: server-rendered pages beside the API, in one FastAPI app.

Plain HTML forms and links, no JavaScript needed: every action is a POST of a
form carrying the session's CSRF token, answered by a redirect (or by a page
saying what went wrong). The same service functions as the API's do the work,
with the same per-object checks: a recruiter of one service gets "not found"
for another's candidacy, and the attempt is audited.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from ats.api.downloads import audit_export_response
from ats.domain.candidacy import decide, parse_facts
from ats.errors import (
    ATSError,
    ConflictError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    TransitionRefused,
    Unauthenticated,
)
from ats.service import careers, pipeline, queries
from ats.service.app import App
from ats.service.audit import record_refusal, verify
from ats.service.audit_reports import AuditFilters
from ats.service.audit_reports import entries as audit_entries
from ats.service.commands import FireTrigger
from ats.service.duplicates import duplicates
from ats.service.outbox import messages as outbox_messages
from ats.service.sessions import UI_LANGUAGES, WebSession, session, set_language, sign_in, sign_out
from ats.service.users import dummy_password_hash
from ats.web.translations import translator

COOKIE = "ats_session"
LOGIN_COOKIE = "ats_login"  # binds the sign-in form to this browser (login CSRF)
MAX_FORM = 64 * 1024
AUDIT_ROLES = ("auditor", "taskforce", "admin")
AUDIT_FILTERS = ("candidacy", "vacancy", "actor", "trigger", "state", "since", "until")
# Every page: never cached (they show personal data), never framed, scripts and styles only ours.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


async def _form_body(request: Request) -> bytes:
    """The raw body of a form POST, refused past MAX_FORM without reading the rest."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            raise InvalidInput(f"the form is larger than {MAX_FORM // 1024} KB")
        chunks.append(chunk)
    return b"".join(chunks)


# Routes are plain functions (run in a thread pool: argon2 and the database block);
# only reading the body is async.
FormBody = Annotated[bytes, Depends(_form_body)]


@dataclass(frozen=True)
class Kit:
    """What the pages of other modules share with these: rendering, sign-in, forms, refusals."""

    render: Callable[..., HTMLResponse]
    current: Callable[[Request], WebSession]
    posted: Callable[[Request, bytes, WebSession | None], Form]
    genuine: Callable[[Request, str, WebSession | None], None]
    refuse: Callable[[WebSession, str, str], None]


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page, then back."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class Form:
    """A urlencoded form: repeated fields, and a clear error for a missing one."""

    def __init__(self, fields: Mapping[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def raw(self, name: str) -> str:
        """Exactly as typed (passwords: surrounding spaces are part of them)."""
        values = self.fields.get(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise InvalidInput(f"the form has no {name!r}")
        return value


def add_web(api: FastAPI, app: App) -> None:
    """Mount the staff pages and their static files on ``api``."""
    secure = app.settings.public_url.startswith("https://")
    cookie_name = f"__Host-{COOKIE}" if secure else COOKIE
    login_cookie = f"__Host-{LOGIN_COOKIE}" if secure else LOGIN_COOKIE
    templates = Environment(
        loader=PackageLoader("ats.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.globals["_"] = _gettext
    templates.filters["day"] = lambda value, language: _day(value, language, app.settings.zone)
    templates.filters["action"] = lambda trigger: str(trigger).replace("_", " ")
    dummy_password_hash()  # now, not on the first sign-in with an unknown name (timing)
    static = Path(__file__).parent / "static"
    api.mount("/static", StaticFiles(directory=static), name="static")

    # -- plumbing --------------------------------------------------------------------------

    def render(
        request: Request,
        name: str,
        *,
        web: WebSession | None,
        status: int = 200,
        language: str | None = None,
        **values: Any,
    ) -> HTMLResponse:
        html = templates.get_template(name).render(
            web=web,
            language=language or (web.language if web else _language(request)),
            path=request.url.path,
            is_auditor=bool(web and web.principal.has(*AUDIT_ROLES)),
            can_sessions=bool(web and web.principal.has("selection_officer", "admin", "taskforce")),
            can_dashboard=bool(web and web.principal.has("taskforce", "admin")),
            can_approve=bool(web and web.principal.has("approver", "admin")),
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def current(request: Request) -> WebSession:
        token = request.cookies.get(cookie_name)
        if token:
            try:
                return session(app, token)
            except Unauthenticated:
                pass
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        else:  # a form sent after the session ended: return to the page it came from
            target = _back(request)
        raise SignInRequired(target)

    def posted(request: Request, body: bytes, web: WebSession | None) -> Form:
        """The form of a POST, after checking it came from our page (origin and CSRF token)."""
        form = Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        genuine(request, form.get("csrf"), web)
        return form

    def genuine(request: Request, token: str, web: WebSession | None) -> None:
        """Refuse a form sent from another site or without this session's token."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            raise Forbidden("this form was sent from another site")
        expected = web.csrf if web else request.cookies.get(login_cookie, "")
        if not expected or not hmac.compare_digest(token, expected):
            raise Forbidden("the form has expired or did not come from this site; reload the page")

    def refuse(web: WebSession, subject: str, reason: str) -> None:
        """Record that a signed-in user reached for something beyond their roles or services."""
        record_refusal(
            app,
            actor=web.principal.actor,
            roles=web.principal.roles,
            subject=subject,
            reason=reason,
            via="web",
        )

    def candidacy_of(web: WebSession, candidacy_id: int) -> dict[str, Any]:
        """The candidacy if the user may see it; otherwise 404, and the attempt audited."""
        detail = queries.candidacy(app, candidacy_id)
        service = queries.vacancy(app, detail["vacancy"])["service"]
        if not web.principal.can_see(service):
            refuse(web, f"candidacy:{candidacy_id}", "out of the user's services")
            raise NotFound(f"no candidacy {candidacy_id}")
        return {**detail, "service": service}

    @api.exception_handler(SignInRequired)
    def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': exc.target})}", status_code=303)

    def error_page(request: Request, exc: ATSError, status: int | None = None) -> HTMLResponse:
        web = None
        token = request.cookies.get(cookie_name)
        if token:
            try:
                web = session(app, token)
            except ATSError:
                web = None
        code = status or exc.http_status
        response = render(
            request, "error.html", web=web, status=code, code=code, error=exc, back=_back(request)
        )
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    api.state.web_error_page = error_page
    from ats.web.dashboard import add_dashboard
    from ats.web.selection_pages import add_selection_pages

    kit = Kit(render=render, current=current, posted=posted, genuine=genuine, refuse=refuse)
    add_selection_pages(api, app, kit)
    add_dashboard(api, app, kit)
    from ats.web.interview_pages import add_interview_pages

    add_interview_pages(api, app, kit)
    from ats.web.careers import add_careers

    add_careers(api, app)  # after web_error_page is set: it handles /jobs errors itself

    # -- sign-in ---------------------------------------------------------------------------

    @api.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        current(request)
        return RedirectResponse("/vacancies", status_code=303)

    @api.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/vacancies") -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            web=None,
            csrf=token,
            next=_local(next),
            username="",
            error=None,
        )
        response.set_cookie(
            login_cookie,
            token,
            httponly=True,
            samesite="strict",
            secure=secure,
            max_age=3600,
            path="/",
        )
        return response

    @api.post("/login", include_in_schema=False)
    def login(request: Request, body: FormBody) -> Response:
        form = posted(request, body, None)
        username, target = form.get("username"), _local(form.get("next", "/vacancies"))
        address = request.client.host if request.client else "unknown"
        try:
            token, _signed_in = sign_in(app, username, form.raw("password"), address=address)
        except (Unauthenticated, TooManyAttempts) as exc:
            failed: Response = render(
                request,
                "login.html",
                web=None,
                status=exc.http_status,
                csrf=form.get("csrf"),
                next=target,
                username=username,
                error=exc,
            )
            if isinstance(exc, TooManyAttempts):
                failed.headers["Retry-After"] = str(exc.retry_after)
            return failed
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            cookie_name, token, httponly=True, samesite="lax", secure=secure, path="/"
        )
        response.delete_cookie(login_cookie, path="/", secure=secure, httponly=True)
        return response

    @api.post("/logout", include_in_schema=False)
    def logout(request: Request, body: FormBody) -> Response:
        web = current(request)
        posted(request, body, web)
        sign_out(app, request.cookies.get(cookie_name, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(cookie_name, path="/", secure=secure, httponly=True)
        return response

    @api.post("/preferences/language", include_in_schema=False)
    def language(request: Request, body: FormBody) -> Response:
        web = current(request)
        form = posted(request, body, web)
        set_language(app, web.principal.user_id, form.get("language"))
        return RedirectResponse(_local(form.get("next", "/vacancies")), status_code=303)

    # -- vacancies and the board ----------------------------------------------------------

    @api.get("/vacancies", include_in_schema=False)
    def vacancy_list(request: Request) -> HTMLResponse:
        web = current(request)
        rows = [
            v for v in queries.vacancies(app, web.language) if web.principal.can_see(v["service"])
        ]
        return render(request, "vacancies.html", web=web, vacancies=rows)

    @api.get("/vacancies/{code}", include_in_schema=False)
    def vacancy_board(request: Request, code: str, moved: str | None = None) -> HTMLResponse:
        web = current(request)
        try:
            data = pipeline.board(app, code, web.principal, language=web.language)
        except NotFound:
            refuse(web, f"vacancy:{code}", "out of the user's services or unknown")
            raise
        notice = _moved_notice(web, pipeline.number(moved))
        return render(request, "board.html", web=web, board=data, notice=notice)

    @api.post("/vacancies/{code}/bulk", include_in_schema=False)
    def vacancy_bulk(request: Request, code: str, body: FormBody) -> HTMLResponse:
        web = current(request)
        form = posted(request, body, web)
        try:
            data = pipeline.board(app, code, web.principal, language=web.language)
        except NotFound:
            refuse(web, f"vacancy:{code}", "out of the user's services or unknown")
            raise
        items = pipeline.parse_bulk_items(form.all("select"))
        trigger = form.required("bulk_trigger")
        role = web.principal.acting_as(form.get("bulk_role") or _only(data["roles"]))
        reason = form.get("bulk_reason") or None
        common: dict[str, Any] = {
            "board": data,
            "trigger": trigger,
            "role": role,
            "reason": reason or "",
        }
        if form.get("step") != "confirm":
            reviewed = pipeline.review_bulk(
                app,
                web.principal,
                items,
                trigger=trigger,
                role=role,
                reason=reason,
                language=web.language,
                vacancy=code,
            )
            return render(request, "bulk_review.html", web=web, reviewed=reviewed, **common)
        results = pipeline.fire_bulk(
            app, web.principal, items, trigger=trigger, role=role, reason=reason, vacancy=code
        )
        return render(request, "bulk_result.html", web=web, results=results, **common)

    # -- one candidacy ---------------------------------------------------------------------

    @api.get("/candidacies/{candidacy_id}", include_in_schema=False)
    def candidacy_page(
        request: Request, candidacy_id: str, moved: str | None = None
    ) -> HTMLResponse:
        web = current(request)
        return candidacy_view(
            request,
            web,
            _candidacy_id(candidacy_id),
            notice=_moved_notice(web, pipeline.number(moved)),
        )

    def candidacy_view(
        request: Request,
        web: WebSession,
        candidacy_id: int,
        *,
        notice: str | None = None,
        error: ATSError | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        detail = candidacy_of(web, candidacy_id)
        with app.unit_of_work() as uow:
            found = uow.candidacies.get(candidacy_id)
            assert found is not None  # noqa: S101 - read just above
            definition = app.registry.definition(uow, found[0].workflow_version_id)

        def shown(name: str, value: object) -> object:
            """A fact as people read it: datetimes in Brussels time, booleans as yes/no."""
            spec = definition.facts.get(name)
            if spec is not None and spec.type == "datetime" and isinstance(value, str):
                moment = datetime.fromisoformat(value).astimezone(app.settings.zone)
                return moment.strftime("%Y-%m-%d %H:%M")
            if isinstance(value, bool):
                return _gettext_in(web.language, "yes" if value else "no")
            return value

        roles = [
            r
            for r in pipeline.workflow_roles(web.principal)
            if web.principal.can_act_on(detail["service"], r)
        ]
        allowed, blocked = [], []
        for spec in definition.transitions:
            if detail["state"] not in spec.sources:
                continue
            to_label = _state_label(definition, spec.dest, web.language)
            mine = [r for r in roles if r in spec.roles]
            interview = definition.interview
            if interview and spec.trigger in (interview.passed, interview.failed):
                why = _gettext_in(
                    web.language, "the chair records the panel's decision on the interview page"
                )
                blocked.append({"trigger": spec.trigger, "to_label": to_label, "why_not": [why]})
                continue
            if not mine:
                why = (
                    _gettext_in(web.language, "happens by itself when the deadline passes")
                    if spec.roles == {"system"}
                    else _gettext_in(web.language, "only {roles} may do this").format(
                        roles=", ".join(sorted(spec.roles))
                    )
                )
                blocked.append({"trigger": spec.trigger, "to_label": to_label, "why_not": [why]})
                continue
            verdict = decide(
                definition,
                detail["state"],
                detail["facts"],
                spec.trigger,
                mine[0],
                check_reason=False,
            )
            allowed.append(
                {
                    "trigger": spec.trigger,
                    "role": mine[0],
                    "to_label": to_label,
                    "allowed": verdict.allowed,
                    "why_not": list(verdict.reasons),  # facts or a reason the form can supply
                    "needs_reason": spec.reason_required,
                    "fields": [
                        _field(
                            definition.facts[name], detail["facts"], web.language, app.settings.zone
                        )
                        for name in pipeline.fact_fields(spec)
                    ],
                }
            )
        return render(
            request,
            "candidacy.html",
            web=web,
            status=status,
            c=detail,
            state_label=_state_label(definition, detail["state"], web.language),
            facts=[
                {
                    "name": name,
                    "label": spec.label.get(web.language) or spec.label.get("en") or name,
                    "value": shown(name, detail["facts"][name]),
                }
                for name, spec in definition.facts.items()
                if name in detail["facts"]
            ],
            timeline=[
                {**e, "facts": {k: shown(k, v) for k, v in e["facts"].items()}}
                for e in queries.history(app, candidacy_id)
            ],
            timers=pipeline.pending_timers(app, candidacy_id),
            emails=outbox_messages(app, candidacy=candidacy_id, limit=100),
            allowed=allowed,
            blocked=blocked,
            labels={n: _state_label(definition, n, web.language) for n in definition.states},
            duplicates=possible_duplicates(web, candidacy_id),
            documents=careers.documents(app, candidacy_id),
            has_interview=definition.interview is not None,
            notice=notice,
            error=error,
        )

    @api.get("/candidacies/{candidacy}/documents/{document}", include_in_schema=False)
    def candidacy_document(request: Request, candidacy: str, document: str) -> Response:
        """A file the candidate sent (their CV), for staff who may see the candidacy."""
        web = current(request)
        candidacy_id = _candidacy_id(candidacy)
        candidacy_of(web, candidacy_id)
        found, path = careers.document_file(app, candidacy_id, pipeline.number(document) or 0)
        return FileResponse(
            path,
            media_type=found["media_type"],
            filename=found["filename"],
            headers={**HEADERS, "Content-Security-Policy": "default-src 'none'; sandbox"},
        )

    def possible_duplicates(web: WebSession, candidacy_id: int) -> list[dict[str, Any]]:
        """Records that may be this candidate too; their candidacies as far as the user sees."""
        found = []
        for link in duplicates(app, candidacy=candidacy_id):
            mine = [c for c in link["candidacies"] if web.principal.can_see(c["service"])]
            hidden = len(mine) < len(link["candidacies"])
            found.append({**link, "candidacies": mine, "hidden": hidden})
        return found

    @api.post("/candidacies/{candidacy}/fire", include_in_schema=False)
    def candidacy_fire(request: Request, candidacy: str, body: FormBody) -> Response:
        web = current(request)
        form = posted(request, body, web)
        candidacy_id = _candidacy_id(candidacy)
        trigger, role, version = _action(form.required("action"))
        detail = candidacy_of(web, candidacy_id)
        try:
            web.principal.acting_as(role)
        except Forbidden as exc:
            refuse(web, f"candidacy:{candidacy_id}", exc.message)
            raise
        if not web.principal.can_act_on(detail["service"], role):
            refuse(web, f"candidacy:{candidacy_id}", f"may not act as {role} here")
            raise NotFound(f"no candidacy {candidacy_id}")
        raw_facts = {
            name.removeprefix("fact."): value[0]
            for name, value in form.fields.items()
            if name.startswith("fact.") and value and value[0].strip()
        }
        try:
            with app.unit_of_work() as uow:
                found = uow.candidacies.get(candidacy_id)
                assert found is not None  # noqa: S101 - read just above
                definition = app.registry.definition(uow, found[0].workflow_version_id)
            app.handle(
                FireTrigger(
                    candidacy_id=candidacy_id,
                    trigger=trigger,
                    actor=web.principal.actor,
                    role=role,
                    reason=form.get("reason") or None,
                    facts=dict(parse_facts(definition, raw_facts)),
                    expected_version=version,
                )
            )
        except (TransitionRefused, InvalidInput, Forbidden, ConflictError) as exc:
            return candidacy_view(request, web, candidacy_id, error=exc, status=exc.http_status)
        back = form.get("back")
        if back.startswith("/vacancies/"):
            return RedirectResponse(
                f"{_local(back)}?moved={candidacy_id}#c{candidacy_id}", status_code=303
            )
        return RedirectResponse(
            f"/candidacies/{candidacy_id}?moved={candidacy_id}", status_code=303
        )

    def _moved_notice(web: WebSession, moved: int | None) -> str | None:
        """Say where a just-moved candidacy is now: read from the database, never from the URL."""
        if moved is None:
            return None
        try:
            detail = candidacy_of(web, moved)
        except NotFound:
            return None
        return _gettext_in(web.language, "{name} is now in “{state}”.").format(
            name=detail["candidate"]["name"], state=_any_label(detail, web.language)
        )

    def _any_label(detail: dict[str, Any], language: str) -> str:
        with app.unit_of_work() as uow:
            found = uow.candidacies.get(detail["id"])
            assert found is not None  # noqa: S101 - read just above
            definition = app.registry.definition(uow, found[0].workflow_version_id)
        return _state_label(definition, detail["state"], language)

    # -- search ----------------------------------------------------------------------------

    @api.get("/search", include_in_schema=False)
    def search(
        request: Request, q: str = "", vacancy: str = "", state: str = "", page: int = 1
    ) -> HTMLResponse:
        web = current(request)
        q, vacancy, state = q[:100], vacancy[:32], state[:64]
        found = (
            pipeline.search(
                app,
                web.principal,
                q=q,
                vacancy=vacancy or None,
                state=state or None,
                page=max(1, min(page, 100_000)),
            )
            if q.strip() or vacancy or state
            else None
        )
        return render(
            request, "search.html", web=web, q=q, vacancy=vacancy, state=state, found=found
        )

    # -- auditors --------------------------------------------------------------------------

    def auditor(request: Request) -> WebSession:
        web = current(request)
        if not web.principal.has(*AUDIT_ROLES):
            refuse(web, "web:audit", "needs auditor, taskforce or admin")
            raise Forbidden("the audit pages are for auditors, the taskforce and admins")
        return web

    def audit_filters(given: Mapping[str, str]) -> tuple[AuditFilters, dict[str, str]]:
        chosen = {k: (given.get(k) or "").strip()[:64] for k in AUDIT_FILTERS}
        candidacy = pipeline.number(chosen["candidacy"])
        if chosen["candidacy"] and candidacy is None:
            raise InvalidInput(f"candidacy: expected a number, got {chosen['candidacy']!r}")
        filters = AuditFilters.parse(
            candidacy=candidacy,
            **{k: v or None for k, v in chosen.items() if k != "candidacy"},
        )
        return filters, chosen

    @api.get("/audit", include_in_schema=False)
    def audit_page(request: Request) -> HTMLResponse:
        web = auditor(request)
        filters, chosen = audit_filters(request.query_params)
        rows = audit_entries(app, filters, limit=501)
        return render(
            request,
            "audit.html",
            web=web,
            chosen=chosen,
            rows=rows[:500],
            more=len(rows) > 500,
            report=None,
            can_export=web.principal.has("auditor", "admin"),
        )

    @api.post("/audit/verify", include_in_schema=False)
    def audit_verify(request: Request, body: FormBody) -> HTMLResponse:
        web = auditor(request)
        posted(request, body, web)
        report = verify(app)
        return render(
            request,
            "audit.html",
            web=web,
            chosen={},
            rows=[],
            more=False,
            report=report.to_dict(),
            can_export=web.principal.has("auditor", "admin"),
        )

    @api.post("/audit/export", include_in_schema=False)
    def audit_download(request: Request, body: FormBody) -> Response:
        """A download that is itself audited: a POST with the form's token, never a mere link."""
        web = auditor(request)
        form = posted(request, body, web)
        if not web.principal.has("auditor", "admin"):
            refuse(web, "web:audit-export", "needs auditor or admin")
            raise Forbidden("exports are for auditors and admins")
        format = form.get("format", "csv")
        if format not in ("csv", "jsonl"):
            raise InvalidInput(f"format {format[:20]!r}: choose csv or jsonl")
        filters, _ = audit_filters({k: form.get(k) for k in AUDIT_FILTERS})
        return audit_export_response(app, filters, fmt=format, exporter=web.principal.actor)


# -- small pure helpers ------------------------------------------------------------------


@pass_context
def _gettext(context: Context, text: str) -> str:
    return _gettext_in(str(context.get("language", "en")), text)


def _gettext_in(language: str, text: str) -> str:
    return translator(language)(text)


def _day(value: datetime | None, language: str, zone: ZoneInfo) -> str:
    """The Brussels day of a stored (UTC) time, as the language writes it briefly."""
    if value is None:
        return ""
    return format_date(value.astimezone(zone).date(), "medium", locale=f"{language}_BE")


def _language(request: Request) -> str:
    """Before sign-in: the browser's first interface language we speak, else English."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in UI_LANGUAGES:
            return code
    return "en"


def _local(target: str) -> str:
    """Only paths on this site are followed after sign-in (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/vacancies"
    return quote(target, safe="/?=&#%:.-_~+")


def _back(request: Request) -> str:
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.headers.get("host"):
        return "/vacancies"
    return _local(referer.path or "/vacancies")


def _only(roles: list[str]) -> str | None:
    return roles[0] if len(roles) == 1 else None


def _action(value: str) -> tuple[str, str, int | None]:
    """``trigger:role:version`` from an action button."""
    parts = value.split(":")
    version = pipeline.number(parts[2], low=0) if len(parts) == 3 else None
    if len(parts) != 3 or not parts[0] or not parts[1] or (parts[2] and version is None):
        raise InvalidInput(f"action {value[:100]!r}: expected trigger:role:version")
    return parts[0], parts[1], version


def _candidacy_id(text: str) -> int:
    number = pipeline.number(text)
    if number is None:
        raise NotFound(f"no candidacy {text[:20]!r}")
    return number


def _state_label(definition: Any, state: str | None, language: str) -> str:
    spec = definition.states.get(state or "")
    if spec is None:
        return state or ""
    return str(spec.label.get(language) or spec.label.get("en") or state)


def _field(spec: Any, known: Mapping[str, Any], language: str, zone: ZoneInfo) -> dict[str, Any]:
    value = known.get(spec.name)
    if spec.type == "datetime" and isinstance(value, str):  # stored in UTC, typed in Brussels
        value = datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    return {
        "name": spec.name,
        "type": spec.type,
        "label": spec.label.get(language) or spec.label.get("en") or spec.name,
        "choices": list(spec.choices),
        "min": spec.minimum,
        "max": spec.maximum,
        "value": "" if value is None else value,
    }
