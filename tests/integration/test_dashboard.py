"""The taskforce dashboard over a real database: who may see it, filters, charts, exports."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from fastapi.testclient import TestClient

from ats.service.app import App
from tests.integration.test_web import (
    CGVS,
    DVZ,
    Browser,
    apply,
    assert_security_headers,
    make_user,
    refusals,
    signed_in,
)


def _taskforce(app: App, browser: Browser) -> TestClient:
    client = browser()
    make_user(app, "tf", "taskforce")
    signed_in(client, "tf")
    return client


def test_the_dashboard_charts_and_tabulates_every_vacancy_for_the_taskforce(
    app: App, browser: Browser
) -> None:
    """Targets, funnel, delays and forecast: each a chart with a title and a table beside it."""
    apply(app, "a@example.org")
    client = _taskforce(app, browser)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert_security_headers(page)
    assert page.text.count('role="img"') == 3
    for heading in ("Targets", "Funnel", "Delays", "Forecast"):
        assert f">{heading}</h2>" in page.text
    for code in (DVZ, CGVS, "DVZ-LAW-W3"):
        assert f"<td>{code}</td>" in page.text
    assert "<td>55</td>" in page.text  # DVZ-SEC-W1's target


def test_filters_narrow_the_dashboard_and_unknown_codes_are_named(
    app: App, browser: Browser
) -> None:
    client = _taskforce(app, browser)
    dvz = client.get("/dashboard", params={"service": "DVZ"})
    assert f"<td>{DVZ}</td>" in dvz.text
    assert f"<td>{CGVS}</td>" not in dvz.text
    unknown = client.get("/dashboard", params={"service": "NOPE"})
    assert unknown.status_code == 400
    assert "NOPE" in unknown.text
    assert "DVZ" in unknown.text  # the known codes are listed


def test_each_report_downloads_as_csv_json_and_xlsx_with_the_filters(
    app: App, browser: Browser
) -> None:
    apply(app, "a@example.org")
    client = _taskforce(app, browser)
    as_csv = client.get("/dashboard/export/targets.csv", params={"service": "DVZ"})
    assert as_csv.status_code == 200
    assert as_csv.headers["cache-control"] == "no-store"
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0][0] == "vacancy"
    assert {r[0] for r in rows[1:] if r} >= {DVZ, "DVZ-RET-W1"}
    assert CGVS not in {r[0] for r in rows[1:] if r}
    as_json = client.get("/dashboard/export/funnel.json").json()
    assert as_json["report"] == "funnel"
    as_xlsx = client.get("/dashboard/export/delays.xlsx")
    assert as_xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as workbook:
        assert "xl/workbook.xml" in workbook.namelist()
    forecast = client.get(
        "/dashboard/export/forecast.json", params={"extra_seats_per_week": "5"}
    ).json()
    assert forecast["parameters"]["extra_seats_per_week"] == 5
    assert client.get("/dashboard/export/nothing.csv").status_code == 404
    bad = client.get("/dashboard/export/forecast.json", params={"extra_recruiters": "many"})
    assert bad.status_code == 400


def test_recruiters_and_auditors_do_not_see_the_dashboard_and_the_attempt_is_audited(
    app: App, browser: Browser
) -> None:
    for username, role, services in (("els", "recruiter", ("DVZ",)), ("aud", "auditor", ())):
        client = browser()
        make_user(app, username, role, services=services)
        signed_in(client, username)
        assert client.get("/dashboard").status_code == 403
        assert client.get("/dashboard/export/targets.csv").status_code == 403
        assert "Dashboard" not in client.get("/vacancies").text
    assert refusals(app, "web:dashboard") == 4


def test_the_json_export_is_the_same_report_as_the_cli_gives(app: App, browser: Browser) -> None:
    """The page and `ats report` share one computation: same rows for the same filters."""
    from ats.service.reports import ReportFilters, targets

    apply(app, "a@example.org")
    client = _taskforce(app, browser)
    exported = client.get("/dashboard/export/targets.json").json()
    expected = json.loads(json.dumps(targets(app, ReportFilters()).to_dict(), default=str))
    assert exported["targets"] == expected["targets"]
