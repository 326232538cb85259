"""The HTTP API over a real database: tokens, scopes, problem details, If-Match."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ats.api.app import create_api
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.users import create_token, create_user, disable_user


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_api(app)) as test_client:
        yield test_client


def _token(app: App, username: str, *roles: str, services: tuple[str, ...] = ()) -> dict[str, str]:
    create_user(
        app, username=username, display_name=username.title(), roles=roles, services=services
    )
    secret, _ = create_token(app, username, "tests")
    return {"Authorization": f"Bearer {secret}"}


def _apply(app: App, email: str, vacancy: str) -> int:
    return int(app.handle(Apply(vacancy=vacancy, name="An Peeters", email=email, language="nl")))


def test_requests_without_a_valid_token_get_401_problem_details(
    app: App, client: TestClient
) -> None:
    for headers in ({}, {"Authorization": "Bearer ats_nope"}, {"Authorization": "Basic x"}):
        response = client.get("/api/v1/vacancies", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        problem = response.json()
        assert problem["status"] == 401
        assert problem["type"].endswith("/unauthenticated")


def test_a_recruiter_sees_only_their_services_and_gets_404_elsewhere(
    app: App, client: TestClient
) -> None:
    """Scope is checked per object: another service's candidacy does not exist for them."""
    mine = _apply(app, "a@example.org", "DVZ-SEC-W1")
    theirs = _apply(app, "b@example.org", "CGVS-PROT-W1")
    els = _token(app, "els", "recruiter", services=("DVZ",))
    listed = client.get("/api/v1/candidacies", headers=els).json()
    assert [c["id"] for c in listed["items"]] == [mine]
    assert {v["service"] for v in client.get("/api/v1/vacancies", headers=els).json()} == {"DVZ"}
    assert client.get(f"/api/v1/candidacies/{mine}", headers=els).status_code == 200
    for path in (f"/api/v1/candidacies/{theirs}", f"/api/v1/candidacies/{theirs}/history"):
        assert client.get(path, headers=els).status_code == 404
    refused = client.post(
        f"/api/v1/candidacies/{theirs}/transitions", headers=els, json={"trigger": "withdraw"}
    )
    assert refused.status_code == 404
    with app.engine.connect() as connection:
        audited = connection.execute(
            text("SELECT count(*) FROM audit_events WHERE kind = 'authorisation.failed'")
        ).scalar_one()
    assert audited == 3, "every out-of-scope attempt is audited"
    taskforce = _token(app, "tf", "taskforce")
    assert client.get(f"/api/v1/candidacies/{theirs}", headers=taskforce).status_code == 200


def test_a_transition_with_if_match_moves_once_and_a_stale_version_gets_409(
    app: App, client: TestClient
) -> None:
    candidacy_id = _apply(app, "a@example.org", "DVZ-SEC-W1")
    els = _token(app, "els", "recruiter", services=("DVZ",))
    seen = client.get(f"/api/v1/candidacies/{candidacy_id}", headers=els)
    etag = seen.headers["etag"]
    assert seen.headers["cache-control"] == "no-store"
    body = {"trigger": "screen", "facts": {"diploma_level": "master"}}
    moved = client.post(
        f"/api/v1/candidacies/{candidacy_id}/transitions",
        headers={**els, "If-Match": etag},
        json=body,
    )
    assert moved.status_code == 201, moved.text
    assert moved.json() == {
        "candidacy": candidacy_id,
        "trigger": "screen",
        "from": "applied",
        "to": "screened",
        "version": 2,
    }
    stale = client.post(
        f"/api/v1/candidacies/{candidacy_id}/transitions",
        headers={**els, "If-Match": etag},
        json={"trigger": "reject", "reason": "too late"},
    )
    assert stale.status_code == 409
    assert stale.json()["title"] == "ConflictError"
    history = client.get(f"/api/v1/candidacies/{candidacy_id}/history", headers=els).json()
    assert [h["actor"] for h in history] == [history[0]["actor"], "user:els"]


def test_a_refusing_guard_is_named_in_a_422_and_a_foreign_role_is_403(
    app: App, client: TestClient
) -> None:
    candidacy_id = _apply(app, "a@example.org", "DVZ-SEC-W1")
    els = _token(app, "els", "recruiter", services=("DVZ",))
    refused = client.post(
        f"/api/v1/candidacies/{candidacy_id}/transitions",
        headers=els,
        json={"trigger": "screen", "facts": {"diploma_level": "none"}},
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert any("diploma_level" in reason for reason in problem["reasons"])
    as_selor = client.post(
        f"/api/v1/candidacies/{candidacy_id}/transitions",
        headers=els,
        json={"trigger": "screen", "role": "selor", "facts": {"diploma_level": "master"}},
    )
    assert as_selor.status_code == 403
    assert "you do not hold role 'selor'" in as_selor.json()["detail"]
    auditor = _token(app, "audrey", "auditor")
    cannot = client.post(
        f"/api/v1/candidacies/{candidacy_id}/transitions",
        headers=auditor,
        json={"trigger": "screen", "facts": {"diploma_level": "master"}},
    )
    assert cannot.status_code == 403


def test_malformed_requests_are_422_problems_and_change_nothing(
    app: App, client: TestClient
) -> None:
    candidacy_id = _apply(app, "a@example.org", "DVZ-SEC-W1")
    els = _token(app, "els", "recruiter", services=("DVZ",))
    for body, headers in (
        ({}, {}),
        ({"trigger": ""}, {}),
        ({"trigger": "screen"}, {"If-Match": "yesterday"}),
    ):
        response = client.post(
            f"/api/v1/candidacies/{candidacy_id}/transitions", headers={**els, **headers}, json=body
        )
        assert response.status_code in (400, 422)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/candidacies/{candidacy_id}", headers=els).json()["version"] == 1


def test_revoked_tokens_and_disabled_users_are_refused(app: App, client: TestClient) -> None:
    els = _token(app, "els", "recruiter", services=("DVZ",))
    assert client.get("/api/v1/vacancies", headers=els).status_code == 200
    disable_user(app, "els")
    assert client.get("/api/v1/vacancies", headers=els).status_code == 401


def test_search_and_paging(app: App, client: TestClient) -> None:
    ids = [_apply(app, f"p{n}@example.org", "DVZ-SEC-W1") for n in range(5)]
    tf = _token(app, "tf", "taskforce")
    page = client.get("/api/v1/candidacies?per_page=2&page=2", headers=tf).json()
    assert (page["total"], [c["id"] for c in page["items"]]) == (5, ids[2:4])
    found = client.get("/api/v1/candidacies?q=p3@example", headers=tf).json()
    assert [c["id"] for c in found["items"]] == [ids[3]]


def test_the_committed_openapi_document_is_current(app: App) -> None:
    """docs/openapi.json is what the API serves; regenerate with `make docs`."""
    import json
    from pathlib import Path

    served = create_api(app).openapi()
    committed = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text()
    )
    assert committed == served, "run `make docs` to refresh docs/openapi.json"


def test_bulk_transitions_report_per_item_results(app: App, client: TestClient) -> None:
    """Three rejections with one reason: each item moves or says why not, independently."""
    ids = [_apply(app, f"p{n}@example.org", "DVZ-SEC-W1") for n in range(3)]
    other = _apply(app, "x@example.org", "CGVS-PROT-W1")
    els = _token(app, "els", "recruiter", services=("DVZ",))
    response = client.post(
        "/api/v1/transitions/bulk",
        headers=els,
        json={
            "trigger": "reject",
            "reason": "profile does not match",
            "items": [
                {"candidacy": ids[0]},
                {"candidacy": ids[1], "version": 7},
                {"candidacy": ids[2]},
                {"candidacy": other},
            ],
        },
    )
    assert response.status_code == 200
    result = response.json()
    assert [r["status"] for r in result["results"]] == [201, 409, 201, 404]
    assert (result["moved"], result["refused"]) == (2, 2)


def test_auditors_read_and_export_the_log_and_recruiters_may_not(
    app: App, client: TestClient
) -> None:
    import csv
    import hashlib
    import io

    _apply(app, "a@example.org", "DVZ-SEC-W1")
    auditor = _token(app, "audrey", "auditor")
    els = _token(app, "els", "recruiter", services=("DVZ",))
    assert client.get("/api/v1/audit", headers=els).status_code == 403
    entries = client.get("/api/v1/audit?vacancy=DVZ-SEC-W1", headers=auditor).json()
    assert [e["trigger"] for e in entries] == ["apply"]
    bad = client.get("/api/v1/audit?since=2021-13-01", headers=auditor)
    assert bad.status_code == 400
    exported = client.get("/api/v1/audit/export?format=csv", headers=auditor)
    assert exported.status_code == 200
    assert exported.headers["x-ats-sha256"] == hashlib.sha256(exported.content).hexdigest()
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert len(rows) - 1 == int(exported.headers["x-ats-rows"]) == 1
    assert client.get("/api/v1/outbox", headers=auditor).status_code == 403
    assert client.get("/api/v1/workers", headers=_token(app, "root", "admin")).status_code == 200


def test_seeing_everything_never_grants_acting_outside_ones_services(
    app: App, client: TestClient
) -> None:
    """A DVZ recruiter who is also an auditor reads CGVS files but cannot move them."""
    other = _apply(app, "x@example.org", "CGVS-PROT-W1")
    both = _token(app, "mixed", "recruiter", "auditor", services=("DVZ",))
    assert client.get(f"/api/v1/candidacies/{other}", headers=both).status_code == 200
    moved = client.post(
        f"/api/v1/candidacies/{other}/transitions",
        headers=both,
        json={"trigger": "withdraw", "role": "recruiter"},
    )
    assert moved.status_code == 404
    assert client.get(f"/api/v1/candidacies/{other}", headers=both).json()["state"] == "applied"


def test_selection_officers_without_services_serve_every_service(
    app: App, client: TestClient
) -> None:
    candidacy_id = _apply(app, "a@example.org", "CGVS-PROT-W1")
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="screen",
            actor="r",
            role="recruiter",
            facts={"diploma_level": "master"},
        )
    )
    selor = _token(app, "selor", "selection_officer")
    assert client.get(f"/api/v1/candidacies/{candidacy_id}", headers=selor).status_code == 200
