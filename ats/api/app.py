"""`/api/v1`: vacancies, candidacies, transitions and history, behind bearer tokens.

Errors are RFC 9457 problem details (``application/problem+json``). Every check
is made here on the server, per object: a recruiter asking for a candidacy of a
service they do not work for gets 404, and the attempt is audited.
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, or_, select

from ats import __version__
from ats.adapters.db.store import CANDIDACY, CANDIDATE
from ats.api.problems import problem_response
from ats.domain.access import Principal
from ats.domain.audit import AUTHORISATION_FAILED
from ats.errors import ATSError, InvalidInput, NotFound, Unauthenticated
from ats.service import queries
from ats.service.app import App
from ats.service.audit import record_event
from ats.service.commands import FireTrigger
from ats.service.users import authenticate_token

API = "/api/v1"


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
        docs_url=f"{API}/docs",
        redoc_url=None,
    )

    @api.exception_handler(ATSError)
    async def ats_error(request: Request, exc: ATSError) -> JSONResponse:
        return problem_response(exc, instance=str(request.url.path))

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return problem_response(
            InvalidInput(f"the request is malformed: {where}"),
            instance=str(request.url.path),
            status=422,
        )

    def principal(authorization: Annotated[str | None, Header()] = None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "send 'Authorization: Bearer <token>' (create one with `ats token create`)"
            )
        return authenticate_token(app, token.strip())

    Who = Annotated[Principal, Depends(principal)]

    def visible(who: Principal, candidacy_id: int) -> dict[str, Any]:
        """The candidacy if ``who`` may see it; otherwise 404, audited, revealing nothing."""
        detail = queries.candidacy(app, candidacy_id)
        service = queries.vacancy(app, detail["vacancy"])["service"]
        if not who.can_see(service):
            with app.unit_of_work() as uow:
                record_event(
                    uow,
                    app,
                    kind=AUTHORISATION_FAILED,
                    actor=who.actor,
                    role=",".join(sorted(who.roles)),
                    subject=f"candidacy:{candidacy_id}",
                    details={"reason": "out of the user's services"},
                )
                uow.commit()
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
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Page:
        """Candidacies, filtered, searched and paged; only those of the caller's services."""
        services = [v["code"] for v in queries.vacancies(app) if who.can_see(v["service"])]
        query = (
            select(
                CANDIDACY.c.id,
                CANDIDACY.c.vacancy,
                CANDIDACY.c.state,
                CANDIDACY.c.version,
                CANDIDACY.c.state_entered_at,
                CANDIDATE.c.name,
            )
            .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
            .where(CANDIDACY.c.vacancy.in_(services))
        )
        if vacancy:
            query = query.where(CANDIDACY.c.vacancy == vacancy)
        if state:
            query = query.where(CANDIDACY.c.state == state)
        if q:
            needle = f"%{q.strip().lower()}%"
            conditions: list[ColumnElement[bool]] = [
                func.lower(CANDIDATE.c.name).like(needle),
                func.lower(CANDIDATE.c.email).like(needle),
            ]
            if q.strip().isdigit():
                conditions.append(CANDIDACY.c.id == int(q.strip()))
            query = query.where(or_(*conditions))
        with app.engine.connect() as connection:
            total = connection.execute(
                select(func.count()).select_from(query.subquery())
            ).scalar_one()
            rows = connection.execute(
                query.order_by(CANDIDACY.c.id).limit(per_page).offset((page - 1) * per_page)
            ).mappings()
            items = [
                {
                    "id": r["id"],
                    "vacancy": r["vacancy"],
                    "state": r["state"],
                    "version": r["version"],
                    "since": r["state_entered_at"].isoformat(),
                    "name": r["name"],
                }
                for r in rows
            ]
        return Page(items=items, page=page, per_page=per_page, total=total)

    @api.get(f"{API}/candidacies/{{candidacy_id}}", tags=["candidacies"])
    def get_candidacy(who: Who, candidacy_id: int) -> JSONResponse:
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
        responses={
            403: {"description": "Your role may not fire this trigger"},
            409: {"description": "The candidacy moved since the version in If-Match"},
            422: {"description": "A guard refused, or a reason or fact is missing"},
        },
    )
    def fire(
        who: Who,
        candidacy_id: int,
        body: TransitionRequest,
        if_match: Annotated[str | None, Header(description="The version you saw (ETag)")] = None,
    ) -> TransitionResult:
        """Fire a trigger: role, state and guards are checked; the step is audited and mailed."""
        visible(who, candidacy_id)
        expected = _version(if_match)
        event = app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger=body.trigger,
                actor=who.actor,
                role=who.acting_as(body.role),
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
    def history(who: Who, candidacy_id: int) -> list[dict[str, Any]]:
        """Every step: who, as what role, when (UTC and Brussels), why."""
        visible(who, candidacy_id)
        return queries.history(app, candidacy_id)

    @api.get(f"{API}/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: the process answers and the database is reachable."""
        with app.engine.connect() as connection:
            connection.execute(select(1))
        return {"status": "ok", "version": __version__}

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
