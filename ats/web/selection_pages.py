"""Selor sessions in the staff pages: the list, one session's seats, and the results upload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from ats.errors import Forbidden, InvalidInput
from ats.service import selection
from ats.service.app import App
from ats.service.session_results import MAX_BYTES, ResultsRefused, import_results
from ats.service.sessions import WebSession
from ats.web.app import Kit

READERS = ("selection_officer", "admin", "taskforce")
WRITERS = ("selection_officer", "admin")


@dataclass(frozen=True)
class Upload:
    """A multipart form with one file: its fields and the file's bytes."""

    fields: dict[str, str]
    filename: str
    data: bytes


async def _upload(request: Request) -> Upload:
    """Read an upload form; a file over MAX_BYTES is refused without keeping it."""
    async with request.form(max_files=1, max_fields=10, max_part_size=64 * 1024) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise InvalidInput("choose a results file (CSV) to upload")
        data = await file.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InvalidInput(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
        return Upload(fields=fields, filename=(file.filename or "results.csv")[:200], data=data)


UploadForm = Annotated[Upload, Depends(_upload)]


def add_selection_pages(api: FastAPI, app: App, kit: Kit) -> None:
    """Mount /sessions and /sessions/{code} (with the results upload) on ``api``."""

    def reader(request: Request) -> WebSession:
        web = kit.current(request)
        if not web.principal.has(*READERS):
            kit.refuse(web, "web:sessions", "needs selection officer, admin or taskforce")
            raise Forbidden("Selor sessions are for selection officers, the taskforce and admins")
        return web

    @api.get("/sessions", include_in_schema=False)
    def session_list(request: Request, past: str = "") -> HTMLResponse:
        web = reader(request)
        rows = selection.sessions(app, include_past=bool(past))
        return kit.render(request, "sessions.html", web=web, sessions=rows, past=bool(past))

    def page(
        request: Request,
        web: WebSession,
        code: str,
        *,
        status: int = 200,
        report: object = None,
        problems: list[tuple[int | None, str]] | None = None,
        filename: str = "",
    ) -> HTMLResponse:
        return kit.render(
            request,
            "session.html",
            web=web,
            status=status,
            s=selection.session(app, code[:32]),
            can_write=web.principal.has(*WRITERS),
            report=report,
            problems=problems,
            filename=filename,
        )

    @api.get("/sessions/{code}", include_in_schema=False)
    def session_page(request: Request, code: str) -> HTMLResponse:
        return page(request, reader(request), code)

    @api.post("/sessions/{code}/results", include_in_schema=False)
    def session_results(request: Request, code: str, upload: UploadForm) -> HTMLResponse:
        web = reader(request)
        kit.genuine(request, upload.fields.get("csrf", ""), web)
        if not web.principal.has(*WRITERS):
            kit.refuse(web, f"session:{code[:32]}", "results need a selection officer or admin")
            raise Forbidden("results are imported by selection officers and admins")
        try:
            report = import_results(app, code[:32], upload.data, actor=web.principal.actor)
        except ResultsRefused as refused:
            return page(
                request,
                web,
                code,
                status=422,
                problems=refused.problems,
                filename=upload.filename,
            )
        return page(request, web, code, report=report, filename=upload.filename)
