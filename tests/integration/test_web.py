"""The staff web pages over a real database: sign-in, sessions, CSRF, scope, the board, bulk moves.

Every test drives the pages as a browser would (GET a page, read its CSRF token,
POST its form) and checks what the database holds afterwards, not only the HTML.
Time moves by the injected ManualClock, never by sleeping.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ats.api.app import create_api
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.users import create_user, disable_user
from ats.web.translations import translator

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account
DVZ = "DVZ-SEC-W1"
CGVS = "CGVS-PROT-W1"
BOARD = f"/vacancies/{DVZ}"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SECURITY_STATES = [  # workflows/security-escort.yaml, in order
    "applied",
    "screened",
    "selor_test",
    "awaiting_interview",
    "interview",
    "interview_missed",
    "medical_check",
    "selected",
    "offer_pending_approval",
    "offer",
    "hired",
    "rejected",
    "withdrawn",
]

Browser = Callable[..., TestClient]
Response = Any  # the test client's response (httpx2's, whichever package provides it)


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def browser(app: App) -> Iterator[Browser]:
    """A factory of fresh browsers (own cookie jar) on one web app; redirects are not followed."""
    api = create_api(app)
    opened: list[TestClient] = []

    def open_browser(**kwargs: Any) -> TestClient:
        client = TestClient(api, follow_redirects=False, **kwargs)
        opened.append(client)
        return client

    yield open_browser
    for client in opened:
        client.close()


@pytest.fixture
def client(browser: Browser) -> TestClient:
    return browser()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found, "the page has no csrf field"
    return found.group(1)


def make_user(app: App, username: str, *roles: str, services: tuple[str, ...] = ()) -> str:
    create_user(
        app,
        username=username,
        display_name=username.title(),
        roles=roles,
        services=services,
        language="en",
        password=PASSWORD,
    )
    return username


def sign_in(
    client: TestClient, username: str, password: str = PASSWORD, *, next: str = "/vacancies"
) -> Response:
    """GET the sign-in form, then POST it with its csrf (which must equal the login cookie)."""
    form = client.get("/login", params={"next": next})
    assert form.status_code == 200
    token = csrf_of(form.text)
    assert token == (client.cookies.get("ats_login") or client.cookies.get("__Host-ats_login"))
    return client.post(
        "/login",
        data={"csrf": token, "next": next, "username": username, "password": password},
    )


def signed_in(client: TestClient, username: str) -> str:
    """Sign ``username`` in on ``client``; the session's CSRF token, read from a page."""
    response = sign_in(client, username)
    assert response.status_code == 303, response.text
    page = client.get("/vacancies")
    assert page.status_code == 200
    return csrf_of(page.text)


def recruiter(app: App, client: TestClient, username: str = "els") -> str:
    """A DVZ recruiter signed in on ``client``; returns the session's CSRF token."""
    make_user(app, username, "recruiter", services=("DVZ",))
    return signed_in(client, username)


def apply(app: App, email: str, vacancy: str = DVZ, name: str = "An Peeters") -> int:
    return int(app.handle(Apply(vacancy=vacancy, name=name, email=email, language="nl")))


def fire(app: App, candidacy_id: int, trigger: str, **facts: object) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=trigger,
            actor="r",
            role="recruiter",
            facts=dict(facts),
            reason="test" if trigger == "reject" else None,
        )
    )


def scalar(app: App, sql: str, **params: object) -> Any:
    with app.engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def refusals(app: App, subject: str | None = None) -> int:
    """How many 'authorisation.failed' audit events (for ``subject``, if given) were recorded."""
    if subject is None:
        return int(
            scalar(app, "SELECT count(*) FROM audit_events WHERE kind = 'authorisation.failed'")
        )
    return int(
        scalar(
            app,
            "SELECT count(*) FROM audit_events WHERE kind = 'authorisation.failed' AND subject = :s",
            s=subject,
        )
    )


def state_of(app: App, candidacy_id: int) -> tuple[str, int]:
    detail = queries.candidacy(app, candidacy_id)
    return detail["state"], detail["version"]


def bulk(client: TestClient, csrf: str, selected: list[str], step: str, **fields: str) -> Response:
    return client.post(
        f"{BOARD}/bulk",
        data={"csrf": csrf, "select": selected, "step": step, "back": BOARD, **fields},
    )


def column_counts(html: str) -> dict[str, int]:
    """Each board column's state and the number in its count badge."""
    return {
        state: int(count)
        for state, count in re.findall(
            r'<h2 id="col-([a-z_]+)">.*?<span class="count"[^>]*>(\d+)</span>', html
        )
    }


def assert_security_headers(response: Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def session_cookie_header(response: Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    matching = [c for c in cookies if "ats_session=" in c]
    assert len(matching) == 1, cookies
    return matching[0]


# -- sign-in ---------------------------------------------------------------------------------


def test_the_sign_in_form_is_bound_to_its_login_cookie(app: App, browser: Browser) -> None:
    """Login CSRF: a sign-in POST whose csrf does not equal this browser's ats_login cookie is 403
    and neither signs anybody in nor counts as a failed password."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    client = browser()
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert 'name="password"' in page.text
    assert 'name="next" value="/vacancies"' in page.text
    token = csrf_of(page.text)
    assert client.cookies.get("ats_login") == token
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    for forged in ("", "not-the-cookie"):
        refused = client.post(
            "/login", data={"csrf": forged, "username": "els", "password": PASSWORD}
        )
        assert refused.status_code == 403
        assert "ats_session" not in refused.headers.get("set-cookie", "")
    stranger = browser()  # the right token, but not this browser's login cookie
    refused = stranger.post("/login", data={"csrf": token, "username": "els", "password": PASSWORD})
    assert refused.status_code == 403
    assert scalar(app, "SELECT count(*) FROM web_sessions") == 0
    assert scalar(app, "SELECT count(*) FROM login_failures") == 0


def test_signing_in_sets_an_httponly_lax_session_cookie_and_goes_to_next(
    app: App, client: TestClient
) -> None:
    """Over plain http the cookie is ats_session, HttpOnly, SameSite=Lax, not Secure; the
    database keeps only a hash of it; the one-off login cookie is removed."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    target = f"/candidacies/{apply(app, 'a@example.org')}"
    response = sign_in(client, "els", next=target)
    assert response.status_code == 303
    assert response.headers["location"] == target
    cookie = session_cookie_header(response)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("ats_session=")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes
    value = client.cookies.get("ats_session")
    assert value
    stored = scalar(app, "SELECT token_hash FROM web_sessions")
    assert stored == hashlib.sha256(value.encode()).hexdigest() != value
    assert client.cookies.get("ats_login") is None
    assert client.get(target).status_code == 200


def test_over_https_the_session_cookie_is_secure_and_host_prefixed(
    app: App, clock: ManualClock
) -> None:
    """With an https public_url the cookie gets Secure and the __Host- prefix (no domain, path /)."""
    secure_app = bootstrap(
        replace(app.settings, public_url="https://ats.example"), clock=clock, engine=app.engine
    )
    make_user(app, "els", "recruiter", services=("DVZ",))
    with TestClient(
        create_api(secure_app), base_url="https://testserver", follow_redirects=False
    ) as client:
        page = client.get("/login")
        login_cookie = page.headers["set-cookie"]
        assert login_cookie.startswith("__Host-ats_login=")
        assert "secure" in login_cookie.lower()
        response = sign_in(client, "els")
        assert response.status_code == 303
        cookie = session_cookie_header(response)
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert cookie.startswith("__Host-ats_session=")
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
        assert not any(a.startswith("domain=") for a in attributes)
        assert client.cookies.get("__Host-ats_login") is None
        assert client.get("/vacancies").status_code == 200
        client.cookies.set("ats_session", client.cookies["__Host-ats_session"])
        del client.cookies["__Host-ats_session"]
        assert client.get("/vacancies").status_code == 303, "the unprefixed name is not honoured"


def test_a_wrong_password_or_unknown_user_is_401_and_audited(app: App, client: TestClient) -> None:
    """Both failures look the same to the browser, set no session, and are each audited and
    counted as a failure (subject web:login)."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    for username, password in (("els", "not the password"), ("nobody", PASSWORD)):
        response = sign_in(client, username, password)
        assert response.status_code == 401
        assert_security_headers(response)
        assert 'id="login-error"' in response.text
        assert "ats_session" not in response.headers.get("set-cookie", "")
        assert csrf_of(response.text) == client.cookies.get("ats_login"), "the form can be retried"
    assert refusals(app, "web:login") == 2
    assert scalar(app, "SELECT count(*) FROM login_failures") == 2
    assert scalar(app, "SELECT count(*) FROM web_sessions") == 0


def test_five_failures_lock_the_username_with_429_and_an_honest_retry_after(
    app: App, client: TestClient, clock: ManualClock
) -> None:
    """After five failures within fifteen minutes even the right password gets 429; Retry-After
    says when the oldest failure leaves the window, and then the right password works."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    make_user(app, "jan", "recruiter", services=("DVZ",))
    for _ in range(5):
        assert sign_in(client, "els", "not the password").status_code == 401
        clock.advance(timedelta(minutes=1))
    locked = sign_in(client, "ELS ", PASSWORD)  # usernames are counted case-insensitively
    assert locked.status_code == 429
    assert_security_headers(locked)
    assert "ats_session" not in locked.headers.get("set-cookie", "")
    retry_after = int(locked.headers["retry-after"])
    assert 600 <= retry_after <= 601  # the oldest failure, 5 minutes ago, leaves in 10 minutes
    assert refusals(app, "web:login") == 5, "every failed password is audited"
    assert sign_in(client, "jan").status_code == 303, "another username is not locked"
    client.cookies.clear()
    clock.advance(timedelta(seconds=retry_after - 5))
    assert sign_in(client, "els").status_code == 429
    clock.advance(timedelta(seconds=5))
    assert sign_in(client, "els").status_code == 303
    assert scalar(app, "SELECT count(*) FROM login_failures WHERE username = 'els'") == 0


def test_failures_older_than_fifteen_minutes_do_not_count(
    app: App, client: TestClient, clock: ManualClock
) -> None:
    """The window slides: four old failures and one new one are not five within the window."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    for _ in range(4):
        assert sign_in(client, "els", "not the password").status_code == 401
    clock.advance(timedelta(minutes=16))
    assert sign_in(client, "els", "not the password").status_code == 401
    assert sign_in(client, "els", "still not it!").status_code == 401
    assert sign_in(client, "els").status_code == 303


def test_twenty_failures_from_one_address_lock_that_address_whatever_the_username(
    app: App, client: TestClient
) -> None:
    """Spraying one password over many usernames is slowed down too: after twenty failures from
    one address within the window, even a correct sign-in from there gets 429 (and a made-up
    X-Forwarded-For does not make a client look like many)."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    for n in range(20):
        client.headers["X-Forwarded-For"] = f"198.51.100.{n}"  # not believed from a client
        assert sign_in(client, f"guess{n}", "Winter2021!!").status_code == 401
    locked = sign_in(client, "els")
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert refusals(app, "web:login") == 20
    assert scalar(app, "SELECT count(*) FROM web_sessions") == 0


def test_a_password_with_spaces_at_its_ends_signs_in_as_typed(app: App, client: TestClient) -> None:
    """Passwords are compared exactly as set: spaces at either end are part of them (the other
    form fields are trimmed, the password must not be)."""
    create_user(
        app,
        username="els",
        display_name="Els",
        roles=["recruiter"],
        services=["DVZ"],
        language="en",
        password="  spaced passphrase  ",  # noqa: S106 - a test account
    )
    assert sign_in(client, "els", "spaced passphrase").status_code == 401
    assert sign_in(client, "els", "  spaced passphrase  ").status_code == 303


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_must_be_a_local_path(app: App, client: TestClient, target: str) -> None:
    """No open redirect: a next that leaves the site is replaced by /vacancies, in the form and
    after sign-in."""
    make_user(app, "els", "recruiter", services=("DVZ",))
    page = client.get("/login", params={"next": target})
    assert 'name="next" value="/vacancies"' in page.text
    response = sign_in(client, "els", next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/vacancies"


def test_pages_send_a_browser_without_session_to_sign_in_and_back(
    app: App, client: TestClient
) -> None:
    """Not signed in: 303 to /login?next=<the page asked for>; signing in there returns to it."""
    candidacy_id = apply(app, "a@example.org")
    make_user(app, "els", "recruiter", services=("DVZ",))
    for path in (
        "/",
        "/vacancies",
        f"{BOARD}?moved={candidacy_id}",
        f"/candidacies/{candidacy_id}",
        "/search?q=peeters",
        "/audit",
    ):
        response = client.get(path)
        assert response.status_code == 303, path
        location = urlsplit(response.headers["location"])
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [path]
    refused = client.post(f"/candidacies/{candidacy_id}/fire", data={"action": "withdraw::"})
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/login?next=")
    nxt = parse_qs(urlsplit(client.get(f"/candidacies/{candidacy_id}").headers["location"]).query)
    back = sign_in(client, "els", next=nxt["next"][0])
    assert back.headers["location"] == f"/candidacies/{candidacy_id}"
    assert state_of(app, candidacy_id) == ("applied", 1)


def test_every_html_page_carries_the_security_headers(app: App, browser: Browser) -> None:
    """Pages show personal data: never cached, never framed, no sniffing, a strict CSP — on
    successes and errors alike."""
    candidacy_id = apply(app, "a@example.org")
    other = apply(app, "b@example.org", CGVS)
    anonymous = browser()
    responses = [anonymous.get("/login")]
    els = browser()
    csrf = recruiter(app, els)
    responses += [
        els.get("/vacancies"),
        els.get(BOARD),
        els.get(f"/candidacies/{candidacy_id}"),
        els.get("/search?q=peeters"),
        els.get(f"/candidacies/{other}"),  # 404 page
        els.get("/audit"),  # 403 page
        els.post("/preferences/language", data={"language": "en"}),  # 403: no csrf
        els.post(BOARD + "/bulk", data={"csrf": csrf, "bulk_trigger": "withdraw"}),  # 400
        els.get("/no-such-page"),  # 404 from the router
        els.get("/logout"),  # 405
    ]
    make_user(app, "audrey", "auditor")
    audrey = browser()
    signed_in(audrey, "audrey")
    responses.append(audrey.get("/audit"))
    assert [r.status_code for r in responses] == [
        *(200, 200, 200, 200, 200),
        *(404, 403, 403, 400, 404, 405),
        200,
    ]
    for response in responses:
        assert_security_headers(response)


# -- sessions --------------------------------------------------------------------------------


def test_a_session_ends_after_an_hour_idle_but_not_while_in_use(
    app: App, client: TestClient, clock: ManualClock
) -> None:
    """Each use restarts the idle hour; an hour without a request ends the session."""
    recruiter(app, client)
    for _ in range(3):
        clock.advance(timedelta(minutes=59))
        assert client.get("/vacancies").status_code == 200
    clock.advance(timedelta(hours=1))
    response = client.get("/vacancies")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_a_session_ends_ten_hours_after_sign_in_however_busy(
    app: App, client: TestClient, clock: ManualClock
) -> None:
    """The absolute lifetime: a browser in constant use must still sign in again after 10 hours."""
    recruiter(app, client)
    for _ in range(11):
        clock.advance(timedelta(minutes=50))
        assert client.get("/vacancies").status_code == 200
    clock.advance(timedelta(minutes=50))  # 10 hours after sign-in
    assert client.get("/vacancies").status_code == 303


def test_signing_out_ends_the_session_on_the_server(app: App, browser: Browser) -> None:
    """Logout deletes the session row: a copy of the old cookie no longer signs anybody in."""
    client = browser()
    csrf = recruiter(app, client)
    cookie = client.cookies["ats_session"]
    refused = client.post("/logout", data={"csrf": "wrong"})
    assert refused.status_code == 403
    assert client.get("/vacancies").status_code == 200, "a forged logout keeps the session"
    response = client.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert scalar(app, "SELECT count(*) FROM web_sessions") == 0
    replay = browser(cookies={"ats_session": cookie})
    assert replay.get("/vacancies").status_code == 303


def test_disabling_a_user_ends_their_sessions(app: App, client: TestClient) -> None:
    """A disabled account is out at once, not at the next idle expiry, and cannot sign in again."""
    recruiter(app, client)
    disable_user(app, "els")
    assert client.get("/vacancies").status_code == 303
    assert scalar(app, "SELECT count(*) FROM web_sessions") == 0
    client.cookies.clear()
    assert sign_in(client, "els").status_code == 401


# -- CSRF and origin -------------------------------------------------------------------------


def test_every_post_without_the_sessions_csrf_token_is_403_and_changes_nothing(
    app: App, browser: Browser
) -> None:
    """Missing, wrong, or another session's token: refused before anything is done."""
    candidacy_id = apply(app, "a@example.org")
    els = browser()
    recruiter(app, els)
    jan = browser()
    jans_token = recruiter(app, jan, "jan")
    posts = [
        ("/preferences/language", {"language": "fr"}),
        (f"/candidacies/{candidacy_id}/fire", {"action": "withdraw:recruiter:1"}),
        (
            f"{BOARD}/bulk",
            {"select": f"{candidacy_id}:1", "bulk_trigger": "withdraw", "step": "confirm"},
        ),
        ("/logout", {}),
    ]
    for path, fields in posts:
        for token in (None, "", "forged", jans_token):
            data = fields if token is None else {**fields, "csrf": token}
            response = els.post(path, data=data)
            assert response.status_code == 403, (path, token)
    assert state_of(app, candidacy_id) == ("applied", 1)
    assert scalar(app, "SELECT language FROM users WHERE username = 'els'") == "en"
    assert els.get("/vacancies").status_code == 200


def test_a_post_from_another_origin_is_403_even_with_the_right_token(
    app: App, client: TestClient
) -> None:
    """A cross-site form post is refused by its Origin header; our own origin is accepted."""
    candidacy_id = apply(app, "a@example.org")
    csrf = recruiter(app, client)
    form = {"csrf": csrf, "action": "withdraw:recruiter:1"}
    for origin in ("https://evil.example", "http://testserver.evil.example"):
        response = client.post(
            f"/candidacies/{candidacy_id}/fire", data=form, headers={"Origin": origin}
        )
        assert response.status_code == 403
    assert state_of(app, candidacy_id) == ("applied", 1)
    page = client.get("/login")
    refused = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "username": "els", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    moved = client.post(
        f"/candidacies/{candidacy_id}/fire", data=form, headers={"Origin": "http://testserver"}
    )
    assert moved.status_code == 303
    assert state_of(app, candidacy_id) == ("withdrawn", 2)


# -- vacancies and the board -----------------------------------------------------------------


def test_the_vacancy_list_shows_only_the_users_services(app: App, client: TestClient) -> None:
    """A DVZ recruiter sees DVZ vacancies and no CGVS one."""
    recruiter(app, client)
    page = client.get("/vacancies")
    assert f'href="/vacancies/{DVZ}"' in page.text
    assert CGVS not in page.text


def test_the_board_shows_a_column_per_state_with_counts_cards_and_actions(
    app: App, client: TestClient
) -> None:
    """Counts come from the database; each card has its id:version checkbox, a direct button for
    what needs nothing typed (withdraw, behind a second click as it ends the candidacy) and a
    link to the form for the rest (screen, reject)."""
    first, second, third = (apply(app, f"p{n}@example.org") for n in range(3))
    fire(app, third, "screen", diploma_level="master")
    csrf = recruiter(app, client)
    page = client.get(BOARD)
    assert page.status_code == 200
    html = page.text
    assert html.count('<section class="column') == len(SECURITY_STATES)
    counts = column_counts(html)
    assert list(counts) == SECURITY_STATES
    assert counts == {s: {"applied": 2, "screened": 1}.get(s, 0) for s in SECURITY_STATES}
    for candidacy_id, version in ((first, 1), (second, 1), (third, 2)):
        assert f'<article class="card" id="c{candidacy_id}"' in html
        assert f'name="select" value="{candidacy_id}:{version}"' in html
        assert (
            f'formaction="/candidacies/{candidacy_id}/fire" name="action" '
            f'value="withdraw:recruiter:{version}"'
        ) in html
        assert f'href="/candidacies/{candidacy_id}#fire-reject"' in html
    withdraw = html.split(f'id="c{first}"')[1].split("</article>")[0]
    assert withdraw.index('<details class="confirm">') < withdraw.index('value="withdraw:')
    assert f'href="/candidacies/{first}#fire-screen"' in html
    assert f'href="/candidacies/{third}#fire-invite_to_selor"' in html
    for field in ('name="bulk_trigger"', 'name="bulk_reason"', 'name="step" value="review"'):
        assert field in html
    assert f'name="csrf" value="{csrf}"' in html


def test_a_direct_action_from_the_board_moves_the_card_and_returns_to_it(
    app: App, client: TestClient
) -> None:
    """The board's button posts to the candidacy's fire route with back=the board; the answer is
    a redirect to the board naming the moved card, whose notice reads the new state."""
    candidacy_id = apply(app, "a@example.org", name="Fatima El Amrani")
    csrf = recruiter(app, client)
    response = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "back": BOARD, "action": "withdraw:recruiter:1"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BOARD}?moved={candidacy_id}#c{candidacy_id}"
    assert state_of(app, candidacy_id) == ("withdrawn", 2)
    assert [h["actor"] for h in queries.history(app, candidacy_id)][-1] == "user:els"
    board = client.get(response.headers["location"])
    assert 'class="notice"' in board.text
    assert "Fatima El Amrani" in board.text
    assert column_counts(board.text)["withdrawn"] == 1
    assert column_counts(board.text)["applied"] == 0


def test_a_recruiter_of_another_service_gets_404_for_its_page_board_and_fire_each_audited(
    app: App, client: TestClient
) -> None:
    """Scope is per object: another service's candidacy and board do not exist for a DVZ
    recruiter, firing on it moves nothing, and each attempt is audited."""
    theirs = apply(app, "b@example.org", CGVS)
    csrf = recruiter(app, client)
    assert refusals(app) == 0
    page = client.get(f"/candidacies/{theirs}")
    assert page.status_code == 404
    assert "b@example.org" not in page.text
    assert client.get(f"/vacancies/{CGVS}").status_code == 404
    fired = client.post(
        f"/candidacies/{theirs}/fire", data={"csrf": csrf, "action": "withdraw:recruiter:1"}
    )
    assert fired.status_code == 404
    assert state_of(app, theirs) == ("applied", 1)
    assert refusals(app, f"candidacy:{theirs}") == 2
    assert refusals(app, f"vacancy:{CGVS}") == 1
    assert refusals(app) == 3
    with app.engine.connect() as connection:
        actors = connection.execute(
            text("SELECT DISTINCT actor FROM audit_events WHERE kind = 'authorisation.failed'")
        ).scalars()
        assert list(actors) == ["user:els"]
    bulk = client.post(
        f"/vacancies/{CGVS}/bulk",
        data={
            "csrf": csrf,
            "select": f"{theirs}:1",
            "bulk_trigger": "withdraw",
            "step": "confirm",
        },
    )
    assert bulk.status_code == 404
    assert state_of(app, theirs) == ("applied", 1)


def test_seeing_every_service_never_grants_acting_outside_ones_own(
    app: App, client: TestClient
) -> None:
    """A DVZ recruiter who is also an auditor reads a CGVS file but is offered no form for it,
    and a forged fire is 404, audited, and moves nothing."""
    theirs = apply(app, "b@example.org", CGVS, name="Fatou Diallo")
    make_user(app, "mixed", "recruiter", "auditor", services=("DVZ",))
    csrf = signed_in(client, "mixed")
    page = client.get(f"/candidacies/{theirs}")
    assert page.status_code == 200
    assert "Fatou Diallo" in page.text
    assert 'name="action"' not in page.text
    fired = client.post(
        f"/candidacies/{theirs}/fire", data={"csrf": csrf, "action": "withdraw:recruiter:1"}
    )
    assert fired.status_code == 404
    assert state_of(app, theirs) == ("applied", 1)
    assert refusals(app, f"candidacy:{theirs}") == 1


def test_a_candidacy_id_beyond_the_databases_range_is_simply_not_found(
    app: App, browser: Browser
) -> None:
    """Ids are 32-bit in the database; a typed-in huge or non-numeric id must be answered before
    it reaches it (SQLite overflows, PostgreSQL says "out of range"): 404, or 400 in a form."""
    client = browser(raise_server_exceptions=False)
    csrf = recruiter(app, client)
    for huge in (2**31, 2**64, "12abc"):
        page = client.get(f"/candidacies/{huge}")
        assert page.status_code == 404
        assert_security_headers(page)
        assert client.get(f"{BOARD}?moved={huge}").status_code == 200
        fired = client.post(
            f"/candidacies/{huge}/fire", data={"csrf": csrf, "action": "withdraw:recruiter:1"}
        )
        assert fired.status_code == 404
        review = bulk(client, csrf, [f"{huge}:1"], "review", bulk_trigger="withdraw")
        assert review.status_code == 400


def test_reaching_for_another_services_candidacies_through_the_bulk_form_is_audited(
    app: App, client: TestClient
) -> None:
    """Firing on a CGVS board, or slipping a CGVS candidacy into a DVZ bulk move, is the same
    reach beyond one's services as GET on that board or a single fire: 404 and audited."""
    theirs = apply(app, "b@example.org", CGVS)
    csrf = recruiter(app, client)
    fields = {"csrf": csrf, "select": f"{theirs}:1", "bulk_trigger": "withdraw", "step": "confirm"}
    assert client.post(f"/vacancies/{CGVS}/bulk", data=fields).status_code == 404
    slipped = bulk(client, csrf, [f"{theirs}:1"], "confirm", bulk_trigger="withdraw")
    assert "refused (404)" in slipped.text
    assert state_of(app, theirs) == ("applied", 1)
    assert refusals(app) == 2


# -- bulk moves ------------------------------------------------------------------------------


def test_bulk_review_lists_what_will_happen_and_changes_nothing(
    app: App, client: TestClient
) -> None:
    """The review step only reads: per candidacy it says whether it will move and why not, and
    the confirm form carries only those that will."""
    ids = [apply(app, f"p{n}@example.org", name=f"Person {n}") for n in range(3)]
    stale = apply(app, "s@example.org", name="Stale Person")
    fire(app, stale, "screen", diploma_level="master")
    csrf = recruiter(app, client)
    outbox_before = scalar(app, "SELECT count(*) FROM outbox_messages")
    audit_before = scalar(app, "SELECT count(*) FROM audit_events")
    selected = [f"{i}:1" for i in ids] + [f"{stale}:1"]
    page = bulk(
        client, csrf, selected, "review", bulk_trigger="reject", bulk_reason="profile mismatch"
    )
    assert page.status_code == 200
    assert_security_headers(page)
    for n in range(3):
        assert f"Person {n}" in page.text
    assert "Stale Person" in page.text
    assert "it moved since you loaded the board" in page.text
    assert page.text.count('<tr class="ok">') == 3
    assert page.text.count('<tr class="refused">') == 1
    confirm = re.findall(r'name="select" value="([^"]+)"', page.text)
    assert confirm == [f"{i}:1" for i in ids]
    assert 'name="step" value="confirm"' in page.text
    assert 'name="bulk_reason" value="profile mismatch"' in page.text
    assert [state_of(app, i) for i in ids] == [("applied", 1)] * 3
    assert state_of(app, stale) == ("screened", 2)
    assert scalar(app, "SELECT count(*) FROM outbox_messages") == outbox_before
    assert scalar(app, "SELECT count(*) FROM audit_events") == audit_before
    assert all(len(queries.history(app, i)) == 1 for i in ids)


def test_bulk_confirm_fires_each_and_reports_per_item_results(app: App, client: TestClient) -> None:
    """Each item moves or is refused on its own: a stale version is 409, another service's
    candidacy is 404, and the rest are rejected with the one reason."""
    ids = [apply(app, f"p{n}@example.org") for n in range(3)]
    theirs = apply(app, "x@example.org", CGVS)
    fire(app, ids[1], "screen", diploma_level="master")
    csrf = recruiter(app, client)
    selected = [f"{ids[0]}:1", f"{ids[1]}:1", f"{ids[2]}:1", f"{theirs}:1"]
    page = bulk(client, csrf, selected, "confirm", bulk_trigger="reject", bulk_reason="no fit")
    assert page.status_code == 200
    assert "2 moved, 2 refused." in page.text
    assert "refused (409)" in page.text
    assert "refused (404)" in page.text
    assert state_of(app, ids[0]) == ("rejected", 2)
    assert state_of(app, ids[1]) == ("screened", 2)
    assert state_of(app, ids[2]) == ("rejected", 2)
    assert state_of(app, theirs) == ("applied", 1)
    last = queries.history(app, ids[0])[-1]
    assert (last["actor"], last["reason"]) == ("user:els", "no fit")


def test_a_bulk_move_that_needs_a_reason_moves_nothing_without_one(
    app: App, client: TestClient
) -> None:
    """Reject requires a reason: the review says so for each, and a confirm anyway refuses each."""
    ids = [apply(app, f"p{n}@example.org") for n in range(2)]
    csrf = recruiter(app, client)
    selected = [f"{i}:1" for i in ids]
    review = bulk(client, csrf, selected, "review", bulk_trigger="reject")
    assert review.status_code == 200
    assert review.text.count('<tr class="refused">') == 2
    assert 'value="confirm"' not in review.text
    result = bulk(client, csrf, selected, "confirm", bulk_trigger="reject")
    assert "0 moved, 2 refused." in result.text
    assert [state_of(app, i) for i in ids] == [("applied", 1)] * 2


# -- one candidacy ---------------------------------------------------------------------------


def test_the_candidacy_page_shows_facts_timeline_deadlines_emails_and_what_one_may_do(
    app: App, client: TestClient
) -> None:
    """Everything a recruiter needs in one page: recorded facts, every step, armed deadlines,
    the emails in the outbox, a form per trigger they may fire, and why the others are not theirs."""
    candidacy_id = apply(app, "a@example.org", name="An Peeters")
    fire(app, candidacy_id, "screen", diploma_level="master")
    csrf = recruiter(app, client)
    invited = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={
            "csrf": csrf,
            "action": "invite_to_selor:recruiter:2",
            "fact.selor_session_at": "2021-07-24T09:00",
            "fact.selor_session_place": "Brussels, WTC III",
        },
    )
    assert invited.status_code == 303, invited.text
    assert state_of(app, candidacy_id) == ("selor_test", 3)
    page = client.get(f"/candidacies/{candidacy_id}")
    assert page.status_code == 200
    html = page.text
    assert "An Peeters" in html
    assert "a@example.org" in html
    assert "<dd>master</dd>" in html
    assert "Brussels, WTC III" in html
    timeline = html.split('id="h-timeline"')[1].split("</section>")[0]
    assert timeline.count("<li>") == 3
    for trigger in ("apply", "screen", "invite to selor"):
        assert f"<strong>{trigger}</strong>" in timeline
    timers = html.split('id="h-timers"')[1].split("</section>")[0]
    assert "selor no show" in timers
    assert "selor reminder" in timers
    emails = html.split('id="h-emails"')[1].split("</section>")[0]
    for template in ("application_received", "screened", "selor_invited"):
        assert template in emails
    for trigger in ("reschedule_selor", "reject", "withdraw"):
        assert f'id="fire-{trigger}"' in html
        assert f'name="action" value="{trigger}:recruiter:3"' in html
    assert html.count(f'name="csrf" value="{csrf}"') >= 3
    blocked = html.split('class="blocked"')[1].split("</ul>")[0]
    assert "<strong>pass selor</strong>" in blocked
    assert "only selor may do this" in blocked
    assert "<strong>selor no show</strong>" in blocked
    assert "happens by itself when the deadline passes" in blocked


def test_firing_from_the_candidacy_page_records_the_facts_and_redirects(
    app: App, client: TestClient
) -> None:
    """A successful fire is a 303 back to the page, which names the new state."""
    candidacy_id = apply(app, "a@example.org", name="An Peeters")
    csrf = recruiter(app, client)
    form = client.get(f"/candidacies/{candidacy_id}").text
    assert 'name="fact.diploma_level"' in form
    response = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "screen:recruiter:1", "fact.diploma_level": "master"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/candidacies/{candidacy_id}?moved={candidacy_id}"
    detail = queries.candidacy(app, candidacy_id)
    assert (detail["state"], detail["version"]) == ("screened", 2)
    assert detail["facts"] == {"diploma_level": "master"}
    page = client.get(response.headers["location"])
    assert 'class="notice"' in page.text
    assert "An Peeters" in page.text


def test_a_refusing_guard_or_a_missing_reason_is_422_on_the_candidacy_page(
    app: App, client: TestClient
) -> None:
    """Refusals come back as the candidacy page with the reasons, and nothing moves."""
    candidacy_id = apply(app, "a@example.org", name="An Peeters")
    csrf = recruiter(app, client)
    guard = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "screen:recruiter:1", "fact.diploma_level": "none"},
    )
    assert guard.status_code == 422
    assert_security_headers(guard)
    assert "Not moved." in guard.text
    assert "secondary-school diploma" in guard.text
    assert 'id="fire-screen"' in guard.text, "the page, with its forms, not a bare error"
    no_reason = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "reject:recruiter:1", "reason": "  "},
    )
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text.split('role="alert"')[1].split("</div>")[0]
    assert state_of(app, candidacy_id) == ("applied", 1)
    assert queries.candidacy(app, candidacy_id)["facts"] == {}
    with_reason = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "reject:recruiter:1", "reason": "profile does not match"},
    )
    assert with_reason.status_code == 303
    assert state_of(app, candidacy_id) == ("rejected", 2)


def test_a_role_that_may_not_fire_the_trigger_is_403_on_the_candidacy_page(
    app: App, client: TestClient
) -> None:
    """A recruiter who is also a Selor officer may not screen as Selor: 403 with the reason."""
    candidacy_id = apply(app, "a@example.org", name="An Peeters")
    make_user(app, "mixed", "recruiter", "selection_officer", services=("DVZ",))
    csrf = signed_in(client, "mixed")
    response = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "screen:selor:1", "fact.diploma_level": "master"},
    )
    assert response.status_code == 403
    assert "Not moved." in response.text
    assert "<h1>An Peeters" in response.text
    assert state_of(app, candidacy_id) == ("applied", 1)


def test_a_malformed_fact_or_action_is_400_and_changes_nothing(
    app: App, client: TestClient
) -> None:
    """A value outside the fact's choices, or an action that is not trigger:role:version."""
    candidacy_id = apply(app, "a@example.org")
    csrf = recruiter(app, client)
    bad_fact = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "screen:recruiter:1", "fact.diploma_level": "phd"},
    )
    assert bad_fact.status_code == 400
    assert "Not moved." in bad_fact.text
    for action in ("screen", "screen:recruiter:one", "::1"):
        response = client.post(
            f"/candidacies/{candidacy_id}/fire", data={"csrf": csrf, "action": action}
        )
        assert response.status_code == 400, action
    assert state_of(app, candidacy_id) == ("applied", 1)


def test_a_stale_version_in_the_action_is_409_and_shows_the_candidacy_as_it_is_now(
    app: App, client: TestClient
) -> None:
    """Optimistic locking: a form loaded at version 1 cannot move a candidacy now at version 2;
    the answer is the candidacy page with fresh forms, so the user sees what changed."""
    candidacy_id = apply(app, "a@example.org", name="An Peeters")
    csrf = recruiter(app, client)
    fire(app, candidacy_id, "screen", diploma_level="master")
    response = client.post(
        f"/candidacies/{candidacy_id}/fire",
        data={"csrf": csrf, "action": "withdraw:recruiter:1"},
    )
    assert response.status_code == 409
    assert_security_headers(response)
    assert "Not moved." in response.text
    assert 'name="action" value="withdraw:recruiter:2"' in response.text
    assert state_of(app, candidacy_id) == ("screened", 2)


# -- search ----------------------------------------------------------------------------------


def test_search_finds_by_name_email_reference_and_id_within_the_users_services(
    app: App, client: TestClient
) -> None:
    """The four ways in, each scoped: a CGVS candidacy is never found by a DVZ recruiter; case
    is ignored, accented capitals included, on both databases."""
    mine = apply(app, "fatima@example.org", name="Fatima El Amrani")
    accented = apply(app, "ed@example.org", name="Élodie Dupré")
    theirs = apply(app, "fatou@example.org", CGVS, name="Fatou Diallo")
    reference = queries.candidacy(app, mine)["candidate"]["key"]
    their_reference = queries.candidacy(app, theirs)["candidate"]["key"]
    recruiter(app, client)

    def found(q: str) -> list[int]:
        page = client.get("/search", params={"q": q})
        assert page.status_code == 200
        return [
            int(i) for i in re.findall(r'<th scope="row"><a href="/candidacies/(\d+)"', page.text)
        ]

    assert found("el amrani") == [mine]
    assert found("FATIMA@example") == [mine]
    assert found(reference) == [mine]
    assert found(str(mine)) == [mine]
    assert found("fat") == [mine], "Fatou is CGVS's"
    assert found("fatou@example.org") == []
    assert found(their_reference) == []
    assert found(str(theirs)) == []
    assert found("DUPRÉ") == found("dupré") == found("éLODIE") == [accented]


def test_search_treats_like_wildcards_as_plain_characters(app: App, client: TestClient) -> None:
    """'%' and '_' are not wildcards: searching for them finds nobody instead of everybody."""
    apply(app, "a@example.org")
    recruiter(app, client)
    for q in ("%", "_", "%@%"):
        page = client.get("/search", params={"q": q})
        assert "0 found" in page.text, q
    assert "1 found" in client.get("/search", params={"q": "@"}).text


# -- audit -----------------------------------------------------------------------------------


def test_auditors_view_verify_and_export_the_audit_log(app: App, client: TestClient) -> None:
    """The auditor's three tools: the entries, an integrity check, and a CSV with its checksum."""
    candidacy_id = apply(app, "a@example.org")
    make_user(app, "audrey", "auditor")
    csrf = signed_in(client, "audrey")
    page = client.get("/audit", params={"vacancy": DVZ})
    assert page.status_code == 200
    assert f'href="/candidacies/{candidacy_id}"' in page.text
    assert 'action="/audit/export"' in page.text
    assert f'name="vacancy" value="{DVZ}"' in page.text, "the export keeps the filter"
    assert client.post("/audit/verify", data={"csrf": "forged"}).status_code == 403
    verified = client.post("/audit/verify", data={"csrf": csrf})
    assert verified.status_code == 200
    assert "Verified: every chain is intact." in verified.text
    assert client.post("/audit/export", data={"format": "csv"}).status_code == 403, "no token"
    assert client.get("/audit/export", params={"format": "csv"}).status_code == 405, "no link"
    exported = client.post("/audit/export", data={"csrf": csrf, "format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["cache-control"] == "no-store"
    assert exported.headers["x-ats-sha256"] == hashlib.sha256(exported.content).hexdigest()
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert len(rows) - 1 == int(exported.headers["x-ats-rows"]) >= 1
    assert client.post("/audit/export", data={"csrf": csrf, "format": "xml"}).status_code == 400
    filtered = client.post("/audit/export", data={"csrf": csrf, "format": "csv", "vacancy": CGVS})
    assert int(filtered.headers["x-ats-rows"]) == 0
    assert refusals(app) == 0


def test_the_taskforce_may_view_the_audit_log_but_not_export_it(
    app: App, client: TestClient
) -> None:
    """Watching is the taskforce's job; taking the log away is not: 403 and audited."""
    make_user(app, "tf", "taskforce")
    csrf = signed_in(client, "tf")
    page = client.get("/audit")
    assert page.status_code == 200
    assert "/audit/export" not in page.text
    refused = client.post("/audit/export", data={"csrf": csrf, "format": "csv"})
    assert refused.status_code == 403
    assert_security_headers(refused)
    assert refusals(app, "web:audit-export") == 1


def test_recruiters_get_403_on_the_audit_pages_and_each_attempt_is_audited(
    app: App, client: TestClient
) -> None:
    """Not even a link, and reaching for the URLs is recorded."""
    csrf = recruiter(app, client)
    assert 'href="/audit"' not in client.get("/vacancies").text
    assert client.get("/audit").status_code == 403
    assert client.post("/audit/export", data={"csrf": csrf, "format": "csv"}).status_code == 403
    assert client.post("/audit/verify", data={"csrf": csrf}).status_code == 403
    assert refusals(app, "web:audit") == 3


# -- language --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "fr", "en"])
def test_the_chosen_language_is_kept_on_the_account_and_spoken_by_the_pages(
    app: App, client: TestClient, language: str
) -> None:
    """The preference is stored on the user (it survives signing in again) and every page
    declares it and uses its words."""
    csrf = recruiter(app, client)
    response = client.post(
        "/preferences/language", data={"csrf": csrf, "language": language, "next": "/search"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/search"
    assert scalar(app, "SELECT language FROM users WHERE username = 'els'") == language
    page = client.get("/search")
    assert f'<html lang="{language}">' in page.text
    assert translator(language)("Search candidates") in page.text
    assert f'<option value="{language}" selected' in page.text
    client.cookies.clear()
    signed_in(client, "els")
    assert f'<html lang="{language}">' in client.get(BOARD).text


def test_before_sign_in_the_page_speaks_the_browsers_language(client: TestClient) -> None:
    """The sign-in page follows Accept-Language among nl, fr and en, else English."""
    for header, language in (
        ("fr-BE,fr;q=0.9,en;q=0.5", "fr"),
        ("de-DE,nl;q=0.8", "nl"),
        ("de", "en"),
    ):
        page = client.get("/login", headers={"Accept-Language": header})
        assert f'<html lang="{language}">' in page.text, header


def test_a_language_the_interface_does_not_speak_is_refused(app: App, client: TestClient) -> None:
    """German is a candidate language, not an interface one: 400 and the preference unchanged."""
    csrf = recruiter(app, client)
    response = client.post("/preferences/language", data={"csrf": csrf, "language": "de"})
    assert response.status_code == 400
    assert scalar(app, "SELECT language FROM users WHERE username = 'els'") == "en"
    assert '<html lang="en">' in client.get("/vacancies").text


def test_a_candidacy_under_legal_hold_says_so_on_its_page_until_lifted(
    app: App, client: TestClient
) -> None:
    """The recruiter sees the hold, since when and why; once lifted the notice is gone."""
    from ats.service.privacy import hold

    recruiter(app, client)
    candidacy_id = apply(app, "held@example.org")
    page = f"/candidacies/{candidacy_id}"
    assert 'id="legal-hold"' not in client.get(page).text

    hold(app, candidacy_id, on=True, reason="appeal at the Council of State", actor="admin:e")
    shown = client.get(page).text
    assert 'id="legal-hold"' in shown
    assert "appeal at the Council of State" in shown

    hold(app, candidacy_id, on=False, reason="appeal dismissed", actor="admin:e")
    assert 'id="legal-hold"' not in client.get(page).text


def test_the_board_counts_every_candidacy_but_loads_only_the_cards_it_shows(
    app: App, clock: ManualClock
) -> None:
    """Open columns show their oldest cards, final ones their latest few; counts are whole."""
    from ats.domain.access import Principal
    from ats.service.pipeline import FINAL_CARDS, board

    ids = []
    for n in range(FINAL_CARDS + 5):
        clock.set(clock.now() + timedelta(minutes=1))
        ids.append(apply(app, f"person{n}@example.org"))
    withdrawn = ids[: FINAL_CARDS + 2]
    for candidacy_id in withdrawn:
        clock.set(clock.now() + timedelta(minutes=1))
        fire(app, candidacy_id, "withdraw")
    who = Principal(1, "els", frozenset({"recruiter"}), frozenset({"DVZ"}))

    shown = board(app, DVZ, who, language="en", per_column=2)

    columns = {c["state"]: c for c in shown["columns"]}
    assert shown["total"] == len(ids)
    assert columns["applied"]["count"] == 3
    assert [c["id"] for c in columns["applied"]["cards"]] == ids[FINAL_CARDS + 2 : FINAL_CARDS + 4]
    assert columns["withdrawn"]["count"] == FINAL_CARDS + 2
    assert [c["id"] for c in columns["withdrawn"]["cards"]] == withdrawn[-FINAL_CARDS:]
