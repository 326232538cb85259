"""The interview pages over a real database: blind scorecards, the chair's decision, approvals.

The pages run on a copy of the repository's home whose protection-officer workflow has
the interview block and an offer that needs a second person's approval (see
tests/integration/test_four_eyes.py). Every test drives the pages as a browser would
(GET a page, read its CSRF token, POST its form) and checks what the database holds
afterwards, not only the HTML.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ats.api.app import create_api
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.service import interviews, queries
from ats.service.app import App
from ats.service.commands import Apply
from ats.service.setup import initialise
from ats.service.users import principal_of
from ats.settings import Settings
from tests.conftest import REPO, walk
from tests.integration.test_four_eyes import VACANCY, four_eyes_workflow, selected
from tests.integration.test_web import make_user, refusals, scalar, signed_in
from tests.unit.test_interview import CRITERIA

Browser = Callable[[], TestClient]
Response = Any  # the test client's response

PASS = (4, 3, 3, 3)  # total 13: passes (each at least 2, total at least 12)
EDGE = (1, 5, 5, 5)  # total 16, but one score below 2: fails
PANEL = ("pia", "paul", "duo")  # pia chairs


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the same steps run on PostgreSQL in tests/integration/test_interviews.py
    (CI time is kept for what differs between the databases)."""
    return f"sqlite:///{tmp_path / 'ats.sqlite3'}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    for folder in ("config", "workflows", "notifications"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    workflow = tmp_path / "workflows" / "protection-officer.yaml"
    workflow.write_text(four_eyes_workflow(workflow.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path


@pytest.fixture
def app(home: Path, database_url: str, clock: ManualClock) -> Iterator[App]:
    """The four-eyes home on a fresh database, with the panel's three members (they sign in)."""
    application = bootstrap(Settings(home=home, database_url=database_url), clock=clock)
    initialise(application)
    make_user(application, "pia", "panel", services=("CGVS",))
    make_user(application, "paul", "panel", services=("CGVS",))
    make_user(application, "duo", "panel", "approver", services=("CGVS",))
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def browser(app: App) -> Iterator[Browser]:
    """Fresh browsers (own cookie jars) on this home's web app; redirects are not followed."""
    api = create_api(app)
    opened: list[TestClient] = []

    def open_browser() -> TestClient:
        opened.append(TestClient(api, follow_redirects=False))
        return opened[-1]

    yield open_browser
    for client in opened:
        client.close()


# -- helpers ---------------------------------------------------------------------------------


def at_interview(app: App, name: str = "Jan Peeters", email: str = "jan@example.be") -> int:
    """A candidacy walked to the interview state, the vacancy's panel set (pia chairs)."""
    candidacy = int(app.handle(Apply(vacancy=VACANCY, name=name, email=email, language="nl")))
    walk(app, candidacy, "interview", actor="user:rita")
    interviews.set_panel(app, VACANCY, list(PANEL), "pia", actor="user:rita", role="recruiter")
    return candidacy


def scores(values: Sequence[int]) -> dict[str, int]:
    return dict(zip(CRITERIA, values, strict=True))


def submitted(app: App, candidacy: int, member: str, values: Sequence[int], comment: str) -> None:
    """``member``'s scorecard filed through the service (another member's browser)."""
    interviews.submit(app, candidacy, principal_of(app, member), scores(values), comment)


def score_form(csrf: str, values: Sequence[int | str], **extra: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        **{f"score.{name}": str(v) for name, v in zip(CRITERIA, values, strict=True)},
        **extra,
    }


def interview_url(candidacy: int) -> str:
    return f"/candidacies/{candidacy}/interview"


def cards(app: App, candidacy: int, *, live: bool = True, kind: str = "member") -> int:
    superseded = "IS NULL" if live else "IS NOT NULL"
    return int(
        scalar(
            app,
            f"SELECT count(*) FROM scorecards WHERE candidacy_id = :c AND kind = :k "  # noqa: S608
            f"AND superseded_at {superseded}",
            c=candidacy,
            k=kind,
        )
    )


def state(app: App, candidacy: int) -> str:
    return str(queries.candidacy(app, candidacy)["state"])


def page_of(client: TestClient, candidacy: int, **params: str) -> Response:
    page = client.get(interview_url(candidacy), params=params)
    assert page.status_code == 200, page.text
    return page


def action_of(html: str, trigger: str) -> str:
    """The ``trigger:role:version`` value of an action button on the candidacy page."""
    found = re.search(rf'name="action" value="({trigger}:[a-z_]+:\d+)"', html)
    assert found, f"no {trigger} button on the page"
    return found.group(1)


# -- a small HTML tree (html.parser only) ----------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find(self, tag: str, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if n.tag == tag and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def inside(self, tag: str, *, until: Node | None = None) -> Node | None:
        """The nearest ancestor ``tag`` (not above ``until``)."""
        node = self.parent
        while node is not None and node is not until:
            if node.tag == tag:
                return node
            node = node.parent
        return None


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.open)
        self.open.children.append(node)
        if tag not in VOID:
            self.open = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.open))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.open
        while node is not None and node is not self.root and node.tag != tag:
            node = node.parent
        if node is not None and node is not self.root and node.parent is not None:
            self.open = node.parent

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def form_posting_to(html: str, ending: str) -> Node | None:
    found = [f for f in parse(html).find("form") if f.attrs.get("action", "").endswith(ending)]
    assert len(found) <= 1, f"{len(found)} forms post to {ending}"
    return found[0] if found else None


def scale_fieldsets(form: Node) -> dict[str, Node]:
    """Each criterion's fieldset in ``form``, by the criterion its radios name."""
    found = {}
    for fieldset in form.find("fieldset"):
        radios = fieldset.find("input", type="radio")
        names = {r.attrs["name"].split(".", 1)[1] for r in radios}
        assert len(names) == 1, names
        found[names.pop()] = fieldset
    return found


def side_by_side(html: str) -> dict[str, list[str]]:
    """The scorecards table: each row's first cell (member, or Consensus) → the other cells."""
    tables = parse(html).find("table")
    assert len(tables) == 1, f"{len(tables)} tables on the page"
    rows = {}
    for row in tables[0].find("tbody")[0].find("tr"):
        cells = [c.text() for c in row.elements() if c.tag in ("td", "th")]
        rows[cells[0]] = cells[1:]
    return rows


# -- 1. blind scoring ------------------------------------------------------------------------


def test_a_member_scores_blind_then_sees_every_card_side_by_side(
    app: App, browser: Browser
) -> None:
    candidacy = at_interview(app)
    submitted(app, candidacy, "paul", EDGE, "Paul-only remark: shaky openers")
    submitted(app, candidacy, "duo", (2, 2, 4, 4), "Duo-only remark: unflappable")
    pia = browser()
    csrf = signed_in(pia, "pia")

    blind = page_of(pia, candidacy).text
    assert "2 of 3 scorecards in" in blind
    assert "The other members' scores show once your own scorecard is in." in unescape(blind)
    for secret in ("Paul-only remark", "Duo-only remark", "shaky openers", "unflappable"):
        assert secret not in blind
    assert "<table" not in blind
    assert "Scorecards side by side" not in blind
    assert "passes" not in blind
    assert "fails" not in blind
    assert "Total" not in blind
    assert not re.search(r'<td class="num">', blind)
    assert form_posting_to(blind, "/interview/decide") is None  # her own card is not in yet

    # The form: a radio group per criterion, each anchored point labelled; a comment box.
    form = form_posting_to(blind, "/interview/score")
    assert form is not None
    criteria = interviews.scorecards(app, candidacy, principal_of(app, "pia"))["criteria"]
    fieldsets = scale_fieldsets(form)
    assert list(fieldsets) == list(CRITERIA) == [c["name"] for c in criteria]
    for criterion in criteria:
        fieldset = fieldsets[criterion["name"]]
        assert fieldset.find("legend")[0].text() == criterion["label"]["en"]
        radios = fieldset.find("input", type="radio")
        points = list(range(criterion["min"], criterion["max"] + 1))
        assert [r.attrs["value"] for r in radios] == [str(p) for p in points]
        assert all(r.attrs["name"] == f"score.{criterion['name']}" for r in radios)
        assert not any("checked" in r.attrs for r in radios)
        assert criterion["anchors"], criterion
        for radio in radios:
            label = radio.inside("label")
            assert label is not None
            anchor = criterion["anchors"].get(radio.attrs["value"])
            expected = f"{radio.attrs['value']} {anchor['en']}" if anchor else radio.attrs["value"]
            assert label.text() == expected
    assert [t.attrs["name"] for t in form.find("textarea")] == ["comment"]
    assert form.find("input", type="hidden", name="supersede") == []

    posted = pia.post(
        f"{interview_url(candidacy)}/score", data=score_form(csrf, PASS, comment="Pia: solid")
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"{interview_url(candidacy)}?done=scored"
    assert cards(app, candidacy) == 3

    opened = page_of(pia, candidacy, done="scored").text
    assert "Your scorecard is in." in opened
    assert "3 of 3 scorecards in" in opened
    assert side_by_side(opened) == {
        "Paul": ["1", "5", "5", "5", "16", "fails", "Paul-only remark: shaky openers"],
        "Duo": ["2", "2", "4", "4", "12", "passes", "Duo-only remark: unflappable"],
        "Pia": ["4", "3", "3", "3", "13", "passes", "Pia: solid"],
    }
    # What she may still do: replace her card (with a reason), and, chairing, decide.
    replace = form_posting_to(opened, "/interview/score")
    assert replace is not None
    assert replace.find("input", name="supersede")[0].attrs["value"] == "1"
    assert replace.find("textarea", name="reason")
    assert form_posting_to(opened, "/interview/decide") is not None


# -- 2. who sees the page --------------------------------------------------------------------


def test_staff_outside_the_panel_see_counts_others_a_404_strangers_the_sign_in(
    app: App, browser: Browser
) -> None:
    candidacy = at_interview(app)
    submitted(app, candidacy, "paul", PASS, "Paul-only remark")
    make_user(app, "rita", "recruiter", services=("CGVS",))
    make_user(app, "otto", "recruiter", services=("DVZ",))

    rita = browser()
    csrf = signed_in(rita, "rita")
    assert "Interview scorecards" in rita.get(f"/candidacies/{candidacy}").text
    assert f'href="{interview_url(candidacy)}"' in rita.get(f"/candidacies/{candidacy}").text
    seen = page_of(rita, candidacy).text
    assert "1 of 3 scorecards in" in seen
    assert "Paul-only remark" not in seen
    assert "<table" not in seen
    assert "/interview/score" not in seen
    assert "/interview/decide" not in seen
    # Posting anyway: refused, nothing stored.
    tried = rita.post(f"{interview_url(candidacy)}/score", data=score_form(csrf, PASS))
    assert tried.status_code == 403
    assert "rita is not on the panel" in tried.text
    assert cards(app, candidacy) == 1

    otto = browser()
    signed_in(otto, "otto")
    before = refusals(app, f"candidacy:{candidacy}")
    hidden = otto.get(interview_url(candidacy))
    assert hidden.status_code == 404
    assert "Paul" not in hidden.text
    assert "Jan Peeters" not in hidden.text
    assert refusals(app, f"candidacy:{candidacy}") == before + 1
    actor = scalar(
        app,
        "SELECT actor FROM audit_events WHERE kind = 'authorisation.failed' "
        "AND subject = :s ORDER BY seq DESC LIMIT 1",
        s=f"candidacy:{candidacy}",
    )
    assert actor == "user:otto"

    stranger = browser()
    sent = stranger.get(interview_url(candidacy))
    assert sent.status_code == 303
    assert sent.headers["location"] == (f"/login?next=%2Fcandidacies%2F{candidacy}%2Finterview")
    posted = stranger.post(f"{interview_url(candidacy)}/score", data=score_form("x", PASS))
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/login?")
    assert cards(app, candidacy) == 1


# -- 3. bad posts ----------------------------------------------------------------------------


def test_bad_scorecards_are_refused_and_a_card_is_replaced_only_with_a_reason(
    app: App, browser: Browser
) -> None:
    candidacy = at_interview(app)
    pia = browser()
    csrf = signed_in(pia, "pia")
    url = f"{interview_url(candidacy)}/score"

    outside = pia.post(url, data=score_form(csrf, (4, 9, 3, -1)))
    assert outside.status_code == 400
    assert "Not saved." in outside.text
    assert "judgement: 9 is outside the scale 0–5" in outside.text
    assert form_posting_to(outside.text, "/interview/score") is not None  # the page again

    missing = score_form(csrf, PASS)
    del missing["score.stress_resistance"]
    refused = pia.post(url, data=missing)
    assert refused.status_code == 400
    assert "stress_resistance: give a score" in refused.text
    # What was chosen is still chosen.
    form = form_posting_to(refused.text, "/interview/score")
    assert form is not None
    checked = {
        r.attrs["name"]: r.attrs["value"] for r in form.find("input") if "checked" in r.attrs
    }
    assert checked == {
        "score.interviewing_technique": "4",
        "score.judgement": "3",
        "score.written_dutch_french": "3",
    }

    assert pia.post(url, data=score_form("", PASS)).status_code == 403
    no_token = {k: v for k, v in score_form(csrf, PASS).items() if k != "csrf"}
    assert pia.post(url, data=no_token).status_code == 403
    assert pia.post(url, data=score_form(csrf + "x", PASS)).status_code == 403
    assert cards(app, candidacy) == 0

    assert pia.post(url, data=score_form(csrf, PASS, comment="first")).status_code == 303
    again = pia.post(url, data=score_form(csrf, (5, 5, 5, 5), comment="second"))
    assert again.status_code == 409
    assert "already submitted a scorecard" in again.text
    assert "supersede it with a reason" in again.text

    blank = pia.post(url, data=score_form(csrf, (5, 5, 5, 5), supersede="1", reason="  "))
    assert 400 <= blank.status_code < 500
    assert "Not saved." in blank.text
    assert (cards(app, candidacy), cards(app, candidacy, live=False)) == (1, 0)
    assert side_by_side(page_of(pia, candidacy).text)["Pia"][:5] == ["4", "3", "3", "3", "13"]

    replaced = pia.post(
        url,
        data=score_form(
            csrf, (5, 5, 5, 5), supersede="1", reason="misread the scale", comment="second"
        ),
    )
    assert replaced.status_code == 303
    assert (cards(app, candidacy), cards(app, candidacy, live=False)) == (1, 1)
    shown = page_of(pia, candidacy, done="scored").text
    assert side_by_side(shown) == {"Pia": ["5", "5", "5", "5", "20", "passes", "second"]}
    assert "first" not in shown
    events = scalar(
        app,
        "SELECT count(*) FROM audit_events WHERE kind = 'scorecard.superseded' AND subject = :s",
        s=f"candidacy:{candidacy}",
    )
    assert events == 1


# -- 4. the chair's decision -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("consensus", "total", "verdict", "trigger", "outcome"),
    [
        pytest.param(
            EDGE,
            16,
            "not passed",
            "fail_interview",
            "rejected",
            id="one-score-below-the-floor-fails",
        ),
        pytest.param((2, 2, 2, 3), 9, "not passed", "fail_interview", "rejected", id="low-total"),
        pytest.param((4, 4, 3, 3), 14, "passed", "pass_interview", "selected", id="passing"),
    ],
)
def test_the_chair_decides_once_enough_cards_and_their_own_are_in(
    app: App,
    browser: Browser,
    consensus: tuple[int, ...],
    total: int,
    verdict: str,
    trigger: str,
    outcome: str,
) -> None:
    candidacy = at_interview(app)
    pia, paul = browser(), browser()
    pia_csrf, paul_csrf = signed_in(pia, "pia"), signed_in(paul, "paul")
    url = interview_url(candidacy)

    assert pia.post(f"{url}/score", data=score_form(pia_csrf, PASS)).status_code == 303
    alone = page_of(pia, candidacy).text
    assert "1 of 3 scorecards in" in alone
    assert form_posting_to(alone, "/interview/decide") is None  # the panel's minimum is 2

    assert paul.post(f"{url}/score", data=score_form(paul_csrf, (3, 3, 3, 3))).status_code == 303
    assert form_posting_to(page_of(paul, candidacy).text, "/interview/decide") is None
    ready = page_of(pia, candidacy).text
    decide = form_posting_to(ready, "/interview/decide")
    assert decide is not None
    assert list(scale_fieldsets(decide)) == list(CRITERIA)
    assert decide.find("textarea", name="motivation")

    # A member is not the chair: 403, nothing decided.
    member = paul.post(
        f"{url}/decide", data=score_form(paul_csrf, consensus, motivation="I decide")
    )
    assert member.status_code == 403
    assert "only the panel's chair decides" in unescape(member.text)
    assert (state(app, candidacy), cards(app, candidacy, kind="consensus")) == ("interview", 0)
    # The chair must say why.
    unmotivated = pia.post(f"{url}/decide", data=score_form(pia_csrf, consensus, motivation=""))
    assert unmotivated.status_code == 400
    assert (state(app, candidacy), cards(app, candidacy, kind="consensus")) == ("interview", 0)

    decided = pia.post(
        f"{url}/decide",
        data=score_form(pia_csrf, consensus, motivation="Weighed together: our consensus."),
    )
    assert decided.status_code == 303, unescape(decided.text)[-1500:]
    assert decided.headers["location"] == f"{url}?done=decided"
    assert state(app, candidacy) == outcome
    last = queries.history(app, candidacy)[-1]
    assert (last["trigger"], last["actor"], last["to"]) == (trigger, "user:pia", outcome)
    assert last["facts"].get("interview_score") == total

    for client in (pia, paul):
        shown = page_of(client, candidacy, done="decided").text
        assert "The decision is recorded." in shown
        assert f"Consensus total {total}: {verdict}" in shown
        assert "Weighed together: our consensus." in shown
        rows = side_by_side(shown)
        passes = "passes" if verdict == "passed" else "fails"
        assert rows["Consensus"] == [*map(str, consensus), str(total), passes, ""]
        assert set(rows) == {"Pia", "Paul", "Consensus"}
        assert form_posting_to(shown, "/interview/decide") is None
        assert form_posting_to(shown, "/interview/score") is None
    # Deciding twice: refused, the first decision stands.
    twice = pia.post(f"{url}/decide", data=score_form(pia_csrf, PASS, motivation="again"))
    assert twice.status_code == 409
    assert (state(app, candidacy), cards(app, candidacy, kind="consensus")) == (outcome, 1)


# -- 5. the approvals queue ------------------------------------------------------------------


def test_approvals_queue_and_four_eyes_through_the_pages(app: App, browser: Browser) -> None:
    candidacy = selected(app)
    make_user(app, "ava", "hiring_manager", "approver", services=("CGVS",))
    make_user(app, "anna", "approver", services=("CGVS",))
    make_user(app, "dora", "approver", services=("DVZ",))
    make_user(app, "rita", "recruiter", services=("CGVS",))
    make_user(app, "adam", "admin")

    # Only approvers and admins: the others get 403, audited.
    rita = browser()
    signed_in(rita, "rita")
    before = refusals(app, "web:approvals")
    refused = rita.get("/approvals")
    assert refused.status_code == 403
    assert "the approvals queue is for approvers" in refused.text
    pia = browser()
    signed_in(pia, "pia")
    assert pia.get("/approvals").status_code == 403
    assert refusals(app, "web:approvals") == before + 2

    # ava asks for the offer from the candidacy page.
    ava = browser()
    ava_csrf = signed_in(ava, "ava")
    detail = ava.get(f"/candidacies/{candidacy}")
    asked = ava.post(
        f"/candidacies/{candidacy}/fire",
        data={"csrf": ava_csrf, "action": action_of(detail.text, "request_offer"), "reason": ""},
    )
    assert asked.status_code == 303, asked.text
    assert state(app, candidacy) == "offer_pending_approval"

    anna = browser()
    anna_csrf = signed_in(anna, "anna")
    for client in (anna, ava):
        queue = client.get("/approvals")
        assert queue.status_code == 200
        rows = [r for r in parse(queue.text).find("tr") if r.find("td")]
        assert len(rows) == 1
        cells = [c.text() for c in rows[0].find("td")]
        assert cells[:4] == ["Jan Peeters", VACANCY, "Offer pending approval", "user:ava"]
        assert rows[0].find("a")[0].attrs["href"] == f"/candidacies/{candidacy}#h-actions"
    admin = browser()
    signed_in(admin, "adam")
    assert "Jan Peeters" in admin.get("/approvals").text
    dora = browser()
    signed_in(dora, "dora")
    elsewhere = dora.get("/approvals")
    assert elsewhere.status_code == 200
    assert "Nothing waits for approval." in elsewhere.text
    assert "Jan Peeters" not in elsewhere.text

    # ava sees the approve button, but may not approve what she asked for.
    page = ava.get(f"/candidacies/{candidacy}")
    approve = action_of(page.text, "approve_offer")
    version = queries.candidacy(app, candidacy)["version"]
    own = ava.post(
        f"/candidacies/{candidacy}/fire",
        data={"csrf": ava_csrf, "action": approve, "reason": ""},
    )
    assert own.status_code == 403
    assert "four eyes: user:ava asked for this (request_offer)" in own.text
    assert "Not moved." in own.text
    assert state(app, candidacy) == "offer_pending_approval"
    assert queries.candidacy(app, candidacy)["version"] == version

    # Nor a member of the interview panel.
    duo = browser()
    duo_csrf = signed_in(duo, "duo")
    panelist = duo.post(
        f"/candidacies/{candidacy}/fire",
        data={"csrf": duo_csrf, "action": approve, "reason": ""},
    )
    assert panelist.status_code == 403
    assert "sat on the interview panel" in panelist.text
    assert state(app, candidacy) == "offer_pending_approval"

    # Another approver does: the offer is made and the queue is empty.
    page = anna.get(f"/candidacies/{candidacy}")
    approved = anna.post(
        f"/candidacies/{candidacy}/fire",
        data={"csrf": anna_csrf, "action": action_of(page.text, "approve_offer"), "reason": ""},
    )
    assert approved.status_code == 303, approved.text
    assert state(app, candidacy) == "offer"
    assert queries.history(app, candidacy)[-1]["actor"] == "user:anna"
    for client in (anna, ava):
        emptied = client.get("/approvals").text
        assert "Nothing waits for approval." in emptied
        assert f"/candidacies/{candidacy}#h-actions" not in emptied


# -- 6. tablets and laptops ------------------------------------------------------------------


def test_every_choice_is_a_labelled_target_in_a_fieldset_with_a_legend(
    app: App, browser: Browser
) -> None:
    candidacy = at_interview(app)
    submitted(app, candidacy, "paul", PASS, "")
    pia = browser()
    csrf = signed_in(pia, "pia")
    pages = [page_of(pia, candidacy).text]  # the first scorecard
    pia.post(f"{interview_url(candidacy)}/score", data=score_form(csrf, PASS))
    pages.append(page_of(pia, candidacy).text)  # replacing it, and the consensus form
    forms = [
        form_posting_to(pages[0], "/interview/score"),
        form_posting_to(pages[1], "/interview/score"),
        form_posting_to(pages[1], "/interview/decide"),
    ]
    for form in forms:
        assert form is not None
        radios = form.find("input", type="radio")
        assert len(radios) == len(CRITERIA) * 6
        for radio in radios:
            fieldset = radio.inside("fieldset", until=form)
            assert fieldset is not None, radio.attrs
            label = radio.inside("label", until=fieldset)
            assert label is not None, f"{radio.attrs} is not inside its label"
            assert len(label.find("input")) == 1
            assert label.text(), radio.attrs
            assert "required" in radio.attrs
        fieldsets = form.find("fieldset")
        assert len(fieldsets) == len(CRITERIA)
        for fieldset in fieldsets:
            legend = fieldset.elements()[0]
            assert legend.tag == "legend", fieldset.attrs
            assert legend.text(), fieldset.attrs
            assert len(fieldset.find("legend")) == 1
        for box in form.find("textarea"):
            named = [
                lab
                for lab in form.find("label")
                if lab.attrs.get("for") == box.attrs["id"] and lab.text()
            ]
            assert len(named) == 1, box.attrs


def test_the_chairs_page_has_no_duplicate_ids(app: App, browser: Browser) -> None:
    candidacy = at_interview(app)
    submitted(app, candidacy, "paul", PASS, "")
    pia = browser()
    csrf = signed_in(pia, "pia")
    pia.post(f"{interview_url(candidacy)}/score", data=score_form(csrf, PASS))
    html = page_of(pia, candidacy).text
    assert form_posting_to(html, "/interview/decide") is not None
    ids = [n.attrs["id"] for n in parse(html).walk() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_an_interview_page_for_an_id_beyond_the_databases_range_is_not_found(
    app: App,
) -> None:
    with TestClient(
        create_api(app), follow_redirects=False, raise_server_exceptions=False
    ) as client:
        csrf = signed_in(client, "pia")
        for huge in (2**31, 2**64, "12abc"):
            assert client.get(f"/candidacies/{huge}").status_code == 404
            assert client.get(f"/candidacies/{huge}/interview").status_code == 404, huge
            posted = client.post(
                f"/candidacies/{huge}/interview/score", data=score_form(csrf, PASS)
            )
            assert posted.status_code == 404, huge
