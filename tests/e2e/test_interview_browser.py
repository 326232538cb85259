"""An interview walked in a real browser (Debian's chromium via Playwright), up to the offer mail.

One `ats serve` (web, API and worker, whose relay writes the outbox into a mail folder) on
one SQLite database, seeded through the CLI: staff with passwords, a French-speaking
candidate for the protection officers (CGVS-PROT-W1, workflows/protection-officer.yaml)
walked with `ats fire` to the interview, and the vacancy's panel seated with
`ats interview panel`. Then, in the browser: a panel member scores (in Dutch, their
language), the chair sees only the count until their own card is in, then both cards side
by side, and records the consensus; the hiring manager asks for the offer; the member,
also an approver, is refused the approval (four eyes); the approver approves. The offer
mail reaches the candidate in French, and the CLI proves the log and names who did what.

Controls are found by their roles and labels, as a person (or a screen reader) finds them.
"""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ruamel.yaml import YAML

from ats.adapters.workflow_files import read_workflow_file
from ats.domain.workflow import Catalog
from ats.web.translations import translator
from tests.conftest import REPO, fresh_database, path_to, role_for, satisfying_facts
from tests.e2e.conftest import Ats, served
from tests.e2e.test_browser import (  # skips this module too when chromium is missing
    PASSWORD,
    _free_port,
    reload_until_visible,
    sign_in,
)
from tests.e2e.test_cli import cli_value, message_lines

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

VACANCY = "CGVS-PROT-W1"
WORKFLOW_FILE = REPO / "workflows" / "protection-officer.yaml"
RECRUITER = "rita.claes"
MEMBER, MEMBER_NAME = "ines.maes", "Ines Maes"  # panel and approver; works in Dutch
CHAIR, CHAIR_NAME = "wim.vermeulen", "Wim Vermeulen"
MANAGER, MANAGER_NAME = "hans.dewolf", "Hans De Wolf"
APPROVER, APPROVER_NAME = "ann.verhoeven", "Ann Verhoeven"
STAFF = (  # username, name, roles, language
    (RECRUITER, "Rita Claes", ("recruiter",), "en"),
    (MEMBER, MEMBER_NAME, ("panel", "approver"), "nl"),
    (CHAIR, CHAIR_NAME, ("panel",), "en"),
    (MANAGER, MANAGER_NAME, ("hiring_manager",), "en"),
    (APPROVER, APPROVER_NAME, ("approver",), "en"),
)
CANDIDATE, CANDIDATE_EMAIL, CANDIDATE_LANGUAGE = "Camille Dupont", "camille.dupont@example.be", "fr"

# The criteria in the workflow's order: interviewing_technique, judgement,
# written_dutch_french, stress_resistance (each 0..5; pass: each >= 2 and total >= 12).
MEMBER_SCORES = (3, 4, 3, 3)  # 13, passes
CHAIR_SCORES = (4, 4, 2, 3)  # 13, passes
CONSENSUS = (4, 4, 3, 3)  # 14, passes
MEMBER_COMMENT = "Rustig en nauwkeurig; vraagt goed door."
CHAIR_COMMENT = "Precise, a little slow in writing."
MOTIVATION = "Calm and precise in every part; the panel agrees she passes."


@dataclass
class Site:
    """A served ATS on one database, its mail folder and the candidacy at the interview."""

    base: str
    cli: Ats
    mail: Path
    candidacy: str
    workflow: dict[str, Any]

    def label(self, state: str, language: str = "en") -> str:
        return str(self.workflow["states"][state]["label"][language])

    def criteria(self, language: str) -> list[str]:
        """The criteria's labels in ``language``, in the workflow's order."""
        return [str(c["label"][language]) for c in self.workflow["interview"]["criteria"].values()]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only: the same steps run on PostgreSQL in tests/integration/test_interviews.py
    and tests/integration/test_four_eyes.py (CI time is kept for what differs)."""
    with fresh_database("sqlite", tmp_path_factory.mktemp("interview-db")) as url:
        yield url


def create_user(cli: Ats, username: str, name: str, roles: tuple[str, ...], language: str) -> None:
    """`ats user create` with a password on standard input, working for CGVS."""
    arguments = ["user", "create", username, "--name", name, "--service", "CGVS"]
    arguments += [f"--role={role}" for role in roles]
    cli(*arguments, "--language", language, "--password-stdin", stdin=PASSWORD + "\n")


def to_the_interview(cli: Ats) -> str:
    """Apply through the CLI and fire the workflow's steps up to the interview; the id."""
    definition = read_workflow_file(WORKFLOW_FILE, Catalog())
    opened = cli.json(
        *("apply", "--vacancy", VACANCY, "--name", CANDIDATE, "--email", CANDIDATE_EMAIL),
        *("--language", CANDIDATE_LANGUAGE),
    )
    candidacy = str(opened["id"])
    known: dict[str, Any] = {}
    for spec in path_to(definition, "interview"):
        facts = satisfying_facts(definition, spec, known)
        assert facts is not None, f"{spec.trigger}: no facts satisfy its guards"
        known.update(facts)
        role = role_for(spec)
        actor = f"user:{RECRUITER}" if role == "recruiter" else f"{role}:e2e"
        arguments = ["fire", candidacy, spec.trigger, "--actor", actor, "--role", role]
        for name, value in facts.items():
            arguments += ["--fact", f"{name}={cli_value(value)}"]
        cli(*arguments)
    return candidacy


@pytest.fixture(scope="module")
def site(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Staff, a candidacy at the interview and its panel, set through the CLI; then served."""
    folder = tmp_path_factory.mktemp("interview-site")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cli = Ats(database)
    cli.env.update(
        ATS_MAIL_TRANSPORT="maildir",
        ATS_MAIL_DIR=str(folder / "mail"),
        ATS_PUBLIC_URL=base,  # the status links in mails point at this server
        ATS_SECRET_KEY=f"interview-test-{uuid.uuid4().hex}",  # nothing written under var/
        ATS_WORKER_RELAY_SECONDS="1",
    )
    cli("init")
    with ThreadPoolExecutor(max_workers=2) as pool:  # ~2 s a CLI run: two at a time
        walked = pool.submit(to_the_interview, cli)
        created = [pool.submit(create_user, cli, *user) for user in STAFF]
        for done in created:
            done.result()
        candidacy = walked.result()
    cli(
        *("interview", "panel", VACANCY, "--member", MEMBER, "--member", CHAIR),
        *("--chair", CHAIR, "--actor", f"user:{RECRUITER}"),
    )
    workflow = dict(YAML(typ="safe").load(WORKFLOW_FILE.read_text(encoding="utf-8")))
    with served(cli, port, folder / "serve.log"):
        yield Site(base, cli, folder / "mail", candidacy, workflow)


# -- helpers ---------------------------------------------------------------------------------


def mark(scope: Page | Locator, criteria: list[str], points: tuple[int, ...]) -> None:
    """Choose a point for each criterion: the radio button of that point in the group that
    the criterion's label names (a point's name is its number, then its anchor if any)."""
    for criterion, point in zip(criteria, points, strict=True):
        group = scope.get_by_role("group", name=criterion, exact=True)
        expect(group.get_by_role("radio")).to_have_count(6)  # 0..5
        choice = group.get_by_role("radio", name=re.compile(rf"^{point}\b"))
        choice.check()
        expect(choice).to_be_checked()


def body_rows(table: Locator) -> list[list[str]]:
    """The cells' texts of each row of ``table``'s body."""
    rows = table.locator("tbody tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("td, th").all_inner_texts()]
        for i in range(rows.count())
    ]


def card_row(name: str, points: tuple[int, ...], verdict: str, comment: str) -> list[str]:
    return [name, *(str(p) for p in points), str(sum(points)), verdict, comment]


def mails_to(folder: Path, address: str) -> list[EmailMessage]:
    """Every message the relay has written for ``address`` so far (no waiting)."""
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]):
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


# -- the story -------------------------------------------------------------------------------


def test_two_members_score_the_chair_decides_an_approver_approves_and_the_offer_is_mailed(
    site: Site, new_page: Callable[[], Page]
) -> None:
    en, nl = translator("en"), translator("nl")
    interview = f"/candidacies/{site.candidacy}/interview"

    # -- the member (not the chair) scores, in Dutch, seeing no one else's card
    member = new_page()
    sign_in(member, MEMBER, PASSWORD)
    member.goto(interview)
    expect(member.locator("html")).to_have_attribute("lang", "nl")
    expect(member.get_by_role("heading", level=1)).to_contain_text(CANDIDATE)
    expect(member.get_by_text(nl("{n} of {m} scorecards in").format(n=0, m=2))).to_be_visible()
    expect(
        member.get_by_text(nl("The other members' scores show once your own scorecard is in."))
    ).to_be_visible()
    expect(member.get_by_role("table")).to_have_count(0)
    expect(member.get_by_role("button", name=nl("Record the decision"))).to_have_count(0)
    mark(member, site.criteria("nl"), MEMBER_SCORES)
    member.get_by_label(nl("Comment")).fill(MEMBER_COMMENT)
    member.get_by_role("button", name=nl("Submit scorecard")).click()
    expect(member).to_have_url(re.compile(rf"{interview}\?done=scored$"))
    expect(member.get_by_role("status")).to_have_text(nl("Your scorecard is in."))
    expect(member.get_by_text(nl("{n} of {m} scorecards in").format(n=1, m=2))).to_be_visible()
    assert body_rows(member.get_by_role("table")) == [
        card_row(MEMBER_NAME, MEMBER_SCORES, nl("passes"), MEMBER_COMMENT)
    ]
    # the member's one card filed is replaced only with a reason: the form says so
    expect(member.get_by_label(nl("Why you replace it (required)"))).to_be_visible()

    # -- the chair, in a context of their own: blind until their own card is in
    chair = new_page()
    sign_in(chair, CHAIR, PASSWORD)
    chair.goto(interview)
    expect(chair.get_by_text(en("{n} of {m} scorecards in").format(n=1, m=2))).to_be_visible()
    expect(
        chair.get_by_text(en("The other members' scores show once your own scorecard is in."))
    ).to_be_visible()
    expect(chair.get_by_role("table")).to_have_count(0)
    expect(chair.get_by_text(MEMBER_COMMENT)).to_have_count(0)
    assert MEMBER_COMMENT not in chair.content()
    # no decision before the chair's own card: only the scorecard form is there
    expect(chair.get_by_role("button", name=en("Record the decision"))).to_have_count(0)
    mark(chair, site.criteria("en"), CHAIR_SCORES)
    chair.get_by_label(en("Comment")).fill(CHAIR_COMMENT)
    chair.get_by_role("button", name=en("Submit scorecard")).click()
    expect(chair.get_by_role("status")).to_have_text(en("Your scorecard is in."))
    expect(chair.get_by_text(en("{n} of {m} scorecards in").format(n=2, m=2))).to_be_visible()
    expect(chair.get_by_role("heading", name=en("Scorecards side by side"))).to_be_visible()
    side_by_side = chair.get_by_role("table")
    headers = [h.strip() for h in side_by_side.locator("thead th").all_inner_texts()]
    assert headers[1:5] == site.criteria("en"), headers
    assert body_rows(side_by_side) == [
        card_row(MEMBER_NAME, MEMBER_SCORES, en("passes"), MEMBER_COMMENT),
        card_row(CHAIR_NAME, CHAIR_SCORES, en("passes"), CHAIR_COMMENT),
    ]

    # -- the chair records the consensus (the form named so, not the one replacing their card)
    decision = chair.get_by_role("form", name=en("Consensus decision"))
    mark(decision, site.criteria("en"), CONSENSUS)
    decision.get_by_label(en("Motivation (required)")).fill(MOTIVATION)
    decision.get_by_role("button", name=en("Record the decision")).click()
    expect(chair).to_have_url(re.compile(rf"{interview}\?done=decided$"))
    expect(chair.get_by_role("status")).to_have_text(en("The decision is recorded."))
    expect(
        chair.get_by_text(en("Consensus total {total}: passed").format(total=sum(CONSENSUS)))
    ).to_be_visible()
    expect(chair.get_by_text(MOTIVATION)).to_be_visible()
    assert body_rows(chair.get_by_role("table"))[-1] == [
        en("Consensus"),
        *(str(p) for p in CONSENSUS),
        str(sum(CONSENSUS)),
        en("passes"),
        "",
    ]
    expect(chair.locator("form.scorecard")).to_have_count(0)  # decided: nothing to file
    chair.get_by_role("link", name=en("Back to the candidacy")).click()
    expect(chair).to_have_url(f"{site.base}/candidacies/{site.candidacy}")
    expect(chair.get_by_role("heading", level=1)).to_contain_text(site.label("selected"))
    newest = chair.locator("ol.timeline > li").first
    expect(newest).to_contain_text("pass interview")
    expect(newest).to_contain_text(f"by user:{CHAIR} (panel)")

    # -- the hiring manager asks for the offer
    manager = new_page()
    sign_in(manager, MANAGER, PASSWORD)
    manager.goto(f"/candidacies/{site.candidacy}")
    expect(manager.get_by_role("heading", level=1)).to_contain_text(site.label("selected"))
    manager.get_by_role("button", name="request offer", exact=True).click()
    expect(manager.get_by_role("status")).to_have_text(
        en("{name} is now in “{state}”.").format(
            name=CANDIDATE, state=site.label("offer_pending_approval")
        )
    )
    expect(manager.get_by_role("button", name="approve offer")).to_have_count(0)  # not theirs

    # -- four eyes: the member, an approver too, sees the request but may not approve it
    member.get_by_role("navigation", name=nl("Main")).get_by_role(
        "link", name=nl("Approvals")
    ).click()
    expect(member).to_have_url(f"{site.base}/approvals")
    waiting = member.get_by_role("row").filter(has_text=CANDIDATE)
    expect(waiting).to_have_count(1)
    waiting.get_by_role("link", name=nl("Open")).click()
    expect(member).to_have_url(f"{site.base}/candidacies/{site.candidacy}#h-actions")
    member.get_by_role("button", name="approve offer", exact=True).click()
    refusal = member.get_by_role("alert")
    expect(refusal).to_contain_text(nl("Not moved."))
    expect(refusal).to_contain_text(
        f"four eyes: user:{MEMBER} sat on the interview panel; someone outside it decides"
    )
    expect(member.get_by_role("heading", level=1)).to_contain_text(
        site.label("offer_pending_approval", "nl")
    )
    # the same refusals through the CLI: a panel member, and the person who asked (exit 1)
    fire = ("fire", site.candidacy, "approve_offer", "--role", "approver")
    with ThreadPoolExecutor(max_workers=2) as pool:
        chair_said, manager_said = pool.map(
            lambda who: message_lines(site.cli(*fire, "--actor", f"user:{who}", expect=1)),
            (CHAIR, MANAGER),
        )
    assert f"four eyes: user:{CHAIR} sat on the interview panel" in chair_said, chair_said
    assert f"four eyes: user:{MANAGER} asked for this (request_offer)" in manager_said, manager_said

    # -- the approver finds it on Approvals (still waiting), with who asked, and approves
    approver = new_page()
    sign_in(approver, APPROVER, PASSWORD)
    approver.get_by_role("navigation", name=en("Main")).get_by_role(
        "link", name=en("Approvals")
    ).click()
    expect(approver.get_by_role("heading", level=1)).to_have_text(en("Approvals"))
    columns = [h.strip() for h in approver.locator("thead th").all_inner_texts()]
    assert columns[:4] == [en("Candidate"), en("Vacancy"), en("State"), en("Asked by")], columns
    waiting = approver.get_by_role("row").filter(has_text=CANDIDATE)
    expect(waiting).to_have_count(1)
    assert body_rows(approver.get_by_role("table"))[0][:4] == [
        CANDIDATE,
        VACANCY,
        site.label("offer_pending_approval"),
        f"user:{MANAGER}",
    ]
    waiting.get_by_role("link", name=en("Open")).click()
    expect(approver).to_have_url(f"{site.base}/candidacies/{site.candidacy}#h-actions")
    approver.get_by_role("button", name="approve offer", exact=True).click()
    expect(approver.get_by_role("status")).to_have_text(
        en("{name} is now in “{state}”.").format(name=CANDIDATE, state=site.label("offer"))
    )
    expect(approver.get_by_role("heading", level=1)).to_contain_text(site.label("offer"))
    approver.goto("/approvals")
    expect(approver.get_by_text(en("Nothing waits for approval."))).to_be_visible()

    # -- the offer mail, sent by the worker's relay, in the candidate's French
    # (delivered_to() returns the first file for an address, and the candidate has had a
    # mail at every step: the page's mail list says when the offer is sent, then it is read)
    approver.goto(f"/candidacies/{site.candidacy}")
    reload_until_visible(
        approver, "section[aria-labelledby=h-emails] tr.mail-sent:has-text('offer')"
    )
    with ThreadPoolExecutor(max_workers=2) as pool:  # the CLI's reads, side by side
        vacancy, verify, history, detail = pool.map(
            lambda args: site.cli(*args).json(),
            [
                ("vacancy", "show", VACANCY, "--json"),
                ("audit", "verify", "--json"),
                ("history", site.candidacy, "--json"),
                ("candidacy", "show", site.candidacy, "--json"),
            ],
        )
    title = str(vacancy["title"][CANDIDATE_LANGUAGE])
    subject = (REPO / "notifications" / CANDIDATE_LANGUAGE / "offer.txt").read_text("utf-8")
    subject = subject.splitlines()[0].replace("{{ vacancy.title }}", title)
    assert subject.startswith("Offre d'emploi – "), subject
    offers = [m for m in mails_to(site.mail, CANDIDATE_EMAIL) if m["Subject"] == subject]
    assert len(offers) == 1, [m["Subject"] for m in mails_to(site.mail, CANDIDATE_EMAIL)]
    plain = offers[0].get_body(("plain",))
    assert plain is not None
    body = str(plain.get_content())
    for said in (
        f"Bonjour {CANDIDATE},",
        f"Nous avons le plaisir de vous proposer la fonction {title}.",
        f"{site.base}/status/",
    ):
        assert said in body, f"{said!r} is not in the offer:\n{body}"

    # -- the CLI: the log holds, and names who decided, asked and approved
    assert (verify["ok"], verify["damage"]) == (True, []), verify
    steps = [(h["trigger"], h["actor"], h["role"], h["to"]) for h in history]
    assert steps[-3:] == [
        ("pass_interview", f"user:{CHAIR}", "panel", "selected"),
        ("request_offer", f"user:{MANAGER}", "hiring_manager", "offer_pending_approval"),
        ("approve_offer", f"user:{APPROVER}", "approver", "offer"),
    ], steps
    assert (detail["state"], detail["facts"]["interview_score"]) == ("offer", sum(CONSENSUS))
