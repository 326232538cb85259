"""`/api/v1`: vacancies, candidacies, transitions and history, behind bearer tokens.

Errors are RFC 9457 problem details (``application/problem+json``). Every check
is made here on the server, per object: a recruiter asking for a candidacy of a
service they do not work for gets 404, and the attempt is audited.
"""

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import escape
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ats import __version__
from ats.api.downloads import audit_export_response
from ats.api.problems import problem_response
from ats.domain.access import Principal
from ats.errors import (
    ATSError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    database_problem,
)
from ats.service import interviews, pipeline, queries
from ats.service.app import App
from ats.service.audit import record_refusal
from ats.service.audit_reports import AuditFilters
from ats.service.audit_reports import entries as audit_entries
from ats.service.commands import FireTrigger
from ats.service.duplicates import duplicates
from ats.service.outbox import messages as outbox_messages
from ats.service.status_page import WORDS, candidacy_for, page, withdraw
from ats.service.users import authenticate_token
from ats.web.app import FormBody, add_web
from ats.worker import workers

API = "/api/v1"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MAX_ID = 2**31 - 1  # ids and versions are 32-bit integers in the database
CandidacyId = Annotated[int, FastApiPath(ge=1, le=MAX_ID)]
# Pages with personal data: never cached, never framed, the link never leaked as a referrer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


class Problem(BaseModel):
    """RFC 9457 problem details; refusals add ``reasons``, workflow errors ``problems``."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    reasons: list[str] | None = None


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed input (a bad filter, a bad If-Match)"),
    401: _problem("No valid bearer token"),
    403: _problem("Your roles do not allow this"),
    404: _problem("No such thing, or not within your services"),
    409: _problem("The candidacy moved since the version you sent, or a duplicate"),
    422: _problem("The request is malformed, or a guard or rule refused it"),
    503: _problem("The database cannot be used right now"),
}


class TransitionRequest(BaseModel):
    """Fire a trigger on a candidacy."""

    trigger: str = Field(min_length=1, max_length=64, examples=["screen"])
    role: str | None = Field(
        default=None, description="The workflow role you act as, if you hold several."
    )
    reason: str | None = Field(default=None, max_length=2000)
    facts: dict[str, str | int | bool] = Field(default_factory=dict)


class TransitionResult(BaseModel):
    candidacy: int
    trigger: str
    from_state: str = Field(alias="from")
    to_state: str = Field(alias="to")
    version: int


class BulkItem(BaseModel):
    candidacy: int = Field(ge=1, le=MAX_ID)
    version: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="Refuse this item if it moved since."
    )


class BulkTransitionRequest(BaseModel):
    """The same trigger on many candidacies; each item is its own transaction."""

    items: list[BulkItem] = Field(min_length=1, max_length=500)
    trigger: str = Field(min_length=1, max_length=64)
    role: str | None = None
    reason: str | None = Field(default=None, max_length=2000)
    facts: dict[str, str | int | bool] = Field(default_factory=dict)


class ScorecardRequest(BaseModel):
    """A panel member's scores, one whole number per criterion of the workflow's interview."""

    scores: dict[str, int] = Field(min_length=1, max_length=50)
    comment: str | None = Field(default=None, max_length=2000)
    supersede_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="Replace your filed scorecard, saying why (a filed card is never changed).",
    )


class DecisionRequest(BaseModel):
    """The chair's consensus scores and motivation; the pass rule decides."""

    scores: dict[str, int] = Field(min_length=1, max_length=50)
    motivation: str = Field(min_length=1, max_length=2000)


class Page(BaseModel):
    items: list[dict[str, Any]]
    page: int
    per_page: int
    total: int


def create_api(app: App) -> FastAPI:
    """The API bound to one application (one database, clock, mail transport)."""
    api = FastAPI(
        title="ATS",
        version=__version__,
        description="Applicant tracking for public hiring drives. Every transition is checked, "
        "stored in one transaction and audited.",
        openapi_url=f"{API}/openapi.json",
        responses=PROBLEMS,
        docs_url=f"{API}/docs",
        redoc_url=None,
    )

    def answer(request: Request, exc: ATSError, status: int | None = None) -> Response:
        """Problem details for the API; for the staff pages, a page saying what went wrong."""
        web_page = getattr(api.state, "web_error_page", None)
        if web_page is not None and not request.url.path.startswith(f"{API}/"):
            return web_page(request, exc, status)  # type: ignore[no-any-return]
        return problem_response(exc, instance=str(request.url.path), status=status)

    # Plain functions: Starlette runs them in its thread pool (a web error page reads the session).
    @api.exception_handler(ATSError)
    def ats_error(request: Request, exc: ATSError) -> Response:
        return answer(request, exc)

    @api.exception_handler(DBAPIError)
    def database_error(request: Request, exc: DBAPIError) -> Response:
        return answer(request, database_problem(exc), status=503)

    @api.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return answer(request, InvalidInput(f"the request is malformed: {where}"), status=422)

    @api.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return answer(request, NotFound(f"no page {request.url.path[:100]!r}"))
        if exc.status_code == 405:
            return answer(
                request,
                InvalidInput(f"{request.method} is not how {request.url.path[:100]!r} is used"),
                status=405,
            )
        return answer(request, InvalidInput(str(exc.detail)), status=exc.status_code)

    def principal(authorization: Annotated[str | None, Header()] = None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "send 'Authorization: Bearer <token>' (create one with `ats token create`)"
            )
        return authenticate_token(app, token.strip())

    Who = Annotated[Principal, Depends(principal)]

    def visible(
        who: Principal, candidacy_id: int, *, acting_as: str | None = None
    ) -> dict[str, Any]:
        """The candidacy if ``who`` may see it (and act on it as ``acting_as``); else 404, audited."""
        detail = queries.candidacy(app, candidacy_id)
        service = queries.vacancy(app, detail["vacancy"])["service"]
        allowed = who.can_see(service) and (acting_as is None or who.can_act_on(service, acting_as))
        if not allowed:
            record_refusal(
                app,
                actor=who.actor,
                roles=who.roles,
                subject=f"candidacy:{candidacy_id}",
                reason="out of the user's services",
            )
            raise NotFound(f"no candidacy {candidacy_id}")
        return detail

    @api.get(f"{API}/vacancies", tags=["vacancies"])
    def list_vacancies(
        who: Who, language: str = Query("en", pattern="^(nl|fr|de|en)$")
    ) -> list[dict[str, Any]]:
        """Vacancies with their targets and counts (recruiters see their services')."""
        return [v for v in queries.vacancies(app, language) if who.can_see(v["service"])]

    @api.get(f"{API}/candidacies", tags=["candidacies"])
    def list_candidacies(
        who: Who,
        vacancy: str | None = None,
        state: str | None = None,
        q: Annotated[str | None, Query(max_length=100, description="Name, email or id")] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Page:
        """Candidacies, filtered, searched and paged; only those of the caller's services."""
        found = pipeline.search(
            app, who, q=q, vacancy=vacancy, state=state, page=page, per_page=per_page
        )
        return Page(items=found["items"], page=page, per_page=per_page, total=found["total"])

    @api.get(f"{API}/candidacies/{{candidacy_id}}", tags=["candidacies"])
    def get_candidacy(who: Who, candidacy_id: CandidacyId) -> JSONResponse:
        """One candidacy, what each role can fire now and why not; ETag is its version."""
        detail = visible(who, candidacy_id)
        return JSONResponse(
            detail,
            headers={"ETag": f'"{detail["version"]}"', "Cache-Control": "no-store"},
        )

    @api.post(
        f"{API}/candidacies/{{candidacy_id}}/transitions",
        tags=["candidacies"],
        status_code=201,
    )
    def fire(
        who: Who,
        candidacy_id: CandidacyId,
        body: TransitionRequest,
        if_match: Annotated[str | None, Header(description="The version you saw (ETag)")] = None,
    ) -> TransitionResult:
        """Fire a trigger: role, state and guards are checked; the step is audited and mailed."""
        role = who.acting_as(body.role)
        visible(who, candidacy_id, acting_as=role)
        expected = _version(if_match)
        event = app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger=body.trigger,
                actor=who.actor,
                role=role,
                reason=body.reason,
                facts=body.facts,
                expected_version=expected,
            )
        )
        version = queries.candidacy(app, candidacy_id)["version"]
        return TransitionResult.model_validate(
            {
                "candidacy": candidacy_id,
                "trigger": event.trigger,
                "from": event.src,
                "to": event.dst,
                "version": version,
            }
        )

    @api.get(f"{API}/candidacies/{{candidacy_id}}/history", tags=["candidacies"])
    def history(who: Who, candidacy_id: CandidacyId) -> list[dict[str, Any]]:
        """Every step: who, as what role, when (UTC and Brussels), why."""
        visible(who, candidacy_id)
        return queries.history(app, candidacy_id)

    @api.get(f"{API}/candidacies/{{candidacy_id}}/duplicates", tags=["candidacies"])
    def possible_duplicates(who: Who, candidacy_id: CandidacyId) -> list[dict[str, Any]]:
        """Other candidate records that may be the same person (open links), by key and rule.

        Their candidacies are listed as far as your services reach.
        """
        visible(who, candidacy_id)
        return [
            {**found, "candidacies": [c for c in found["candidacies"] if who.can_see(c["service"])]}
            for found in duplicates(app, candidacy=candidacy_id)
        ]

    @api.get(f"{API}/candidacies/{{candidacy_id}}/interview", tags=["interviews"])
    def interview(who: Who, candidacy_id: CandidacyId) -> dict[str, Any]:
        """The panel's scorecards as you may see them: blind until your own is in."""
        visible(who, candidacy_id)
        return interviews.scorecards(app, candidacy_id, who)

    @api.post(
        f"{API}/candidacies/{{candidacy_id}}/scorecards", tags=["interviews"], status_code=201
    )
    def file_scorecard(
        who: Who, candidacy_id: CandidacyId, body: ScorecardRequest
    ) -> dict[str, int]:
        """File your scorecard (panel members), or supersede yours with a reason; audited."""
        visible(who, candidacy_id)
        card = interviews.submit(
            app,
            candidacy_id,
            who,
            body.scores,
            body.comment,
            supersede_reason=body.supersede_reason,
        )
        return {"scorecard": card, "candidacy": candidacy_id}

    @api.post(
        f"{API}/candidacies/{{candidacy_id}}/interview/decision",
        tags=["interviews"],
        status_code=201,
    )
    def decide_interview(
        who: Who, candidacy_id: CandidacyId, body: DecisionRequest
    ) -> TransitionResult:
        """The chair's consensus: the pass rule fires the pass or fail transition; audited."""
        visible(who, candidacy_id)
        event = interviews.decide(app, candidacy_id, who, body.scores, body.motivation)
        return TransitionResult.model_validate(
            {
                "candidacy": candidacy_id,
                "trigger": event.trigger,
                "from": event.src,
                "to": event.dst,
                "version": queries.candidacy(app, candidacy_id)["version"],
            }
        )

    @api.get(f"{API}/approvals", tags=["interviews"])
    def approvals(who: Who) -> list[dict[str, Any]]:
        """Candidacies waiting for a second person's approval, within your services."""
        require(who, "approver", "admin")
        return [r for r in interviews.waiting_for_approval(app) if who.can_see(r["service"])]

    @api.post(f"{API}/transitions/bulk", tags=["candidacies"])
    def fire_many(who: Who, body: BulkTransitionRequest) -> dict[str, Any]:
        """Fire one trigger on many candidacies; per item: 201 moved, or the problem that stopped it."""
        role = who.acting_as(body.role)
        results = pipeline.fire_bulk(
            app,
            who,
            [pipeline.BulkItem(i.candidacy, i.version) for i in body.items],
            trigger=body.trigger,
            role=role,
            reason=body.reason,
            facts=dict(body.facts),
        )
        moved = sum(1 for r in results if r["status"] == 201)
        return {"moved": moved, "refused": len(results) - moved, "results": results}

    def require(who: Principal, *roles: str) -> None:
        if not who.has(*roles):
            record_refusal(
                app,
                actor=who.actor,
                roles=who.roles,
                subject="api",
                reason=f"needs one of {', '.join(sorted(roles))}",
                needs=sorted(roles),
            )
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")

    def filters(
        candidacy: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        vacancy: str | None = None,
        service: str | None = None,
        actor: str | None = None,
        trigger: str | None = None,
        state: str | None = None,
        since: Annotated[
            str | None, Query(pattern=DATE, description="YYYY-MM-DD, Brussels, inclusive")
        ] = None,
        until: Annotated[
            str | None, Query(pattern=DATE, description="YYYY-MM-DD, Brussels, inclusive")
        ] = None,
    ) -> AuditFilters:
        return AuditFilters.parse(
            candidacy=candidacy,
            vacancy=vacancy,
            service=service,
            actor=actor,
            trigger=trigger,
            state=state,
            since=since,
            until=until,
        )

    Filters = Annotated[AuditFilters, Depends(filters)]

    @api.get(f"{API}/audit", tags=["audit"])
    def audit_log(
        who: Who, chosen: Filters, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
    ) -> list[dict[str, Any]]:
        """Audit entries, filtered (auditors, taskforce, admins)."""
        require(who, "auditor", "taskforce", "admin")
        return audit_entries(app, chosen, limit=limit)

    @api.get(
        f"{API}/audit/export",
        tags=["audit"],
        response_class=FileResponse,
        responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    )
    def audit_export(
        who: Who,
        chosen: Filters,
        format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
    ) -> FileResponse:
        """The filtered log as CSV or JSON Lines; the manifest's SHA-256 and row count in headers."""
        require(who, "auditor", "admin")
        return audit_export_response(app, chosen, fmt=format, exporter=who.actor)

    @api.get(f"{API}/outbox", tags=["service"])
    def outbox(
        who: Who,
        state: Annotated[str | None, Query(pattern="^(pending|sent|dead)$")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    ) -> list[dict[str, Any]]:
        """Candidate mail and its delivery state (admins)."""
        require(who, "admin")
        return outbox_messages(app, status=state, limit=limit)

    @api.get(f"{API}/workers", tags=["service"])
    def worker_status(who: Who) -> list[dict[str, Any]]:
        """Workers seen, whether they are alive, their last sweep (admins, taskforce)."""
        require(who, "admin", "taskforce")
        return workers(app)

    pages = Environment(
        loader=PackageLoader("ats.web", "templates"), autoescape=True, undefined=StrictUndefined
    )

    def status_html(token: str, *, message: str | None = None, code: int = 200) -> HTMLResponse:
        try:
            candidacy_id = candidacy_for(app, token)
            data = page(app, candidacy_id)
        except NotFound as exc:
            return HTMLResponse(
                f"<!DOCTYPE html><title>404</title><p>{escape(exc.message)}</p>",
                status_code=404,
                headers=PAGE_HEADERS,
            )
        html = pages.get_template("status.html").render(
            **data, message=message, withdraw_url=f"/status/{token}/withdraw"
        )
        return HTMLResponse(html, status_code=code, headers=PAGE_HEADERS)

    @api.get("/status/{token}", include_in_schema=False)
    def status_page(token: str) -> HTMLResponse:
        """The candidate's status, reached from any of their emails; no login."""
        return status_html(token)

    @api.post("/status/{token}/withdraw", include_in_schema=False)
    def status_withdraw(token: str, body: FormBody) -> HTMLResponse:
        """Withdraw, after the candidate ticked the confirmation; a transition by the candidate."""
        form = parse_qs(body.decode("utf-8", "replace"))
        try:
            candidacy_id = candidacy_for(app, token)
        except NotFound:
            return status_html(token)
        if form.get("confirm") != ["yes"]:
            return status_html(token, code=400)
        try:
            withdraw(app, candidacy_id)
        except ATSError:
            return status_html(token, code=409)
        language = page(app, candidacy_id)["language"]
        return status_html(token, message=WORDS[language]["withdrawn"])

    @api.get(f"{API}/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: the process answers and the database is reachable."""
        with app.engine.connect() as connection:
            connection.execute(select(1))
        return {"status": "ok", "version": __version__}

    add_web(api, app)
    return api


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput(
            f'If-Match: expected the candidacy version as an ETag like "3", got {if_match!r}'
        )
    return int(text)
