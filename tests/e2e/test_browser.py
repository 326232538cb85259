"""Staff and candidates use the served pages in a real browser (Debian's chromium via Playwright).

One `ats serve` (web, API and worker, so the outbox relay delivers mail into a folder) per
database kind, seeded through the CLI; every test drives the pages and then checks the CLI
agrees. Each test works on its own candidates, so the tests do not depend on each other.

Set ATS_SCREENSHOTS=FOLDER to also save board.png and candidacy.png (SQLite run only).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import pytest

from tests.conftest import REPO
from tests.e2e.conftest import COMMAND, Ats, served

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright cannot download a browser here
if not os.access(CHROMIUM, os.X_OK) or not shutil.which("chromium"):
    pytest.skip(
        f"Debian's chromium is not installed ({CHROMIUM}): apt-get install chromium",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VACANCY = "DVZ-SEC-W1"
RECRUITER, PASSWORD = "els", "correct horse battery staple"
TASKFORCE = "tom"
MAIL_WAIT = 20.0  # seconds for the relay (every second here) to deliver a message
SHOTS = os.environ.get("ATS_SCREENSHOTS")

# Who is on the board, and which test moves them (each test has its own).
CANDIDATES = {
    "Anna Peeters": "direct button",
    "Bram Janssens": "candidacy page forms",
    "Chloé Dubois": "bulk reject",
    "Dries Maes": "bulk reject",
    "Emma Jacobs": "bulk reject",
    "Fien Willems": "status link",
    "Gert Claes": "stays applied",
    "Karel Smets": "waits for Selor, with a deadline",
}
SCREENSHOT_CANDIDATES = {
    "Ines Lambert": "several steps",
    "Jens Mertens": "rejected on the page",
    "Lotte Segers": "screened",
    "Mats Goossens": "passed Selor (moved through the CLI before serving)",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _apply_args(name: str) -> list[str]:
    email = _address(name)
    return ["apply", "--vacancy", VACANCY, "--name", name, "--email", email, "--language", "en"]


def _address(name: str) -> str:
    plain = name.lower().replace(" ", ".").replace("é", "e")
    return f"{plain}@example.org"


@dataclass
class Site:
    """A served ATS on one database, with its seeded candidacies and its mail folder."""

    kind: str
    base: str
    cli: Ats
    mail: Path
    ids: dict[str, int]

    def show(self, name: str) -> dict[str, Any]:
        return dict(self.cli.json("candidacy", "show", str(self.ids[name])))

    def states(self) -> dict[str, str]:
        """Every candidacy's state by candidate name, in one CLI run."""
        rows = self.cli.json("candidacy", "list", "--vacancy", VACANCY)
        return {row["name"]: row["state"] for row in rows}

    def history(self, name: str) -> list[dict[str, Any]]:
        return list(self.cli.json("history", str(self.ids[name])))

    def histories(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Several candidacies' histories, read side by side (one CLI run each)."""
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            return dict(zip(names, pool.map(self.history, names), strict=True))


@pytest.fixture(scope="module")
def site(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`ats serve` with its worker, seeded through the CLI; stopped at the end of the module."""
    kind = "sqlite" if database.startswith("sqlite") else "postgresql"
    folder = tmp_path_factory.mktemp(f"browser-{kind}")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cli = Ats(database)
    cli.env.update(
        ATS_MAIL_TRANSPORT="maildir",
        ATS_MAIL_DIR=str(folder / "mail"),
        ATS_PUBLIC_URL=base,  # the status links in mails point at this server
        ATS_SECRET_KEY=f"browser-test-{uuid.uuid4().hex}",  # nothing written under the repo's var/
        ATS_WORKER_RELAY_SECONDS="1",
    )
    cli("init")
    for user in (
        [RECRUITER, "--name", "Els Claes", "--role", "recruiter", "--service", "DVZ"],
        [TASKFORCE, "--name", "Tom Taskforce", "--role", "taskforce"],
    ):
        cli("user", "create", *user, "--language", "en", "--password-stdin", stdin=PASSWORD + "\n")
    names = list(CANDIDATES)
    if SHOTS and kind == "sqlite":
        names += list(SCREENSHOT_CANDIDATES)
    with ThreadPoolExecutor(max_workers=4) as pool:  # each apply is its own transaction
        opened = pool.map(lambda name: cli.json(*_apply_args(name)), names)
        ids = {row["candidate"]["name"]: int(row["id"]) for row in opened}

    if "Mats Goossens" in ids:  # a card in a later column for the board's screenshot
        mats, session = str(ids["Mats Goossens"]), datetime.now() + timedelta(days=5)
        recruiter = ["--actor", f"user:{RECRUITER}", "--role", "recruiter"]
        cli("fire", mats, "screen", *recruiter, "--fact", "diploma_level=master")
        cli(
            "fire",
            mats,
            "invite_to_selor",
            *recruiter,
            "--fact",
            f"selor_session_at={session:%Y-%m-%dT%H:%M}",
            "--fact",
            "selor_session_place=Selor, Brussels",
        )
        cli(
            "fire",
            mats,
            "pass_selor",
            "--actor",
            "selor:jury",
            "--role",
            "selor",
            "--fact",
            "selor_score=78",
        )

    with served(cli, port, folder / "serve.log"):
        yield Site(kind, base, cli, folder / "mail", ids)


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the served site, English, 1440x900."""
    context = browser.new_context(
        base_url=site.base, viewport={"width": 1440, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


# -- helpers ---------------------------------------------------------------------------------


def sign_in(page: Page, username: str = RECRUITER, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/vacancies$"))


def reload_until_visible(page: Page, selector: str, *, timeout: float = MAIL_WAIT) -> None:
    """Reload until ``selector`` shows (what another process does, e.g. the relay sending)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(page.locator(selector).first).to_be_visible(timeout=300)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        page.reload()


def delivered_to(folder: Path, address: str, *, timeout: float = MAIL_WAIT) -> EmailMessage:
    """The first message the relay wrote for ``address``, waiting for it up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in str(message["To"]):
                assert isinstance(message, EmailMessage)
                return message
        assert time.monotonic() < deadline, f"no mail for {address} in {folder} after {timeout}s"
        time.sleep(0.1)  # poll the folder the worker writes into


def column(page: Page, state: str) -> Any:
    return page.locator("section.column").filter(has=page.locator(f"#col-{state}"))


def fill_datetime(page: Page, selector: str, when: datetime) -> None:
    page.locator(selector).fill(when.strftime("%Y-%m-%dT%H:%M"))


# -- tests -----------------------------------------------------------------------------------


def test_a_recruiter_moves_candidates_and_sees_the_timeline_and_the_mail(
    site: Site, page: Page
) -> None:
    sign_in(page)
    anna, bram = site.ids["Anna Peeters"], site.ids["Bram Janssens"]

    # On the board: a direct button moves Anna at once.
    page.goto(f"/vacancies/{VACANCY}")
    card = page.locator(f"#c{anna}")
    expect(card).to_have_attribute("data-state", "applied")
    expect(column(page, "applied").locator(f"#c{anna}")).to_be_visible()
    # Ending a candidacy for good takes a second click on the card.
    card.locator("summary", has_text="withdraw → Withdrawn or lapsed").click()
    card.get_by_role("button", name="Confirm: withdraw").click()
    expect(page.locator(".notice")).to_have_text("Anna Peeters is now in “Withdrawn or lapsed”.")
    expect(column(page, "withdrawn").locator(f"#c{anna}")).to_be_visible()
    expect(column(page, "applied").locator(f"#c{anna}")).to_have_count(0)

    # Screening needs a fact: Bram goes through the form on his candidacy page.
    page.goto(f"/vacancies/{VACANCY}")
    page.locator(f"#c{bram}").get_by_role("link", name="screen…").click()
    expect(page).to_have_url(re.compile(rf"/candidacies/{bram}#fire-screen$"))
    screen = page.locator("#fire-screen")
    screen.locator("#screen-diploma_level").select_option("secondary")
    screen.get_by_role("button", name="screen").click()
    expect(page.locator(".notice")).to_have_text("Bram Janssens is now in “Screened”.")
    expect(page.locator(".state-badge")).to_have_text("Screened")
    timeline = page.locator("ol.timeline > li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("screen")
    expect(timeline.nth(0)).to_contain_text("Application received → Screened")
    expect(timeline.nth(0)).to_contain_text("by user:els (recruiter)")
    expect(timeline.nth(0)).to_contain_text("diploma_level = secondary")
    expect(timeline.nth(1)).to_contain_text("Application received")

    # The status mail of the screening: queued at once, then sent by the worker's relay.
    emails = page.locator("section[aria-labelledby=h-emails] tbody tr")
    expect(emails.filter(has_text="screened")).to_have_count(1)
    reload_until_visible(
        page, "section[aria-labelledby=h-emails] tr.mail-sent:has-text('screened')"
    )
    expect(emails.filter(has_text="screened")).to_contain_text("sent")

    histories = site.histories(["Anna Peeters", "Bram Janssens"])
    last = histories["Anna Peeters"][-1]
    assert (last["trigger"], last["actor"], last["role"]) == ("withdraw", "user:els", "recruiter")
    history = histories["Bram Janssens"]
    assert [(h["trigger"], h["to"], h["actor"], h["role"]) for h in history[1:]] == [
        ("screen", "screened", "user:els", "recruiter")
    ]
    assert history[1]["facts"] == {"diploma_level": "secondary"}
    states = site.states()
    assert (states["Anna Peeters"], states["Bram Janssens"]) == ("withdrawn", "screened")
    page.goto(f"/vacancies/{VACANCY}")
    expect(column(page, "screened").locator(f"#c{bram}")).to_be_visible()


def test_a_recruiter_rejects_three_candidates_at_once_after_a_review(
    site: Site, page: Page
) -> None:
    names = ["Chloé Dubois", "Dries Maes", "Emma Jacobs"]
    reason = "Did not bring the required diploma to the screening"
    sign_in(page)
    page.goto(f"/vacancies/{VACANCY}")
    for name in names:
        page.get_by_label(f"Select {name}", exact=True).check()
    page.locator("#bulk_trigger").select_option("reject")
    page.locator("#bulk_reason").fill(reason)
    page.get_by_role("button", name="Review…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Review: reject on 3 candidacies")
    expect(page.locator("main q")).to_have_text(reason)
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("tbody tr.ok")).to_have_count(3)
    assert sorted(rows.locator("th").all_inner_texts()) == sorted(names)
    assert {n: s for n, s in site.states().items() if n in names} == dict.fromkeys(
        names, "applied"
    )  # nothing moved yet

    page.get_by_role("button", name="Confirm: move 3").click()
    expect(page.get_by_role("status")).to_have_text("3 moved, 0 refused.")
    expect(page.locator("tbody tr.ok")).to_have_count(3)
    expect(page.locator("tbody tr.refused")).to_have_count(0)

    states, histories = site.states(), site.histories(names)
    for name in names:
        assert states[name] == "rejected"
        last = histories[name][-1]
        assert (last["trigger"], last["reason"], last["actor"], last["role"]) == (
            "reject",
            reason,
            "user:els",
            "recruiter",
        )
    page.get_by_role("link", name="Back to the board").click()
    for name in names:
        expect(column(page, "rejected").get_by_role("link", name=name)).to_be_visible()


def test_a_candidate_withdraws_through_the_status_link_of_their_mail(
    site: Site, page: Page
) -> None:
    mail = delivered_to(site.mail, _address("Fien Willems"))
    body = mail.get_body(("plain",))
    assert body is not None
    links = re.findall(r"https?://\S+/status/[\w.-]+", str(body.get_content()))
    assert links, body.get_content()
    assert links[0].startswith(site.base)

    page.goto(links[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Status of your application")
    expect(page.get_by_role("status")).to_have_text("Your application has been received")
    page.get_by_label("I withdraw my application").check()
    page.get_by_role("button", name="Withdraw my application").click()
    expect(page.locator(".done")).to_have_text("Your application has been withdrawn.")
    expect(page.get_by_role("status")).to_have_text("Your application has been closed")
    expect(page.get_by_role("button", name="Withdraw my application")).to_have_count(0)

    shown = site.show("Fien Willems")
    assert shown["state"] == "withdrawn"
    last = site.history("Fien Willems")[-1]
    assert (last["trigger"], last["role"], last["actor"]) == (
        "withdraw",
        "candidate",
        f"candidate:{shown['candidate']['key']}",
    )


def test_a_wrong_password_shows_an_error_and_opens_no_session(site: Site, page: Page) -> None:
    page.goto("/login")
    page.locator("#username").fill(RECRUITER)
    page.locator("#password").fill("not the password at all")
    with page.expect_response(
        lambda r: r.url.endswith("/login") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("Unknown user or wrong password.")
    expect(page.locator("#username")).to_have_value(RECRUITER)
    expect(page.locator("#password")).to_have_value("")
    assert [c["name"] for c in page.context.cookies() if "session" in c["name"]] == []
    page.goto(f"/vacancies/{VACANCY}")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fvacancies%2FDVZ-SEC-W1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


@pytest.mark.skipif(not SHOTS, reason="set ATS_SCREENSHOTS=FOLDER to save screenshots")
def test_screenshots_of_the_board_and_a_candidacy(site: Site, page: Page) -> None:
    if site.kind != "sqlite":
        pytest.skip("screenshots are taken on the SQLite run only")
    assert SHOTS is not None
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    ines, jens, lotte, mats = (site.ids[n] for n in SCREENSHOT_CANDIDATES)
    sign_in(page)
    for who in (lotte, ines):
        page.goto(f"/candidacies/{who}")
        page.locator("#screen-diploma_level").select_option("bachelor")
        page.locator("#fire-screen").get_by_role("button", name="screen").click()
        expect(page.locator(".state-badge")).to_have_text("Screened")
    page.goto(f"/candidacies/{jens}")
    page.locator("#reject-reason").fill("Withdrew from the Selor registration")
    page.locator("#fire-reject").get_by_role("button", name="reject").click()
    expect(page.locator(".state-badge")).to_have_text("Rejected")

    page.goto(f"/candidacies/{ines}")
    soon = datetime.now() + timedelta(days=9)
    fill_datetime(page, "#invite_to_selor-selor_session_at", soon)
    page.locator("#invite_to_selor-selor_session_place").fill("Selor, Brussels")
    page.locator("#fire-invite_to_selor").get_by_role("button", name="invite to selor").click()
    expect(page.locator(".state-badge")).to_have_text("Selor test")
    fill_datetime(page, "#reschedule_selor-selor_session_at", soon + timedelta(days=2))
    page.locator("#fire-reschedule_selor").get_by_role("button", name="reschedule selor").click()
    expect(page.locator("ol.timeline > li")).to_have_count(4)
    reload_until_visible(page, "section[aria-labelledby=h-emails] tr.mail-sent >> nth=3")
    page.screenshot(path=str(folder / "candidacy.png"), full_page=True)

    page.goto(f"/vacancies/{VACANCY}")
    expect(column(page, "selor_test").locator(f"#c{ines}")).to_contain_text("Deadline:")
    expect(column(page, "awaiting_interview").locator(f"#c{mats}")).to_be_visible()
    page.screenshot(path=str(folder / "board.png"))
    assert site.show("Ines Lambert")["state"] == "selor_test"


def test_the_board_shows_the_deadline_of_a_candidacy_waiting_for_selor(
    site: Site, page: Page
) -> None:
    karel = site.ids["Karel Smets"]
    sign_in(page)
    page.goto(f"/candidacies/{karel}")
    page.locator("#screen-diploma_level").select_option("master")
    page.locator("#fire-screen").get_by_role("button", name="screen").click()
    expect(page.locator(".state-badge")).to_have_text("Screened")
    fill_datetime(page, "#invite_to_selor-selor_session_at", datetime.now() + timedelta(days=10))
    page.locator("#invite_to_selor-selor_session_place").fill("Selor, Brussels")
    page.locator("#fire-invite_to_selor").get_by_role("button", name="invite to selor").click()
    expect(page.locator(".state-badge")).to_have_text("Selor test")
    assert site.show("Karel Smets")["state"] == "selor_test"

    response = page.goto(f"/vacancies/{VACANCY}")
    assert response is not None
    assert response.status == 200, "the board with a deadline on a card"
    card = column(page, "selor_test").locator(f"#c{karel}")
    expect(card).to_contain_text("Deadline:")
    expect(card).to_contain_text(str((datetime.now() + timedelta(days=30)).year))


def test_the_taskforce_filters_the_dashboard_and_downloads_a_report(
    site: Site, page: Page, tmp_path: Path
) -> None:
    """Charts and tables for every vacancy; a filter narrows them; a CSV comes down as shown."""
    sign_in(page, TASKFORCE)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Taskforce dashboard")
    expect(page.locator("svg[role=img]")).to_have_count(3)
    targets = page.locator("section[aria-labelledby=h-targets] table")
    expect(targets).to_contain_text("CGVS-PROT-W1")
    page.locator("#d-service").select_option("DVZ")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"service=DVZ"))
    expect(targets).to_contain_text(VACANCY)
    expect(targets).not_to_contain_text("CGVS-PROT-W1")
    with page.expect_download() as download:
        page.locator("section[aria-labelledby=h-targets]").get_by_role("link", name="CSV").click()
    saved = tmp_path / "targets.csv"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert VACANCY in text
    assert "CGVS-PROT-W1" not in text


@pytest.mark.skipif(not SHOTS, reason="set ATS_SCREENSHOTS=FOLDER to save screenshots")
def test_screenshot_of_the_dashboard_on_the_demo_drive(
    browser: Browser, tmp_path: Path, database: str
) -> None:
    """The dashboard as `make run` serves it: the demo drive moved up to today."""
    if not database.startswith("sqlite"):
        pytest.skip("screenshots are taken on the SQLite run only")
    assert SHOTS is not None
    home = tmp_path / "home"
    home.mkdir()
    for name in ("config", "workflows", "notifications"):
        (home / name).symlink_to(REPO / name)
    env = {
        **os.environ,
        "ATS_HOME": str(home),
        "ATS_DATABASE_URL": f"sqlite:///{home / 'var' / 'ats.sqlite3'}",
    }
    subprocess.run([*COMMAND, "init"], env=env, cwd=home, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*COMMAND, "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        password = ""
        for line in server.stdout:  # the logins come before the URL
            if line.startswith("taskforce "):
                password = line.split()[1]
            if line.startswith("ATS on http://"):
                break
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # still starting
            assert time.monotonic() < deadline, "the demo server did not come up"
        context = browser.new_context(
            base_url=f"http://127.0.0.1:{port}", viewport={"width": 1440, "height": 900}
        )
        tab = context.new_page()
        sign_in(tab, "taskforce", password)
        tab.goto("/dashboard?inflow_weeks=16")
        expect(tab.locator("svg[role=img]")).to_have_count(3)
        tab.screenshot(path=str(Path(SHOTS) / "dashboard.png"), full_page=True)
        context.close()
    finally:
        server.terminate()
        server.communicate(timeout=30)  # also closes its output pipe
