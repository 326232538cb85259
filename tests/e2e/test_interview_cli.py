"""`ats interview` end to end: panel, blind scorecards and the chair's decision, in subprocesses.

The CLI runs on a home copy whose protection-officer workflow carries the issue's
interview block (tests/integration/test_interviews.py builds it); vacancy
CGVS-PROT-W1 runs that workflow. One story per database, every step a real `ats`
run: staff created with `ats user create`, the candidacy walked to the
interview with `ats fire`, the panel set, two members scoring blind, the
chair deciding. Bad input is tried along the way: each exits non-zero with a
clear message and leaves the counts as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ats.adapters.workflow_files import read_workflow_file
from ats.domain.workflow import Catalog
from tests.conftest import path_to, role_for, satisfying_facts
from tests.e2e.conftest import Ats
from tests.e2e.test_cli import cli_value, message_lines, table_rows
from tests.integration.test_interviews import interview_home
from tests.unit.test_interview import CRITERIA

VACANCY = "CGVS-PROT-W1"
CHAIR, MEMBER, OUTSIDER = "wim.vermeulen", "ines.maes", "lotte.janssens"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the same steps run on PostgreSQL in tests/integration/test_interviews.py
    (CI time is kept for what differs between the databases)."""
    return f"sqlite:///{tmp_path / 'ats.sqlite3'}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return interview_home(tmp_path_factory.mktemp("interview-home"))


@pytest.fixture
def cli(database_url: str, home: Path) -> Ats:
    """The CLI on the home copy, initialised, with two panel members and a recruiter."""
    ats = Ats(database_url, home)
    ats("init")
    for username, name, role in (
        (CHAIR, "Wim Vermeulen", "panel"),
        (MEMBER, "Ines Maes", "panel"),
        (OUTSIDER, "Lotte Janssens", "recruiter"),
    ):
        ats("user", "create", username, "--name", name, "--role", role, "--service", "CGVS")
    return ats


def interviewing(cli: Ats, home: Path) -> str:
    """Apply and fire the workflow's triggers up to the interview state; the candidacy id."""
    definition = read_workflow_file(home / "workflows" / "protection-officer.yaml", Catalog())
    assert definition.interview is not None
    candidacy = str(
        cli.json(
            *("apply", "--vacancy", VACANCY, "--name", "Jan Peeters"),
            *("--email", "jan.peeters@example.be", "--language", "nl"),
        )["id"]
    )
    known: dict[str, Any] = {}
    for spec in path_to(definition, "interview"):
        facts = satisfying_facts(definition, spec, known)
        assert facts is not None, spec.trigger
        known.update(facts)
        role = role_for(spec)
        arguments = ["fire", candidacy, spec.trigger, "--actor", f"{role}:e2e", "--role", role]
        for name, value in facts.items():
            arguments += ["--fact", f"{name}={cli_value(value)}"]
        cli(*arguments)
    return candidacy


def score_args(*values: int) -> list[str]:
    return [f"--score={name}={value}" for name, value in zip(CRITERIA, values, strict=True)]


def refused(cli: Ats, *args: str, code: int = 1) -> str:
    """Run a command that must fail with ``code``; what it told the person on stderr."""
    result = cli(*args, expect=code)
    said = message_lines(result)
    assert said.strip(), f"`ats {' '.join(args)}` failed without a word"
    return said


def test_a_panel_scores_blind_and_the_chair_decides_through_the_cli(cli: Ats, home: Path) -> None:
    candidacy = interviewing(cli, home)

    # -- the panel: set; a bad one refused and the panel kept; shown, chair first
    set_panel = cli(
        *("interview", "panel", VACANCY, "--member", MEMBER, "--member", CHAIR),
        *("--chair", CHAIR, "--actor", f"recruiter:{OUTSIDER}"),
    )
    assert table_rows(set_panel.stdout, "username") == [
        [CHAIR, "Wim Vermeulen", "chair"],
        [MEMBER, "Ines Maes"],
    ]
    said = refused(
        cli,
        *("interview", "panel", VACANCY, "--member", CHAIR, "--member", "nobody.known"),
        *("--chair", CHAIR, "--actor", f"recruiter:{OUTSIDER}"),
    )
    assert "no user 'nobody.known'" in said, said
    shown = cli.json("interview", "panel", VACANCY)
    assert [(m["username"], m["chair"]) for m in shown] == [(CHAIR, True), (MEMBER, False)]

    # -- bad scorecards: each refused with the reason, nothing filed
    score = ("interview", "score", candidacy)
    said = refused(cli, *score, "--as", OUTSIDER, *score_args(3, 3, 3, 3))
    assert f"{OUTSIDER} is not on the panel of vacancy {VACANCY}" in said, said
    said = refused(cli, *score, "--as", MEMBER, *score_args(3, 3, 3, 3), "--score=charisma=4")
    assert "unknown criterion 'charisma'" in said, said
    said = refused(cli, *score, "--as", MEMBER, "--score", "judgement4", code=2)
    assert "'judgement4': expected CRITERION=N" in said, said

    # -- the member scores; the chair, not yet scored, sees only the count
    filed = cli(*score, "--as", MEMBER, *score_args(3, 4, 3, 3), "--comment", "calm")
    assert f"filed for candidacy {candidacy} by {MEMBER}" in filed.stdout
    blind = cli.json("interview", "show", candidacy, "--as", CHAIR)
    assert (blind["blind"], blind["submitted"], blind["cards"]) == (True, 1, [])
    assert blind["decision"] is None
    blind_table = cli("interview", "show", candidacy, "--as", CHAIR).stdout
    assert "1 of 2 cards in" in blind_table
    assert "the others' scores show once your own card is in" in blind_table
    assert "calm" not in blind_table
    assert "member" not in blind_table.split(), "no score table before the chair's own card"

    # -- the chair scores; now both members see both cards
    cli(*score, "--as", CHAIR, *score_args(4, 4, 2, 3), "--comment", "precise")
    open_view = cli.json("interview", "show", candidacy, "--as", MEMBER)
    assert open_view["blind"] is False
    assert [(c["member"], c["total"], c["passed"]) for c in open_view["cards"]] == [
        (MEMBER, 13, True),
        (CHAIR, 13, True),
    ]
    open_table = cli("interview", "show", candidacy, "--as", CHAIR).stdout
    assert table_rows(open_table, "member") == [
        [MEMBER, "3", "4", "3", "3", "13", "yes"],
        [CHAIR, "4", "4", "2", "3", "13", "yes"],
    ]

    # -- only the chair decides; the decision moves the candidacy on
    decide = ("interview", "decide", candidacy)
    said = refused(cli, *decide, "--as", MEMBER, *score_args(4, 4, 3, 3), "--motivation", "ok")
    assert f"only the panel's chair decides; {MEMBER} is a member" in said, said
    decided = cli.json(  # from 'interview': the refused decision moved nothing
        *decide, "--as", CHAIR, *score_args(4, 4, 3, 3), "--motivation", "Calm and precise."
    )
    assert decided == {
        "candidacy": int(candidacy),
        "trigger": "pass_interview",
        "from": "interview",
        "to": "selected",
    }
    detail = cli.json("candidacy", "show", candidacy)
    assert (detail["state"], detail["facts"]["interview_score"]) == ("selected", 14)
    after = cli("interview", "show", candidacy, "--as", OUTSIDER).stdout  # outside the panel
    assert "2 of 2 cards in" in after
    assert "the others' scores show" not in after
    assert table_rows(after, "member") == [
        [MEMBER, "3", "4", "3", "3", "13", "yes"],
        [CHAIR, "4", "4", "2", "3", "13", "yes"],
        ["consensus", "4", "4", "3", "3", "14", "yes"],
    ]
