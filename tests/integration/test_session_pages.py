"""Selor sessions in the staff pages: who sees them, and the results upload (all or nothing)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from ats.clock import ManualClock
from ats.service import queries
from ats.service.app import App
from ats.service.selection import SessionPlan, assign, create_session, session
from tests.integration.test_web import (  # the pages' browser fixture and helpers
    DVZ,
    Browser,
    apply,
    assert_security_headers,
    csrf_of,
    fire,
    make_user,
    refusals,
    signed_in,
)


def _seated_session(app: App, clock: ManualClock, people: int) -> tuple[str, list[int]]:
    """A session on the coming Saturday with ``people`` seated, then the clock past its start."""
    ids = []
    for n in range(people):
        candidacy = apply(app, f"person{n}@example.org", name=f"Person {n}")
        fire(app, candidacy, "screen", diploma_level="secondary")
        ids.append(candidacy)
    start = clock.now() + timedelta(days=5)  # START is a Monday: the coming Saturday
    code = create_session(
        app,
        SessionPlan(
            starts_at=start,
            place="Selor, Brussel",
            kind="computer_test",
            seats=10,
            vacancies=(DVZ,),
        ),
        actor="selor:tests",
    )
    assign(app, code, actor="selor:tests", auto=True)
    clock.set(start + timedelta(hours=4))
    return code, ids


def _audit_entries(app: App) -> int:
    with app.engine.connect() as connection:  # closed at once: PostgreSQL drops the schema later
        return int(connection.execute(text("SELECT count(*) FROM audit_entries")).scalar_one())


def _upload(client: TestClient, code: str, csrf: str, content: bytes) -> object:
    return client.post(
        f"/sessions/{code}/results",
        data={"csrf": csrf},
        files={"file": ("results.csv", content, "text/csv")},
    )


def _references(app: App, code: str) -> list[str]:
    return [seat["reference"] for seat in session(app, code)["seat_list"]]


def test_a_selection_officer_uploads_results_and_sees_them_applied(
    app: App, clock: ManualClock, browser: Browser
) -> None:
    """A clean file moves every listed candidacy (pass or fail by score) and says so."""
    code, ids = _seated_session(app, clock, 3)
    client = browser()
    make_user(app, "marie", "selection_officer")
    signed_in(client, "marie")
    listing = client.get("/sessions?past=1")
    assert listing.status_code == 200
    assert code in listing.text
    page = client.get(f"/sessions/{code}")
    assert_security_headers(page)
    first, second, _ = _references(app, code)
    content = f"référence;score;réussi\n{first};75;oui\n{second};30;non\n".encode("cp1252")
    done = _upload(client, code, csrf_of(page.text), content)
    assert done.status_code == 200, done.text
    assert "2 results applied" in done.text
    states = sorted(queries.candidacy(app, i)["state"] for i in ids)
    assert states == ["awaiting_interview", "rejected", "selor_test"]
    again = _upload(client, code, csrf_of(page.text), content)
    assert "imported before" in again.text


def test_a_file_with_a_bad_line_changes_nothing_and_the_page_names_the_line(
    app: App, clock: ManualClock, browser: Browser
) -> None:
    code, ids = _seated_session(app, clock, 2)
    client = browser()
    make_user(app, "marie", "selection_officer")
    csrf = signed_in(client, "marie")
    first, _ = _references(app, code)
    before = _audit_entries(app)
    refused = _upload(
        client, code, csrf, f"reference,score,passed\n{first},75,yes\nnobody,10,no\n".encode()
    )
    assert refused.status_code == 422
    assert "nothing was applied" in refused.text
    assert "<td>3</td>" in refused.text
    assert "unknown candidate" in refused.text
    after = _audit_entries(app)
    assert after == before
    assert {queries.candidacy(app, i)["state"] for i in ids} == {"selor_test"}


def test_uploads_need_the_form_token_and_a_selection_officer(
    app: App, clock: ManualClock, browser: Browser
) -> None:
    """No token: 403. The taskforce reads sessions but cannot apply results; recruiters see none."""
    code, _ = _seated_session(app, clock, 1)
    (reference,) = _references(app, code)
    content = f"reference,score,passed\n{reference},75,yes\n".encode()
    officer = browser()
    make_user(app, "marie", "selection_officer")
    signed_in(officer, "marie")
    assert _upload(officer, code, "forged", content).status_code == 403
    taskforce = browser()
    make_user(app, "tf", "taskforce")
    tf_csrf = signed_in(taskforce, "tf")
    assert taskforce.get(f"/sessions/{code}").status_code == 200
    assert _upload(taskforce, code, tf_csrf, content).status_code == 403
    recruiter = browser()
    make_user(app, "els", "recruiter", services=("DVZ",))
    signed_in(recruiter, "els")
    assert recruiter.get("/sessions").status_code == 403
    assert refusals(app) >= 2
    assert session(app, code)["seat_list"][0]["score"] is None
