"""The taskforce's dashboard: targets, funnel, delays and forecast, filtered, charted, exportable."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from starlette.background import BackgroundTask

from ats.errors import Forbidden, InvalidInput, NotFound
from ats.service import reports
from ats.service.app import App
from ats.service.report_files import as_of, cell_text, render_csv, render_json, write_xlsx
from ats.service.sessions import WebSession
from ats.web.app import Kit
from ats.web.charts import Bar, bar_chart

READERS = ("taskforce", "admin")
FILTERS = ("service", "function", "wave", "vacancy", "since", "until")
REPORTS = ("targets", "funnel", "delays", "forecast")
PAGE_RUNS = 500  # the page's forecast: enough for a stable median, quick to draw


def add_dashboard(api: FastAPI, app: App, kit: Kit) -> None:
    """Mount /dashboard and /dashboard/export/{report}.{format} on ``api``."""

    def reader(request: Request) -> WebSession:
        web = kit.current(request)
        if not web.principal.has(*READERS):
            kit.refuse(web, "web:dashboard", "needs taskforce or admin")
            raise Forbidden("the dashboard is for the taskforce and admins")
        return web

    def chosen(request: Request) -> tuple[reports.ReportFilters, dict[str, str]]:
        given = {k: request.query_params.get(k, "").strip()[:32] for k in FILTERS}
        return reports.ReportFilters.parse(**{k: v or None for k, v in given.items()}), given

    def options(request: Request) -> reports.ForecastOptions:
        def number(name: str, default: float) -> float:
            text = request.query_params.get(name, "").strip()
            if not text:
                return default
            try:
                return float(text)
            except ValueError:
                raise InvalidInput(
                    f"{name.replace('_', ' ')}: expected a number, got {text[:20]!r}"
                ) from None

        return reports.ForecastOptions(
            runs=PAGE_RUNS,
            inflow_weeks=int(number("inflow_weeks", 4)),
            extra_seats_per_week=number("extra_seats_per_week", 0),
            extra_recruiters=int(number("extra_recruiters", 0)),
        )

    def made(name: str, request: Request) -> reports.Report:
        filters, _ = chosen(request)
        if name == "targets":
            return reports.targets(app, filters)
        if name == "funnel":
            return reports.funnel(app, filters, by="all")
        if name == "delays":
            return reports.delays(app, filters, by="all")
        return reports.forecast(app, filters, options(request))

    @api.get("/dashboard", include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        web = reader(request)
        _, given = chosen(request)
        made_reports = {name: made(name, request) for name in REPORTS}
        targets = made_reports["targets"].section("targets").rows
        funnel = made_reports["funnel"].section("funnel").rows
        stages = made_reports["delays"].section("stages").rows
        forecast = made_reports["forecast"].section("forecast").rows
        charts = {
            "targets": bar_chart(
                [
                    Bar(
                        label=str(r["vacancy"]),
                        value=float(r["hired"] or 0),
                        extra=float(r["offer"] or 0),
                        marker=float(r["target"]) if r.get("target") else None,
                        text=f"{r['hired']}/{r['target']}" if r.get("target") else str(r["hired"]),
                    )
                    for r in targets
                    if r["vacancy"] != "TOTAL (drive)"
                ],
                title="Hired and in offer against each vacancy's target",
                legend=("hired", "in offer", "target"),
            ),
            "funnel": bar_chart(
                [
                    Bar(
                        label=str(r["stage"]),
                        value=float(r["reached"] or 0),
                        text=f"{r['reached']}"
                        + (f" · {r['conversion'] * 100:.0f}% on" if r.get("conversion") else ""),
                    )
                    for r in funnel
                    if r.get("reached") is not None
                ],
                title="Candidacies that reached each stage, and the share that went on",
            ),
            "delays": bar_chart(
                [
                    Bar(
                        label=str(r["stage"]),
                        value=float(r["median_days"] or 0),
                        whisker=float(r["p90_days"]) if r.get("p90_days") is not None else None,
                        text=f"{r['median_days']} d (p90 {r['p90_days']} d)",
                    )
                    for r in stages
                    if r.get("median_days") is not None
                ],
                title="Days in each stage: median, and the 90th percentile",
            ),
        }
        vocabulary = _codes(app)
        return kit.render(
            request,
            "dashboard.html",
            web=web,
            reports=made_reports,
            charts=charts,
            forecast=forecast,
            given=given,
            vocabulary=vocabulary,
            what_if={
                k: request.query_params.get(k, "")
                for k in ("inflow_weeks", "extra_seats_per_week", "extra_recruiters")
            },
            query=str(request.url.query),
            as_of=as_of(made_reports["targets"]),
            cell=cell_text,
            runs=PAGE_RUNS,
        )

    @api.get("/dashboard/export/{name}", include_in_schema=False)
    def export(request: Request, name: str) -> Response:
        reader(request)
        report_name, _, fmt = name.partition(".")
        if report_name not in REPORTS or fmt not in ("csv", "json", "xlsx"):
            raise NotFound(
                f"no export {name[:40]!r} (reports: {', '.join(REPORTS)}; csv, json, xlsx)"
            )
        report = made(report_name, request)
        filename = f"{report_name}-{report.as_of:%Y%m%d}.{fmt}"
        headers = {"Cache-Control": "no-store"}
        if fmt == "xlsx":
            folder = Path(tempfile.mkdtemp(prefix="ats-report-"))
            target = folder / filename
            try:
                write_xlsx(report, target)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            return FileResponse(
                target,
                media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                filename=filename,
                headers=headers,
                background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
            )
        body = render_csv(report) if fmt == "csv" else render_json(report)
        return Response(
            body,
            media_type="text/csv; charset=utf-8" if fmt == "csv" else "application/json",
            headers={**headers, "Content-Disposition": f'attachment; filename="{filename}"'},
        )


def _codes(app: App) -> dict[str, list[str]]:
    """The codes each filter can take, for the filter form's choices."""
    tables = {
        "service": reports.SERVICE,
        "function": reports.FUNCTION,
        "wave": reports.WAVE,
        "vacancy": reports.VACANCY,
    }
    with app.engine.connect() as connection:
        return {
            name: list(connection.execute(select(t.c.code).order_by(t.c.code)).scalars())
            for name, t in tables.items()
        }
