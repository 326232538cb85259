"""The candidate's status page: a signed, expiring link from the mail; no login; withdrawal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ats.adapters.status_links import LinkInvalid, open_link, sign
from ats.api.app import create_api
from ats.clock import ManualClock
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply
from ats.service.status_page import status_url


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_api(app)) as test_client:
        yield test_client


def _apply(app: App, email: str, language: str = "fr") -> int:
    return int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="Zoë Lambert", email=email, language=language))
    )


def _path(app: App, candidacy_id: int) -> str:
    return "/" + status_url(app, candidacy_id).split("/", 3)[3]


def test_links_are_signed_and_expire(clock: ManualClock) -> None:
    key = b"k" * 32
    token = sign(key, 7, clock.now() + timedelta(days=1))
    assert open_link(key, token, now=clock.now()) == 7
    forged = token.replace("7.", "8.", 1)
    for bad, at in (
        (forged, clock.now()),
        (token, clock.now() + timedelta(days=2)),
        ("x", clock.now()),
    ):
        with pytest.raises(LinkInvalid):
            open_link(key, bad, now=at)
    with pytest.raises(LinkInvalid):
        open_link(b"other" * 8, token, now=clock.now())


def test_the_page_shows_the_status_in_the_candidates_language_and_nothing_else(
    app: App, client: TestClient
) -> None:
    mine = _apply(app, "zoe@example.org", "fr")
    _apply(app, "other@example.org", "nl")
    response = client.get(_path(app, mine))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "État de votre candidature" in response.text
    assert queries.candidacy(app, mine)["public"]["fr"] in response.text
    assert "other@example.org" not in response.text
    assert "Zoë Lambert" in response.text


def test_a_tampered_or_expired_link_shows_nothing(
    app: App, client: TestClient, clock: ManualClock
) -> None:
    mine = _apply(app, "zoe@example.org")
    path = _path(app, mine)
    other = _apply(app, "other@example.org")
    assert client.get(path.replace(f"/{mine}.", f"/{other}.")).status_code == 404
    clock.advance(timedelta(days=181))
    expired = client.get(path)
    assert expired.status_code == 404
    assert "Zoë" not in expired.text


def test_the_candidate_withdraws_after_confirming(app: App, client: TestClient) -> None:
    mine = _apply(app, "zoe@example.org")
    path = _path(app, mine)
    unconfirmed = client.post(
        f"{path}/withdraw",
        content=b"",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unconfirmed.status_code == 400
    assert queries.candidacy(app, mine)["state"] == "applied"
    done = client.post(
        f"{path}/withdraw",
        content=b"confirm=yes",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    assert "Votre candidature a été retirée." in done.text
    last = queries.history(app, mine)[-1]
    assert (last["trigger"], last["role"]) == ("withdraw", "candidate")
    assert last["actor"].startswith("candidate:")
    assert "Retirer ma candidature" not in done.text, "a final state offers no withdrawal"


def test_mail_links_to_the_candidates_own_page(app: App) -> None:
    from sqlalchemy import select

    from ats.adapters.db.store import OUTBOX
    from ats.service.outbox import compose

    mine = _apply(app, "zoe@example.org")
    with app.unit_of_work() as uow:
        row = uow.connection.execute(select(OUTBOX)).mappings().one()
        mail = compose(app, uow, row)
    assert f"{app.settings.public_url}/status/{mine}." in mail.text
    assert f"/status/{mine}." in mail.html
