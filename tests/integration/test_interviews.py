"""Interview panels, blind scorecards and the chair's decision on real databases.

No shipped workflow has an interview block yet, so every test runs on a home
copy: the repository's config, workflows and notifications, with the issue's
interview block (``INTERVIEW_TEXT`` of tests/unit/test_interview.py: four
criteria on 0..5, every criterion at least 2 and a total of at least 12,
``pass_interview`` / ``fail_interview``, the total kept in ``interview_score``)
appended to protection-officer.yaml, which vacancy CGVS-PROT-W1 (service CGVS)
runs. Candidacies reach the interview state the way the other integration
tests walk workflows (``path_to`` and ``satisfying_facts``).

Staff have distinctive names so the access export can be searched for them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.exc import DBAPIError

from ats.adapters.db.models import PanelMemberRow, ScorecardRow
from ats.adapters.db.store import AUDIT, AUDIT_TEXT, CANDIDACY, CANDIDATE, EVENT
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.access import Principal
from ats.errors import ConflictError, Forbidden, InvalidInput, NotFound, TransitionRefused
from ats.service import interviews, privacy, queries
from ats.service.app import App
from ats.service.audit import verify
from ats.service.commands import Apply, FireTrigger
from ats.service.setup import initialise
from ats.service.users import create_user, disable_user, principal_of
from ats.settings import Settings
from tests.conftest import REPO, walk
from tests.integration.test_audit import GUARDS
from tests.unit.test_interview import CRITERIA, SHIPPED_BLOCK, with_interview

VACANCY = "CGVS-PROT-W1"
PANEL = cast(Table, PanelMemberRow.__table__)
SCORECARD = cast(Table, ScorecardRow.__table__)

# username -> (display name, roles, services). CHAIR, MEMBER and THIRD sit on the usual panel.
CHAIR, MEMBER, THIRD, FOURTH, FIFTH = (
    "wim.vermeulen",
    "ines.maes",
    "karel.goossens",
    "an.smets",
    "jef.dewulf",
)
RECRUITER = "lotte.janssens"  # staff of the service, outside the panel
NOT_PANEL = "sara.peeters"  # a recruiter without the panel role
ELSEWHERE = "bram.desmet"  # panel role, but works for DVZ
DISABLED = "tom.wouters"  # panel role, CGVS, disabled
STAFF: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    CHAIR: ("Wim Vermeulen", ("panel",), ("CGVS",)),
    MEMBER: ("Ines Maes", ("panel",), ("CGVS",)),
    THIRD: ("Karel Goossens", ("panel",), ("CGVS",)),
    FOURTH: ("An Smets", ("panel",), ("CGVS",)),
    FIFTH: ("Jef Dewulf", ("panel",), ("CGVS",)),
    RECRUITER: ("Lotte Janssens", ("recruiter",), ("CGVS",)),
    NOT_PANEL: ("Sara Peeters", ("recruiter",), ("CGVS",)),
    ELSEWHERE: ("Bram Desmet", ("panel",), ("DVZ",)),
    DISABLED: ("Tom Wouters", ("panel",), ("CGVS",)),
}
SETTER = "recruiter:lotte.janssens"


def scores(*values: object) -> dict[str, object]:
    """Scores for the four criteria, in the order of the interview block."""
    return dict(zip(CRITERIA, values, strict=True))


# -- the application on a home copy ------------------------------------------------------------


def interview_home(folder: Path) -> Path:
    """A copy of the repository's config, workflows and notifications with the interview block."""
    for name in ("config", "workflows", "notifications"):
        shutil.copytree(REPO / name, folder / name)
    workflow = folder / "workflows" / "protection-officer.yaml"
    workflow.write_text(with_interview(workflow.read_text(encoding="utf-8")), encoding="utf-8")
    # And one workflow without an interview, as before the drive adopted them.
    escort = folder / "workflows" / "security-escort.yaml"
    text = escort.read_text(encoding="utf-8")
    text = text[: text.index(SHIPPED_BLOCK)].replace("    consensus: pass\n", "")
    escort.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def app(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[App]:
    """The application on the home copy, migrated, workflows loaded, the staff created."""
    home = interview_home(tmp_path / "home")
    application = bootstrap(Settings(home=home, database_url=database_url), clock=clock)
    initialise(application)
    try:
        for username, (name, roles, services) in STAFF.items():
            create_user(
                application,
                username=username,
                display_name=name,
                roles=roles,
                services=services,
                language="en",
            )
        disable_user(application, DISABLED)
        yield application
    finally:
        application.close()


def who(app: App, username: str) -> Principal:
    return principal_of(app, username)


def walk_to(app: App, goal: str, email: str = "jan.peeters@example.be") -> int:
    """A new candidacy on the vacancy, moved by staff along the shortest path to ``goal``."""
    candidacy = int(
        app.handle(Apply(vacancy=VACANCY, name="Jan Peeters", email=email, language="nl"))
    )
    walk(app, candidacy, goal)
    assert queries.candidacy(app, candidacy)["state"] == goal
    return candidacy


def _definition(app: App, candidacy: int):  # type: ignore[no-untyped-def]
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy)
        assert found is not None
        return app.registry.definition(uow, found[0].workflow_version_id)


def seat_panel(app: App, *members: str, chair: str = CHAIR) -> list[dict[str, Any]]:
    return interviews.set_panel(app, VACANCY, list(members), chair, actor=SETTER, role="recruiter")


@pytest.fixture
def interviewing(app: App) -> int:
    """A candidacy in the interview state; the panel is the chair, a member and a third member."""
    seat_panel(app, CHAIR, MEMBER, THIRD)
    return walk_to(app, "interview")


# -- observing --------------------------------------------------------------------------------


def cards(app: App, candidacy: int | None = None) -> list[dict[str, Any]]:
    """Every scorecard row (superseded ones too), oldest first."""
    query = select(SCORECARD).order_by(SCORECARD.c.id)
    if candidacy is not None:
        query = query.where(SCORECARD.c.candidacy_id == candidacy)
    with app.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def events(app: App, *kinds: str) -> list[dict[str, Any]]:
    with app.engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(EVENT).where(EVENT.c.kind.in_(kinds)).order_by(EVENT.c.seq)
            ).mappings()
        ]


def event_count(app: App) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EVENT)).scalar_one())


def snapshot(app: App, candidacy: int) -> tuple[object, ...]:
    """Everything a refused call must leave as it was: the candidacy, its cards, the logs."""
    with app.engine.connect() as connection:
        row = connection.execute(select(CANDIDACY).where(CANDIDACY.c.id == candidacy)).one()
        entries = connection.execute(select(func.count()).select_from(AUDIT)).scalar_one()
    return (tuple(row), entries, event_count(app), cards(app))


def live_cards(app: App, candidacy: int) -> dict[str, dict[str, Any]]:
    """The member cards not superseded, by username."""
    names = {who(app, u).user_id: u for u in STAFF if u != DISABLED}
    return {
        names[c["user_id"]]: c
        for c in cards(app, candidacy)
        if c["kind"] == "member" and c["superseded_at"] is None
    }


def panel_names(app: App) -> list[tuple[str, bool]]:
    return [(m["username"], m["chair"]) for m in interviews.panel(app, VACANCY)]


# -- 1. the panel -------------------------------------------------------------------------------


def test_a_panel_that_breaks_a_rule_is_refused_naming_it_and_nothing_changes(app: App) -> None:
    """Size, chair, unknown, role-less, disabled and other-service users: each named, no change."""
    seat_panel(app, CHAIR, MEMBER)
    before = (panel_names(app), len(events(app, "panel.set")))
    cases: list[tuple[list[str], str, list[str]]] = [
        ([CHAIR], CHAIR, ["a panel of 1: the workflow asks 2 to 4 members"]),
        (
            [CHAIR, MEMBER, THIRD, FOURTH, FIFTH],
            CHAIR,
            ["a panel of 5: the workflow asks 2 to 4 members"],
        ),
        ([CHAIR, MEMBER], THIRD, [f"the chair '{THIRD}' must be one of the members"]),
        ([CHAIR, "nobody.known"], CHAIR, ["no user 'nobody.known'"]),
        ([CHAIR, NOT_PANEL], CHAIR, [f"'{NOT_PANEL}' is not an active user with the panel role"]),
        ([CHAIR, DISABLED], CHAIR, [f"'{DISABLED}' is not an active user with the panel role"]),
        ([CHAIR, ELSEWHERE], CHAIR, [f"'{ELSEWHERE}' does not work for CGVS"]),
        # Several at once: every problem is named in one refusal.
        (
            [MEMBER, "nobody.known", ELSEWHERE, NOT_PANEL],
            CHAIR,
            [
                f"the chair '{CHAIR}' must be one of the members",
                "no user 'nobody.known'",
                f"'{ELSEWHERE}' does not work for CGVS",
                f"'{NOT_PANEL}' is not an active user with the panel role",
            ],
        ),
        # One person named twice is one member: a panel of one.
        ([CHAIR, " Wim.Vermeulen "], CHAIR, ["a panel of 1"]),
    ]
    for members, chair, expected in cases:
        with pytest.raises(InvalidInput) as refused:
            seat_panel(app, *members, chair=chair)
        said = str(refused.value)
        assert said.startswith(f"panel for {VACANCY}: "), said
        for fragment in expected:
            assert fragment in said, (members, chair, said)
        assert (panel_names(app), len(events(app, "panel.set"))) == before, (members, chair)


def test_no_panel_and_no_card_where_there_is_no_interview_block(
    app: App,
) -> None:
    with pytest.raises(NotFound, match="no vacancy 'NOPE-W1'"):
        interviews.set_panel(app, "NOPE-W1", [CHAIR, MEMBER], CHAIR, actor=SETTER, role="recruiter")
    with pytest.raises(InvalidInput, match="has no interview block"):
        interviews.set_panel(
            app, "DVZ-SEC-W1", [CHAIR, MEMBER], CHAIR, actor=SETTER, role="recruiter"
        )
    assert events(app, "panel.set") == []
    assert interviews.panel(app, "DVZ-SEC-W1") == []
    # Nor is a candidacy scored whose workflow has no interview block, nor one that is unknown.
    escort = int(
        app.handle(
            Apply(vacancy="DVZ-SEC-W1", name="An Peeters", email="an@example.be", language="nl")
        )
    )
    with pytest.raises(InvalidInput, match="workflow security-escort has no interview block"):
        interviews.scorecards(app, escort, who(app, CHAIR))
    with pytest.raises(NotFound, match="no candidacy 999"):
        interviews.submit(app, 999, who(app, CHAIR), scores(3, 3, 3, 3))
    assert cards(app) == []


def test_a_good_panel_replaces_the_previous_one_and_each_setting_is_audited(app: App) -> None:
    assert interviews.panel(app, VACANCY) == []
    first = seat_panel(app, MEMBER, CHAIR)
    assert [(m["username"], m["display_name"], m["chair"]) for m in first] == [
        (CHAIR, "Wim Vermeulen", True),  # the chair first
        (MEMBER, "Ines Maes", False),
    ]
    # Usernames are taken as typed by people: trimmed and lower-cased.
    second = seat_panel(app, " An.Smets", "KAREL.GOOSSENS ", MEMBER, FIFTH, chair="Karel.Goossens")
    assert second == interviews.panel(app, VACANCY)
    assert panel_names(app) == [(THIRD, True), (FOURTH, False), (MEMBER, False), (FIFTH, False)]

    set_events = events(app, "panel.set")
    assert [(e["actor"], e["role"], e["subject"]) for e in set_events] == [
        (SETTER, "recruiter", f"vacancy:{VACANCY}")
    ] * 2
    assert [e["details"] for e in set_events] == [
        {"members": [MEMBER, CHAIR], "chair": CHAIR},
        {"members": [FOURTH, THIRD, MEMBER, FIFTH], "chair": THIRD},
    ]
    assert verify(app).ok


# -- 2. blind scoring ---------------------------------------------------------------------------


def view(app: App, candidacy: int, username: str) -> dict[str, Any]:
    return interviews.scorecards(app, candidacy, who(app, username))


def assert_blind(seen: Mapping[str, Any], submitted: int) -> None:
    """Only how many cards are in: no card, no decision."""
    assert seen["blind"] is True
    assert seen["cards"] == []
    assert seen["decision"] is None
    assert seen["submitted"] == submitted
    assert seen["needed"] == 2


def test_members_score_blind_until_their_own_card_is_in_and_outsiders_until_the_decision(
    app: App, interviewing: int
) -> None:
    """The issue's done-when: nobody on the panel sees another's scores before filing theirs."""
    candidacy = interviewing
    for username in (CHAIR, MEMBER, THIRD, RECRUITER, ELSEWHERE):
        assert_blind(view(app, candidacy, username), 0)

    interviews.submit(app, candidacy, who(app, MEMBER), scores(3, 3, 3, 3), "steady")
    mine = view(app, candidacy, MEMBER)
    assert mine["blind"] is False
    assert [(c["member"], c["scores"], c["total"], c["passed"]) for c in mine["cards"]] == [
        (MEMBER, scores(3, 3, 3, 3), 12, True)
    ]
    assert mine["mine"] is not None
    assert mine["mine"]["comment"] == "steady"
    for username in (CHAIR, THIRD, RECRUITER, ELSEWHERE):
        seen = view(app, candidacy, username)
        assert_blind(seen, 1)
        assert seen["mine"] is None
        assert "steady" not in json.dumps(seen, default=str)

    interviews.submit(app, candidacy, who(app, CHAIR), scores(1, 5, 5, 5), "uneven")
    for username in (CHAIR, MEMBER):  # both filed: both see both, with the rule's verdict
        seen = view(app, candidacy, username)
        assert seen["blind"] is False
        assert [(c["member"], c["total"], c["passed"]) for c in seen["cards"]] == [
            (MEMBER, 12, True),
            (CHAIR, 16, False),  # 16 ≥ 12, but one criterion below 2
        ]
        assert seen["decision"] is None
    for username in (THIRD, RECRUITER, ELSEWHERE):  # not filed / outside the panel: the count
        assert_blind(view(app, candidacy, username), 2)

    interviews.decide(app, candidacy, who(app, CHAIR), scores(3, 3, 3, 3), "agreed on 12")
    for username in (THIRD, RECRUITER, ELSEWHERE):  # after the decision: everything
        seen = view(app, candidacy, username)
        assert seen["blind"] is False
        assert [c["member"] for c in seen["cards"]] == [MEMBER, CHAIR]
        assert seen["decision"] is not None
        assert (seen["decision"]["member"], seen["decision"]["total"]) == (CHAIR, 12)
        assert seen["decision"]["comment"] == "agreed on 12"


def test_someone_outside_the_panel_cannot_submit(app: App, interviewing: int) -> None:
    before = snapshot(app, interviewing)
    for username in (RECRUITER, ELSEWHERE, FOURTH):
        with pytest.raises(Forbidden, match=f"{username} is not on the panel of vacancy {VACANCY}"):
            interviews.submit(app, interviewing, who(app, username), scores(3, 3, 3, 3))
    assert snapshot(app, interviewing) == before


def test_a_member_submits_once_and_supersedes_with_a_reason_that_is_sealed(
    app: App, interviewing: int
) -> None:
    candidacy, ines = interviewing, who(app, MEMBER)
    first = interviews.submit(app, candidacy, ines, scores(1, 2, 2, 2), "first impression")
    before = snapshot(app, candidacy)
    with pytest.raises(ConflictError, match="already submitted a scorecard"):
        interviews.submit(app, candidacy, ines, scores(4, 4, 4, 4), "second thoughts")
    for blank in ("", "   "):  # a supersession says why
        with pytest.raises(InvalidInput, match="reason: say why"):
            interviews.submit(app, candidacy, ines, scores(4, 4, 4, 4), supersede_reason=blank)
    assert snapshot(app, candidacy) == before

    second = interviews.submit(
        app,
        candidacy,
        ines,
        scores(4, 4, 3, 4),
        "on reflection",
        supersede_reason="misread the scale",
    )
    assert second != first
    rows = {c["id"]: c for c in cards(app, candidacy)}
    assert rows[first]["superseded_at"] is not None
    assert rows[first]["scores"] == scores(1, 2, 2, 2)  # the old card is kept, not changed
    assert rows[second]["superseded_at"] is None
    assert (rows[second]["scores"], rows[second]["total"], rows[second]["passed"]) == (
        scores(4, 4, 3, 4),
        15,
        True,
    )
    assert [c["total"] for c in view(app, candidacy, MEMBER)["cards"]] == [15]

    superseded = events(app, "scorecard.superseded")
    assert len(superseded) == 1
    details = superseded[0]["details"]
    assert (superseded[0]["actor"], superseded[0]["role"]) == (f"user:{MEMBER}", "panel")
    assert superseded[0]["subject"] == f"candidacy:{candidacy}"
    assert (details["scores"], details["total"], details["passed"]) == (
        scores(4, 4, 3, 4),
        15,
        True,
    )
    assert details["reason"].startswith("sealed:")
    assert "misread" not in json.dumps(details)
    assert "reflection" not in json.dumps(details)
    assert rows[second]["event_seq"] == superseded[0]["seq"]
    assert verify(app).ok


def test_two_submissions_by_one_member_at_once_file_one_card(
    app: App, interviewing: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read 'no card yet' before either writes; exactly one may be filed."""
    both_read = threading.Barrier(2)
    real_live = interviews._live

    def live_after_both_read(*args: Any, **kwargs: Any) -> Any:
        found = real_live(*args, **kwargs)
        # A fix that serialises submissions makes the other wait here: go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=3)
        return found

    monkeypatch.setattr(interviews, "_live", live_after_both_read)
    outcomes: list[str] = []

    def file(stress: int) -> None:
        try:
            interviews.submit(app, interviewing, who(app, CHAIR), scores(3, 3, 3, stress))
            outcomes.append("filed")
        except (ConflictError, DBAPIError):
            outcomes.append("refused")

    threads = [threading.Thread(target=file, args=(n,)) for n in (3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    monkeypatch.undo()
    assert sorted(outcomes) == ["filed", "refused"]
    assert list(live_cards(app, interviewing)) == [CHAIR]
    assert view(app, interviewing, CHAIR)["submitted"] == 1
    with pytest.raises(ConflictError, match="1 of the panel's scorecards are in"):
        interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "alone")


def test_superseding_without_a_card_is_refused(app: App, interviewing: int) -> None:
    before = snapshot(app, interviewing)
    with pytest.raises(ConflictError, match=f"{MEMBER} has no scorecard to supersede yet"):
        interviews.submit(
            app, interviewing, who(app, MEMBER), scores(3, 3, 3, 3), supersede_reason="changed"
        )
    assert snapshot(app, interviewing) == before


def test_scores_off_the_scale_or_missing_are_refused_with_every_problem_named(
    app: App, interviewing: int
) -> None:
    before = snapshot(app, interviewing)
    bad = {
        "interviewing_technique": 6,
        "judgement": -1,
        "stress_resistance": "2.5",
        "charisma": 4,  # written_dutch_french is missing
    }
    with pytest.raises(InvalidInput) as refused:
        interviews.submit(app, interviewing, who(app, MEMBER), bad, "typo")
    said = str(refused.value)
    for fragment in (
        "unknown criterion 'charisma'",
        "interviewing_technique: 6 is outside the scale 0–5",
        "judgement: -1 is outside the scale 0–5",
        "written_dutch_french: give a score",
        "stress_resistance: expected a whole number, got '2.5'",
    ):
        assert fragment in said, said
    for odd in (scores(3, 3, 3, True), scores(3, 3, 3, None), scores(3, 3, 3, "")):
        with pytest.raises(InvalidInput, match="stress_resistance"):
            interviews.submit(app, interviewing, who(app, MEMBER), odd)
    with pytest.raises(InvalidInput, match="comment: at most 2000 characters, got 2001"):
        interviews.submit(app, interviewing, who(app, MEMBER), scores(3, 3, 3, 3), "x" * 2001)
    assert snapshot(app, interviewing) == before


def test_scores_as_typed_on_a_command_line_are_taken(app: App, interviewing: int) -> None:
    card = interviews.submit(app, interviewing, who(app, MEMBER), scores("0", " 5", "2", "3"))
    assert live_cards(app, interviewing)[MEMBER]["id"] == card
    assert live_cards(app, interviewing)[MEMBER]["scores"] == scores(0, 5, 2, 3)


def test_scoring_outside_the_interview_state_is_refused(app: App) -> None:
    seat_panel(app, CHAIR, MEMBER)
    waiting = walk_to(app, "awaiting_interview")
    before = snapshot(app, waiting)
    with pytest.raises(
        ConflictError, match="in 'awaiting_interview'; the panel scores in 'interview'"
    ):
        interviews.submit(app, waiting, who(app, MEMBER), scores(3, 3, 3, 3))
    assert snapshot(app, waiting) == before

    decided = walk_to(app, "interview", "els.wouters@example.be")
    interviews.submit(app, decided, who(app, MEMBER), scores(3, 3, 3, 3))
    interviews.submit(app, decided, who(app, CHAIR), scores(3, 3, 3, 3))
    interviews.decide(app, decided, who(app, CHAIR), scores(3, 3, 3, 3), "agreed")
    before = snapshot(app, decided)
    with pytest.raises(ConflictError, match="in 'selected'"):
        interviews.submit(
            app, decided, who(app, MEMBER), scores(5, 5, 5, 5), supersede_reason="too late"
        )
    assert snapshot(app, decided) == before


# -- 3. the pass rule through the decision ------------------------------------------------------


def both_filed(app: App, candidacy: int) -> None:
    interviews.submit(app, candidacy, who(app, MEMBER), scores(3, 3, 3, 3), "member's notes")
    interviews.submit(app, candidacy, who(app, CHAIR), scores(3, 3, 3, 3), "chair's notes")


def decided_entry(app: App, candidacy: int) -> dict[str, Any]:
    with app.engine.connect() as connection:
        return dict(
            connection.execute(
                select(AUDIT).where(AUDIT.c.candidacy_id == candidacy).order_by(AUDIT.c.seq.desc())
            )
            .mappings()
            .first()
            or {}
        )


def test_a_criterion_below_its_floor_fails_however_high_the_total(
    app: App, interviewing: int
) -> None:
    both_filed(app, interviewing)
    event = interviews.decide(
        app, interviewing, who(app, CHAIR), scores(1, 5, 5, 5), "technique too weak"
    )
    assert (event.trigger, event.src, event.dst) == ("fail_interview", "interview", "rejected")
    detail = queries.candidacy(app, interviewing)
    assert detail["state"] == "rejected"
    assert detail["facts"]["interview_score"] == 16
    (decision,) = events(app, "interview.decided")
    assert decision["details"]["passed"] is False
    assert decision["details"]["shortfalls"] == ["interviewing_technique: 1 is below 2"]


@pytest.mark.parametrize(
    ("consensus", "trigger", "state", "total"),
    [
        pytest.param((2, 2, 4, 4), "pass_interview", "selected", 12, id="exactly-at-both-floors"),
        pytest.param((5, 5, 5, 5), "pass_interview", "selected", 20, id="top-marks"),
        pytest.param((2, 3, 3, 3), "fail_interview", "rejected", 11, id="total-one-short"),
        pytest.param((0, 0, 0, 0), "fail_interview", "rejected", 0, id="nothing"),
    ],
)
def test_the_pass_rule_on_the_consensus_fires_pass_or_fail_and_records_the_total(
    app: App,
    interviewing: int,
    consensus: tuple[int, ...],
    trigger: str,
    state: str,
    total: int,
) -> None:
    both_filed(app, interviewing)
    event = interviews.decide(
        app, interviewing, who(app, CHAIR), scores(*consensus), "the panel agreed"
    )
    assert (event.trigger, event.src, event.dst) == (trigger, "interview", state)
    assert event.facts == {"interview_score": total}
    detail = queries.candidacy(app, interviewing)
    assert (detail["state"], detail["facts"]["interview_score"]) == (state, total)
    entry = decided_entry(app, interviewing)
    assert (entry["trigger"], entry["actor"], entry["role"]) == (trigger, f"user:{CHAIR}", "panel")
    assert entry["reason"].startswith("sealed:")
    consensus_card = [c for c in cards(app, interviewing) if c["kind"] == "consensus"]
    assert [(c["total"], c["passed"], c["comment"]) for c in consensus_card] == [
        (total, trigger == "pass_interview", "the panel agreed")
    ]


def test_only_the_chair_decides(app: App, interviewing: int) -> None:
    both_filed(app, interviewing)
    before = snapshot(app, interviewing)
    with pytest.raises(Forbidden, match=f"only the panel's chair decides; {MEMBER} is a member"):
        interviews.decide(app, interviewing, who(app, MEMBER), scores(3, 3, 3, 3), "me")
    for outsider in (RECRUITER, ELSEWHERE):
        with pytest.raises(Forbidden, match="is not on the panel"):
            interviews.decide(app, interviewing, who(app, outsider), scores(3, 3, 3, 3), "me")
    assert snapshot(app, interviewing) == before


def test_the_chair_files_their_own_card_before_deciding(app: App, interviewing: int) -> None:
    interviews.submit(app, interviewing, who(app, MEMBER), scores(3, 3, 3, 3))
    interviews.submit(app, interviewing, who(app, THIRD), scores(3, 3, 3, 3))
    before = snapshot(app, interviewing)
    with pytest.raises(ConflictError, match="the chair scores first"):
        interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "agreed")
    assert snapshot(app, interviewing) == before


def test_the_decision_needs_the_panels_minimum_of_cards(app: App, interviewing: int) -> None:
    interviews.submit(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3))
    before = snapshot(app, interviewing)
    with pytest.raises(
        ConflictError, match="1 of the panel's scorecards are in; the decision needs 2"
    ):
        interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "alone")
    assert snapshot(app, interviewing) == before
    # A superseded card is not a second card.
    interviews.submit(
        app, interviewing, who(app, CHAIR), scores(4, 4, 4, 4), supersede_reason="recounted"
    )
    with pytest.raises(ConflictError, match="1 of the panel's scorecards are in"):
        interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "alone")


def test_a_second_decision_is_refused(app: App, interviewing: int) -> None:
    both_filed(app, interviewing)
    interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "agreed")
    before = snapshot(app, interviewing)
    with pytest.raises(ConflictError):
        interviews.decide(app, interviewing, who(app, CHAIR), scores(1, 1, 1, 1), "changed mind")
    assert snapshot(app, interviewing) == before
    assert [c["kind"] for c in cards(app, interviewing)].count("consensus") == 1


def test_the_decision_needs_a_motivation_and_valid_scores(app: App, interviewing: int) -> None:
    both_filed(app, interviewing)
    before = snapshot(app, interviewing)
    chair = who(app, CHAIR)
    for motivation in ("", "  \n ", "x" * 2001):
        with pytest.raises(InvalidInput, match="motivation"):
            interviews.decide(app, interviewing, chair, scores(3, 3, 3, 3), motivation)
    with pytest.raises(InvalidInput) as refused:
        interviews.decide(app, interviewing, chair, {"judgement": 9}, "agreed")
    said = str(refused.value)
    assert "judgement: 9 is outside the scale 0–5" in said
    for name in ("interviewing_technique", "written_dutch_french", "stress_resistance"):
        assert f"{name}: give a score" in said
    assert snapshot(app, interviewing) == before


def test_a_decision_that_fails_halfway_leaves_nothing_behind(
    app: App, interviewing: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Card, event and transition are one transaction: a failure after them undoes all three."""
    both_filed(app, interviewing)
    before = snapshot(app, interviewing)
    real_advance = interviews.advance

    def advance_then_fail(*args: Any, **kwargs: Any) -> Any:
        real_advance(*args, **kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(interviews, "advance", advance_then_fail)
    with pytest.raises(RuntimeError):
        interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "agreed")
    monkeypatch.undo()
    assert snapshot(app, interviewing) == before
    event = interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 3, 3, 3), "agreed")
    assert event.dst == "selected"
    assert verify(app).ok


# -- 4. no offer without the panel's consensus --------------------------------------------------


@pytest.mark.parametrize("role", ["panel", "recruiter", "hiring_manager", "system"])
def test_the_decided_transitions_cannot_be_fired_directly(
    app: App, interviewing: int, role: str
) -> None:
    both_filed(app, interviewing)
    before = snapshot(app, interviewing)
    for trigger, total in (("pass_interview", 18), ("fail_interview", 4)):
        with pytest.raises(TransitionRefused) as refused:
            app.handle(
                FireTrigger(
                    candidacy_id=interviewing,
                    trigger=trigger,
                    actor=f"{role}:impatient",
                    role=role,
                    reason="no need for a panel",
                    facts={"interview_score": total},
                )
            )
        assert "ats interview decide" in str(refused.value)
    assert snapshot(app, interviewing) == before
    assert queries.candidacy(app, interviewing)["state"] == "interview"


def test_after_the_decision_the_candidacy_goes_on_to_the_offer_as_before(
    app: App, interviewing: int
) -> None:
    both_filed(app, interviewing)
    interviews.decide(app, interviewing, who(app, CHAIR), scores(3, 4, 3, 4), "convincing")
    with pytest.raises(TransitionRefused):  # still not by hand, not even from 'selected'
        app.handle(
            FireTrigger(
                candidacy_id=interviewing,
                trigger="pass_interview",
                actor="panel:again",
                role="panel",
                facts={"interview_score": 20},
            )
        )
    steps = (
        ("request_offer", "hiring_manager"),
        ("approve_offer", "approver"),
        ("accept_offer", "recruiter"),
    )
    for trigger, role in steps:
        app.handle(
            FireTrigger(candidacy_id=interviewing, trigger=trigger, actor=f"{role}:next", role=role)
        )
    detail = queries.candidacy(app, interviewing)
    assert (detail["state"], detail["facts"]["interview_score"]) == ("hired", 14)
    assert [h["trigger"] for h in queries.history(app, interviewing)][-4:] == [
        "pass_interview",
        *(trigger for trigger, _ in steps),
    ]


# -- 5. audit -----------------------------------------------------------------------------------


def full_flow(app: App, candidacy: int) -> None:
    """Two cards, one superseded, the decision: pass (3,4,3,4 = 14)."""
    interviews.submit(app, candidacy, who(app, MEMBER), scores(2, 2, 2, 2), "a bit nervous")
    interviews.submit(app, candidacy, who(app, CHAIR), scores(4, 3, 3, 4), "calm and precise")
    interviews.submit(
        app,
        candidacy,
        who(app, MEMBER),
        scores(3, 4, 3, 4),
        "calmer later on",
        supersede_reason="scored before the second case",
    )
    interviews.decide(app, candidacy, who(app, CHAIR), scores(3, 4, 3, 4), "Clear, well argued.")


def test_the_whole_flow_verifies_and_each_step_is_an_event_with_its_text_sealed(
    app: App, interviewing: int
) -> None:
    start = verify(app)
    assert start.ok
    full_flow(app, interviewing)
    report = verify(app)
    assert report.ok, [str(d) for d in report.damage]
    assert report.events == start.events + 4  # submitted ×2, superseded, decided
    assert report.entries == start.entries + 1  # pass_interview

    by_kind = [
        (e["kind"], e["actor"], e["role"], e["subject"])
        for e in events(app, "scorecard.submitted", "scorecard.superseded", "interview.decided")
    ]
    assert by_kind == [
        ("scorecard.submitted", f"user:{MEMBER}", "panel", f"candidacy:{interviewing}"),
        ("scorecard.submitted", f"user:{CHAIR}", "panel", f"candidacy:{interviewing}"),
        ("scorecard.superseded", f"user:{MEMBER}", "panel", f"candidacy:{interviewing}"),
        ("interview.decided", f"user:{CHAIR}", "panel", f"candidacy:{interviewing}"),
    ]
    recorded = events(app, "scorecard.submitted", "scorecard.superseded", "interview.decided")
    assert [(e["details"]["scores"], e["details"]["total"]) for e in recorded] == [
        (scores(2, 2, 2, 2), 8),
        (scores(4, 3, 3, 4), 14),
        (scores(3, 4, 3, 4), 14),
        (scores(3, 4, 3, 4), 14),
    ]
    for event in recorded:
        assert event["details"]["reason"].startswith("sealed:"), event
    plain = json.dumps([e["details"] for e in recorded])
    for said in ("nervous", "precise", "calmer", "second case", "well argued"):
        assert said not in plain
    decision = recorded[-1]["details"]
    assert (decision["passed"], decision["shortfalls"], decision["scorecards"]) == (True, [], 2)
    # The texts are kept beside the events, for the people allowed to read them.
    with app.engine.connect() as connection:
        kept = {
            row.event_id: row.reason
            for row in connection.execute(
                select(AUDIT_TEXT.c.event_id, AUDIT_TEXT.c.reason).where(
                    AUDIT_TEXT.c.event_id.in_([e["id"] for e in recorded])
                )
            )
        }
    assert [kept[e["id"]] for e in recorded] == [
        "a bit nervous",
        "calm and precise",
        "scored before the second case\n\ncalmer later on",
        "Clear, well argued.",
    ]


def test_the_database_refuses_to_change_a_scorecard_event(app: App, interviewing: int) -> None:
    full_flow(app, interviewing)
    (submitted, *_) = events(app, "scorecard.submitted")
    with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = :seq"),
            {"seq": submitted["seq"]},
        )
    assert verify(app).ok


def _drop_guards(app: App) -> None:
    with app.engine.begin() as connection:
        for statement in GUARDS[app.engine.dialect.name]:
            connection.execute(text(statement))


def test_changed_scores_in_a_scorecard_event_are_damage_that_verify_names(
    app: App, interviewing: int
) -> None:
    full_flow(app, interviewing)
    (submitted, *_) = events(app, "scorecard.submitted")
    _drop_guards(app)  # as an intruder with database access would
    forged = {**submitted["details"], "scores": scores(5, 5, 5, 5), "total": 20}
    with app.engine.begin() as connection:
        connection.execute(
            update(EVENT).where(EVENT.c.seq == submitted["seq"]).values(details=forged)
        )
    report = verify(app)
    assert not report.ok
    found = [(d.chain, d.what) for d in report.damage]
    # The forged event breaks its chain, and no longer says what the card it filed says.
    assert found == [
        ("events", "hash mismatch: the event was altered"),
        ("scorecards", "its scores differ from the audit event that filed it"),
    ]
    assert report.damage[0].seq == submitted["seq"]


def test_a_changed_kept_comment_of_a_scorecard_event_is_damage(app: App, interviewing: int) -> None:
    full_flow(app, interviewing)
    (_, chair_card) = events(app, "scorecard.submitted")
    with app.engine.begin() as connection:
        connection.execute(
            update(AUDIT_TEXT)
            .where(AUDIT_TEXT.c.event_id == chair_card["id"])
            .values(reason="a weak candidate")
        )
    report = verify(app)
    assert not report.ok
    assert any(d.seq == chair_card["seq"] for d in report.damage), [str(d) for d in report.damage]


def test_a_scorecard_row_changed_behind_the_logs_back_is_damage(
    app: App, interviewing: int
) -> None:
    full_flow(app, interviewing)
    with app.engine.begin() as connection:
        connection.execute(
            update(SCORECARD)
            .where(SCORECARD.c.candidacy_id == interviewing, SCORECARD.c.kind == "member")
            .values(scores=scores(0, 0, 0, 0), total=0, passed=False)
        )
    assert not verify(app).ok


# -- 6. privacy ---------------------------------------------------------------------------------


def candidate_key(app: App, candidacy: int) -> str:
    with app.engine.connect() as connection:
        return str(
            connection.execute(
                select(CANDIDATE.c.key)
                .join(CANDIDACY, CANDIDACY.c.candidate_id == CANDIDATE.c.id)
                .where(CANDIDACY.c.id == candidacy)
            ).scalar_one()
        )


def test_the_access_export_lists_the_cards_by_role_and_names_no_staff(
    app: App, interviewing: int
) -> None:
    full_flow(app, interviewing)
    export = privacy.access_data(app, candidate_key(app, interviewing))
    listed = [
        (s["candidacy"], s["by"], s["scores"], s["total"], s["passed"], s["comment"])
        for s in export["interview_scores"]
    ]
    assert listed == [
        (interviewing, "panel member", scores(2, 2, 2, 2), 8, False, "a bit nervous"),
        (interviewing, "panel member", scores(4, 3, 3, 4), 14, True, "calm and precise"),
        (interviewing, "panel member", scores(3, 4, 3, 4), 14, True, "calmer later on"),
        (
            interviewing,
            "panel chair (consensus)",
            scores(3, 4, 3, 4),
            14,
            True,
            "Clear, well argued.",
        ),
    ]
    superseded = [s["superseded"] is not None for s in export["interview_scores"]]
    assert superseded == [True, False, False, False]
    dumped = json.dumps(export, ensure_ascii=False, default=str).lower()
    for username, (name, _, _) in STAFF.items():
        assert username not in dumped, f"staff member {username} named in the export"
        assert name.lower() not in dumped, f"staff member {name} named in the export"
    assert json.dumps(export, default=str)  # a JSON document as it is


def test_erasure_clears_the_comments_keeps_the_scores_and_the_log_still_verifies(
    app: App, interviewing: int
) -> None:
    full_flow(app, interviewing)
    app.handle(
        FireTrigger(
            candidacy_id=interviewing,
            trigger="withdraw",
            actor="candidate:self",
            role="candidate",
        )
    )
    before = cards(app, interviewing)
    assert all(c["comment"] for c in before)
    key = candidate_key(app, interviewing)

    erasure = privacy.erase(app, key, reason="request", actor="admin:erasure-tests")
    assert erasure.candidacies == [interviewing]

    after = cards(app, interviewing)
    assert [c["comment"] for c in after] == [None] * len(before)
    keep = ("id", "kind", "scores", "total", "passed", "superseded_at", "event_seq")
    assert [{k: c[k] for k in keep} for c in after] == [{k: c[k] for k in keep} for c in before]
    with app.engine.connect() as connection:
        texts = connection.execute(
            select(func.count())
            .select_from(AUDIT_TEXT)
            .where(
                AUDIT_TEXT.c.event_id.in_(
                    [e["id"] for e in events(app, "scorecard.submitted", "interview.decided")]
                )
            )
        ).scalar_one()
    assert texts == 0
    report = verify(app)
    assert report.ok, [str(d) for d in report.damage]

    export = privacy.access_data(app, key)
    assert [s["comment"] for s in export["interview_scores"]] == [None] * 4
    assert [s["total"] for s in export["interview_scores"]] == [8, 14, 14, 14]
    dumped = json.dumps(export, default=str)
    for said in ("nervous", "precise", "calmer", "second case", "well argued"):
        assert said not in dumped
