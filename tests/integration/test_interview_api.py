"""The interview over the API: blind scorecards, the chair's decision, the approvals queue.

Runs on the four-eyes home copy of tests/integration/test_four_eyes.py (a
protection-officer workflow with the interview block and an offer needing
approval), with a bearer token per user.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ats.api.app import create_api
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply
from ats.service.users import create_token
from tests.conftest import walk
from tests.integration.test_four_eyes import VACANCY, app, home  # noqa: F401 - fixtures

API = "/api/v1"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:  # noqa: F811 - the fixture above
    with TestClient(create_api(app)) as client:
        yield client


def bearer(app: App, username: str) -> dict[str, str]:  # noqa: F811
    return {"Authorization": "Bearer " + create_token(app, username, "test")[0]}


def at_interview(app: App) -> tuple[int, list[str]]:  # noqa: F811
    candidacy = app.handle(
        Apply(vacancy=VACANCY, name="Jan Peeters", email="jan@example.be", language="nl")
    )
    definition = walk(app, candidacy, "interview", actor="user:rita")
    assert definition.interview is not None
    return candidacy, [c.name for c in definition.interview.criteria]


def test_scoring_is_blind_and_the_chair_decides_over_the_api(
    app: App,  # noqa: F811
    client: TestClient,
) -> None:
    from ats.service.interviews import set_panel

    candidacy, names = at_interview(app)
    set_panel(app, VACANCY, ["pia", "paul"], "pia", actor="user:rita", role="recruiter")
    pia, paul = bearer(app, "pia"), bearer(app, "paul")

    filed = client.post(
        f"{API}/candidacies/{candidacy}/scorecards",
        json={"scores": dict.fromkeys(names, 4), "comment": "precise"},
        headers=paul,
    )
    assert filed.status_code == 201, filed.text
    blind: dict[str, Any] = client.get(
        f"{API}/candidacies/{candidacy}/interview", headers=pia
    ).json()
    assert (blind["blind"], blind["cards"], blind["submitted"]) == (True, [], 1)
    assert "precise" not in str(blind)

    again = client.post(
        f"{API}/candidacies/{candidacy}/scorecards",
        json={"scores": dict.fromkeys(names, 5)},
        headers=paul,
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    off_scale = client.post(
        f"{API}/candidacies/{candidacy}/scorecards",
        json={"scores": dict.fromkeys(names, 9)},
        headers=pia,
    )
    assert off_scale.status_code == 400
    assert "outside the scale" in off_scale.json()["detail"]

    assert (
        client.post(
            f"{API}/candidacies/{candidacy}/scorecards",
            json={"scores": dict.fromkeys(names, 3)},
            headers=pia,
        ).status_code
        == 201
    )
    seen = client.get(f"{API}/candidacies/{candidacy}/interview", headers=pia).json()
    assert not seen["blind"]
    assert sorted(c["total"] for c in seen["cards"]) == [12, 16]

    by_member = client.post(
        f"{API}/candidacies/{candidacy}/interview/decision",
        json={"scores": dict.fromkeys(names, 3), "motivation": "fine"},
        headers=paul,
    )
    assert by_member.status_code == 403
    decided = client.post(
        f"{API}/candidacies/{candidacy}/interview/decision",
        json={"scores": dict.fromkeys(names, 3), "motivation": "Calm and clear."},
        headers=pia,
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["to"] == "selected"
    assert queries.candidacy(app, candidacy)["state"] == "selected"


def test_the_approvals_queue_is_for_approvers_and_four_eyes_hold_over_the_api(
    app: App,  # noqa: F811
    client: TestClient,
) -> None:
    from tests.integration.test_four_eyes import selected

    candidacy = selected(app)
    hana, anna = bearer(app, "hana"), bearer(app, "anna")
    assert client.get(f"{API}/approvals", headers=hana).status_code == 403
    asked = client.post(
        f"{API}/candidacies/{candidacy}/transitions",
        json={"trigger": "request_offer"},
        headers=hana,
    )
    assert asked.status_code == 201, asked.text
    queue = client.get(f"{API}/approvals", headers=anna).json()
    assert [(w["id"], w["requested_by"]) for w in queue] == [(candidacy, "user:hana")]
    own = client.post(
        f"{API}/candidacies/{candidacy}/transitions",
        json={"trigger": "approve_offer", "role": "approver"},
        headers=bearer(app, "duo"),
    )
    assert own.status_code == 403
    assert "sat on the interview panel" in own.text
    approved = client.post(
        f"{API}/candidacies/{candidacy}/transitions",
        json={"trigger": "approve_offer"},
        headers=anna,
    )
    assert approved.status_code == 201, approved.text
    assert client.get(f"{API}/approvals", headers=anna).json() == []
