"""Interviews in the staff pages: the scorecard form, the consensus view, the approvals queue.

``/candidacies/{id}/interview`` shows a panel member their own scorecard form
(one row of choices per criterion, its anchors beside it: big targets for a
tablet), and, once their card is in, every card side by side with what the pass
rule says; the chair records the consensus there. ``/approvals`` lists the
candidacies of the user's services waiting for a second person's approval, with
who asked; the four-eyes rules (not the asker, nobody from the panel) are
checked when someone approves.
The same service functions as the command line do every check.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ats.errors import ConflictError, Forbidden, InvalidInput, NotFound, TransitionRefused
from ats.service import interviews, pipeline, queries
from ats.service.app import App
from ats.service.sessions import WebSession
from ats.web.app import FormBody, Kit

APPROVERS = ("approver", "admin")


def add_interview_pages(api: FastAPI, app: App, kit: Kit) -> None:
    """Mount the interview page of a candidacy and the approvals queue on ``api``."""

    def visible(web: WebSession, candidacy_id: int) -> dict[str, Any]:
        detail = queries.candidacy(app, candidacy_id)
        service = queries.vacancy(app, detail["vacancy"])["service"]
        if not web.principal.can_see(service):
            kit.refuse(web, f"candidacy:{candidacy_id}", "out of the user's services")
            raise NotFound(f"no candidacy {candidacy_id}")
        return detail

    def page(
        request: Request,
        web: WebSession,
        candidacy_id: int,
        *,
        status: int = 200,
        error: Exception | None = None,
        values: dict[str, str] | None = None,
        done: str = "",
    ) -> HTMLResponse:
        detail = visible(web, candidacy_id)
        view = interviews.scorecards(app, candidacy_id, web.principal)
        me = next((m for m in view["panel"] if m["username"] == web.principal.username), None)
        return kit.render(
            request,
            "interview.html",
            web=web,
            status=status,
            c=detail,
            view=view,
            member=me is not None,
            chair=bool(me and me["chair"]),
            error=error,
            values=values or {},
            done=done,
        )

    @api.get("/candidacies/{candidacy}/interview", include_in_schema=False)
    def interview_page(request: Request, candidacy: str, done: str = "") -> HTMLResponse:
        web = kit.current(request)
        return page(request, web, _number(candidacy), done=done[:10])

    def scores_of(form: Any, view: dict[str, Any]) -> dict[str, str]:
        return {c["name"]: form.get(f"score.{c['name']}") for c in view["criteria"]}

    @api.post("/candidacies/{candidacy}/interview/score", include_in_schema=False)
    def interview_score(request: Request, candidacy: str, body: FormBody) -> Response:
        web = kit.current(request)
        form = kit.posted(request, body, web)
        candidacy_id = _number(candidacy)
        visible(web, candidacy_id)
        view = interviews.scorecards(app, candidacy_id, web.principal)
        scores = scores_of(form, view)
        try:
            interviews.submit(
                app,
                candidacy_id,
                web.principal,
                scores,
                form.get("comment") or None,
                # Replacing a card: its reason is required (an empty one is said so).
                supersede_reason=form.get("reason") if form.get("supersede") else None,
            )
        except (InvalidInput, ConflictError, Forbidden) as exc:
            values = {
                **{f"score.{k}": v for k, v in scores.items()},
                "comment": form.get("comment"),
                "reason": form.get("reason"),
            }
            return page(
                request, web, candidacy_id, status=exc.http_status, error=exc, values=values
            )
        return RedirectResponse(
            f"/candidacies/{candidacy_id}/interview?done=scored", status_code=303
        )

    @api.post("/candidacies/{candidacy}/interview/decide", include_in_schema=False)
    def interview_decide(request: Request, candidacy: str, body: FormBody) -> Response:
        web = kit.current(request)
        form = kit.posted(request, body, web)
        candidacy_id = _number(candidacy)
        visible(web, candidacy_id)
        view = interviews.scorecards(app, candidacy_id, web.principal)
        scores = scores_of(form, view)
        try:
            interviews.decide(app, candidacy_id, web.principal, scores, form.get("motivation"))
        except (InvalidInput, ConflictError, Forbidden, TransitionRefused) as exc:
            values = {
                **{f"consensus.{k}": v for k, v in scores.items()},
                "motivation": form.get("motivation"),
            }
            return page(
                request, web, candidacy_id, status=exc.http_status, error=exc, values=values
            )
        return RedirectResponse(
            f"/candidacies/{candidacy_id}/interview?done=decided", status_code=303
        )

    @api.get("/approvals", include_in_schema=False)
    def approvals(request: Request) -> HTMLResponse:
        web = kit.current(request)
        if not web.principal.has(*APPROVERS):
            kit.refuse(web, "web:approvals", "needs approver or admin")
            raise Forbidden("the approvals queue is for approvers")
        waiting = [
            row
            for row in interviews.waiting_for_approval(app)
            if web.principal.can_see(row["service"])
        ]
        return kit.render(request, "approvals.html", web=web, waiting=waiting)


def _number(text: str) -> int:
    """A candidacy id from the path; anything else is "not found", like the candidacy page."""
    number = pipeline.number(text)
    if number is None:
        raise NotFound(f"no candidacy {text[:20]!r}")
    return number
