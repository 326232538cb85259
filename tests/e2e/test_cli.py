"""The `ats` command end to end: a real subprocess, a real database, exit codes and output.

Each test runs on SQLite and, when ATS_TEST_DATABASE_URL is set, on PostgreSQL
(the ``database_url`` fixture). Workflow definitions are read in-process only to
know what to expect; every change goes through the command line.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ats.adapters.workflow_files import read_workflow_file
from ats.domain.workflow import Catalog, WorkflowDefinition
from tests.conftest import REPO, path_to, role_for, satisfying_facts
from tests.e2e.conftest import Ats, Result

BRUSSELS = ZoneInfo("Europe/Brussels")
WORKFLOW_FILES = sorted(f"workflows/{p.name}" for p in (REPO / "workflows").glob("*.yaml"))

# One vacancy per job function (the lawyer's is RVV's; DVZ-LAW-W3 runs the same workflow).
WALKED_ON_POSTGRESQL = ("DVZ-SEC-W1", "RVV-LAW-W3")
ONE_VACANCY_PER_FUNCTION = [
    "DVZ-SEC-W1",
    "CGVS-PROT-W1",
    "DVZ-MIG-DUB-W1",
    "DVZ-RET-W1",
    "FEDASIL-SOC-W2",
    "FEDASIL-PSY-W2",
    "RVV-LAW-W3",
]


@cache
def definition_of(stem: str, home: Path = REPO) -> WorkflowDefinition:
    return read_workflow_file(home / "workflows" / f"{stem}.yaml", Catalog())


def apply_args(
    email: str = "an.peeters@example.org", vacancy: str = "DVZ-SEC-W1", language: str = "nl"
) -> list[str]:
    """`ats apply` arguments for An Peeters."""
    return [
        *("apply", "--vacancy", vacancy, "--name", "An Peeters"),
        *("--email", email, "--language", language),
    ]


def apply(cli: Ats, email: str = "an.peeters@example.org", vacancy: str = "DVZ-SEC-W1") -> str:
    """Open a candidacy through the CLI; its id, as the CLI takes it."""
    return str(cli.json(*apply_args(email, vacancy))["id"])


def as_role(role: str) -> list[str]:
    """``--actor ROLE:e2e --role ROLE``."""
    return ["--actor", f"{role}:e2e", "--role", role]


def message_lines(result: Result) -> str:
    """What the CLI told the person on stderr, without the JSON log lines."""
    return "\n".join(
        line for line in result.stderr.splitlines() if not line.lstrip().startswith("{")
    )


def table_rows(output: str, first_column: str) -> list[list[str]]:
    """The rows of the table whose header starts with ``first_column``, split into cells.

    Cells are padded and joined by at least two spaces; no value has two spaces in a row.
    """
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    assert set(lines[start + 1].replace(" ", "")) == {"-"}, "a rule under the header"
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(re.split(r" {2,}", line.rstrip()))
    return rows


def brussels_instant(text: str) -> datetime:
    """Parse '2021-06-28 09:00:00 CEST' as a Europe/Brussels wall-clock time; UTC out."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (CET|CEST)", text)
    assert match, f"{text!r} is not a local time with a CET/CEST suffix"
    wall = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
    for fold in (0, 1):
        local = wall.replace(tzinfo=BRUSSELS, fold=fold)
        if local.tzname() == match[2]:
            return local.astimezone(UTC)
    raise AssertionError(f"{text!r}: {match[2]} is not the Brussels offset on that date")


def cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- init ----------------------------------------------------------------------------------


def test_init_twice_succeeds_and_the_second_run_stores_no_new_workflow_version(
    bare_cli: Ats,
) -> None:
    """`ats init` is idempotent: the second run migrates nothing, loads nothing new."""
    stems = sorted(Path(f).stem for f in WORKFLOW_FILES)

    first = bare_cli("init", "--json")
    report = first.json()
    assert report["schema"]["before"] is None
    assert report["schema"]["after"]
    assert sorted(w["name"] for w in report["workflows"]) == stems
    assert all(w["new"] and w["version"] == 1 for w in report["workflows"])
    assert all(n > 0 for n in report["catalogue_changes"].values())
    stored = {e["workflow"] for e in first.log_events() if e.get("event") == "workflow.stored"}
    assert stored == set(stems), "ATS_LOG_FORMAT=json: one JSON log line per stored workflow"

    second = bare_cli("init", "--json")
    again = second.json()
    assert again["schema"] == {
        "before": report["schema"]["after"],
        "after": report["schema"]["after"],
    }
    assert not any(w["new"] for w in again["workflows"])
    assert {(w["name"], w["version"], w["hash"]) for w in again["workflows"]} == {
        (w["name"], w["version"], w["hash"]) for w in report["workflows"]
    }
    assert set(again["catalogue_changes"].values()) == {0}
    assert not [e for e in second.log_events() if e.get("event") == "workflow.stored"]
    assert [w["version"] for w in bare_cli.json("workflow", "list")] == [1] * len(stems)


# -- workflow validate / diagram -----------------------------------------------------------


def test_workflow_validate_accepts_the_seven_workflow_files(bare_cli: Ats) -> None:
    """`ats workflow validate workflows/*.yaml` exits 0 and lists every file."""
    assert len(WORKFLOW_FILES) == 7
    result = bare_cli("workflow", "validate", *WORKFLOW_FILES)
    *rows, summary = table_rows(result.stdout, "file")
    assert [row[0] for row in rows] == WORKFLOW_FILES
    assert summary == ["7 workflow files valid"]

    data = bare_cli.json("workflow", "validate", *WORKFLOW_FILES)
    assert data["valid"] is True
    assert [w["file"] for w in data["workflows"]] == WORKFLOW_FILES


def test_workflow_validate_refuses_a_broken_file_naming_path_line_and_field(
    bare_cli: Ats, tmp_path: Path
) -> None:
    """A transition to an unknown state: exit 1, and stderr names file:line and the field."""
    lines = (REPO / "workflows" / "security-escort.yaml").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == "to: screened")
    lines[index] = lines[index].replace("screened", "nowhere")
    broken = tmp_path / "security-escort.yaml"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = bare_cli("workflow", "validate", str(broken), expect=1)
    assert result.stdout == ""
    pattern = (
        rf"{re.escape(str(broken))}:{index + 1}: transitions\b\S*.*\.to: unknown state 'nowhere'"
    )
    assert re.search(pattern, result.stderr), result.stderr

    refused = bare_cli("workflow", "validate", str(broken), "--json", expect=1).json()
    assert refused["error"] == "WorkflowInvalid"
    problem = next(p for p in refused["problems"] if "nowhere" in p["message"])
    assert problem["file"] == str(broken)
    assert problem["line"] == index + 1
    assert problem["field"].endswith(".to")


def test_workflow_diagram_renders_every_state_and_transition_as_mermaid_and_dot(
    bare_cli: Ats,
) -> None:
    """Mermaid starts with stateDiagram-v2, dot with digraph; both show every state and edge."""
    definition = definition_of("security-escort")
    mermaid = bare_cli("workflow", "diagram", "security-escort", "--format", "mermaid").stdout
    dot = bare_cli("workflow", "diagram", "security-escort", "--format", "dot").stdout
    assert mermaid.startswith("stateDiagram-v2")
    assert dot.startswith("digraph")
    for state in definition.states:
        assert re.search(rf"\b{state}\b", mermaid), f"mermaid lacks {state}"
        assert f'"{state}"' in dot, f"dot lacks {state}"
    for spec in definition.transitions:
        for source in spec.sources:
            assert f"{source} --> {spec.dest}: {spec.trigger} " in mermaid
            assert f'"{source}" -> "{spec.dest}" [label="{spec.trigger} ' in dot


# -- the full walk -------------------------------------------------------------------------


@pytest.mark.parametrize("vacancy", ONE_VACANCY_PER_FUNCTION)
def test_the_cli_walks_a_candidacy_from_applied_to_hired(
    database_url: str, vacancy: str, request: pytest.FixtureRequest
) -> None:
    """apply, then fire every step to hired; history shows actor, role, local time, reason."""
    if database_url.startswith("postgresql") and vacancy not in WALKED_ON_POSTGRESQL:
        # Every workflow walks in-process on both databases (tests/integration); here the
        # subprocess costs ~1 s a call, so PostgreSQL walks the two most different paths.
        pytest.skip("walked through the CLI on SQLite; PostgreSQL walks two of the seven")
    cli: Ats = request.getfixturevalue("cli")
    info = cli.json("vacancy", "show", vacancy)
    definition = definition_of(info["workflow"])
    assert definition.job_function == info["job_function"]

    started = datetime.now(UTC).replace(microsecond=0)
    opened = cli.json(*apply_args(f"an.peeters.{vacancy.lower()}@example.org", vacancy))
    assert opened["state"] == definition.initial_state
    assert opened["version"] == 1
    assert opened["workflow"] == f"{info['workflow']} v1"
    candidacy = str(opened["id"])

    interview = definition.interview
    assert interview is not None
    chair, member = "wim.vermeulen", "ines.maes"
    for username in (chair, member):
        cli("user", "create", username, "--name", username.title(), "--role", "panel")
    cli(
        *("interview", "panel", vacancy, "--member", chair, "--member", member),
        *("--chair", chair, "--actor", "recruiter:e2e.tester"),
    )
    top = [arg for c in interview.criteria for arg in ("--score", f"{c.name}={c.maximum}")]

    state = definition.initial_state
    known: dict[str, Any] = {}
    steps: list[tuple[str, str, str, str, str, str]] = []
    for number, spec in enumerate(path_to(definition, "hired"), start=1):
        if spec.trigger == interview.passed:  # the panel scores; the chair's decision fires it
            for username in (member, chair):
                cli("interview", "score", candidacy, "--as", username, *top)
            reason = f"step {number}: the panel's consensus"
            decided = cli.json(
                *("interview", "decide", candidacy, "--as", chair, *top, "--motivation", reason)
            )
            assert decided["trigger"] == spec.trigger
            known[str(interview.total_fact)] = sum(c.maximum for c in interview.criteria)
            steps.append((f"user:{chair}", "panel", spec.trigger, state, spec.dest, reason))
            state = spec.dest
            continue
        facts = satisfying_facts(definition, spec, known)
        assert facts is not None, f"{spec.trigger}: no facts satisfy its guards"
        if "track" in facts and info["track"]:
            facts["track"] = info["track"]  # the recruiter records the vacancy's track
        known.update(facts)
        role = role_for(spec)
        actor = f"{role}:e2e.{'second' if spec.approves else 'tester'}"  # four eyes
        reason = f"step {number}: {spec.trigger} checked by the e2e suite"
        arguments = [
            "fire",
            candidacy,
            spec.trigger,
            "--actor",
            actor,
            "--role",
            role,
            "--reason",
            reason,
            "--expect-version",
            str(number),
        ]
        for name, value in facts.items():
            arguments += ["--fact", f"{name}={cli_value(value)}"]
        fired = cli.json(*arguments)
        assert fired == {
            "candidacy": int(candidacy),
            "trigger": spec.trigger,
            "from": state,
            "to": spec.dest,
        }
        steps.append((actor, role, spec.trigger, state, spec.dest, reason))
        state = spec.dest
    finished = datetime.now(UTC)

    detail = cli.json("candidacy", "show", candidacy)
    assert detail["state"] == "hired"
    assert detail["final"] is True
    assert detail["version"] == len(steps) + 1
    assert detail["facts"] == known

    rows = table_rows(cli("history", candidacy).stdout, "seq")
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(steps) + 2)]
    assert rows[0][4:7] == ["apply", "-", definition.initial_state]
    instants = []
    for row, (actor, role, trigger, source, dest, reason) in zip(rows[1:], steps, strict=True):
        assert row[2:8] == [actor, role, trigger, source, dest, reason], row
        instants.append(brussels_instant(row[1]))
    assert instants == sorted(instants)
    assert started <= instants[0]
    assert instants[-1] <= finished


# -- refusals ------------------------------------------------------------------------------


def test_refused_fires_exit_1_say_why_and_change_nothing(cli: Ats) -> None:
    """Wrong role, missing reason, unknown trigger, bad facts, stale version: exit 1, no change."""
    candidacy = apply(cli)
    before = cli.json("candidacy", "show", candidacy)
    history_before = cli.json("history", candidacy)
    fire = ("fire", candidacy)

    wrong_role = cli(
        *fire, "screen", *as_role("panel"), "--fact", "diploma_level=secondary", expect=1
    )
    said = message_lines(wrong_role)
    assert "role 'panel' may not fire 'screen'" in said
    assert "roles that may: recruiter" in said
    assert wrong_role.stdout == ""

    no_reason = cli(*fire, "reject", *as_role("recruiter"), expect=1)
    assert "'reject' needs a reason" in message_lines(no_reason)

    unknown = cli(*fire, "promote", *as_role("recruiter"), expect=1)
    said = message_lines(unknown)
    assert "'promote'" in said
    listed = set(re.findall(r"[a-z_]+", said.split("'promote'", 1)[1]))
    assert set(definition_of("security-escort").triggers) <= listed, said

    for fact, complaint in [
        ("selor_score=abc", "expected a whole number"),
        ("selor_score=101", "above the maximum 100"),
        ("diploma_level=phd", "'phd' is not one of"),
    ]:
        bad = cli(*fire, "screen", *as_role("recruiter"), "--fact", fact, expect=1)
        said = message_lines(bad)
        assert f"fact {fact.split('=')[0]}" in said, said
        assert complaint in said, said

    stale = cli(*fire, "withdraw", *as_role("recruiter"), "--expect-version", "7", expect=1)
    assert "version 1, not 7" in message_lines(stale)

    after = cli.json("candidacy", "show", candidacy)
    assert (after["state"], after["version"], after["facts"], after["since"]) == (
        before["state"],
        before["version"],
        before["facts"],
        before["since"],
    )
    assert cli.json("history", candidacy) == history_before


def test_apply_refuses_an_invalid_email_and_a_second_application(cli: Ats) -> None:
    """A malformed email is named; one candidacy per candidate and vacancy; exit 1 both."""
    bad = cli(*apply_args("an.peeters.example.org"), expect=1)
    said = message_lines(bad)
    assert "email 'an.peeters.example.org'" in said
    assert cli.json("candidacy", "list") == []

    apply(cli, "An.Peeters@Example.org")
    duplicate = cli(*apply_args("An.Peeters@example.org", language="fr"), expect=1)
    assert "already applied" in message_lines(duplicate)
    assert len(cli.json("candidacy", "list")) == 1


def test_json_refusals_print_an_error_object_on_stdout(cli: Ats) -> None:
    """With --json a refused action still exits 1 and prints {"error", "message", ...}."""
    invalid = cli(*apply_args("not-an-email"), "--json", expect=1)
    data = invalid.json()
    assert data["error"] == "InvalidInput"
    assert "not-an-email" in data["message"]

    candidacy = apply(cli)
    duplicate = cli(*apply_args(), "--json", expect=1)
    assert duplicate.json()["error"] == "DuplicateApplication"
    assert "already applied" in duplicate.json()["message"]

    refused = cli("fire", candidacy, "screen", *as_role("panel"), "--json", expect=1).json()
    assert refused["error"] == "TransitionRefused"
    assert "screen" in refused["message"]
    assert any("roles that may: recruiter" in r for r in refused["reasons"])


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["fire"], id="fire-without-arguments"),
        pytest.param(apply_args(language="xx"), id="apply-unknown-language"),
        pytest.param(["fire", "1", "screen", "--actor", "a", "--role", "wizard"], id="bad-role"),
        pytest.param(["candidacy", "show", "one"], id="candidacy-id-not-a-number"),
        pytest.param(
            ["workflow", "migrate", "security-escort", "--from", "1", "--map", "screened"],
            id="map-without-equals",
        ),
        pytest.param(["no-such-command"], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2_without_touching_the_database(
    bare_cli: Ats, arguments: list[str]
) -> None:
    """Bad arguments are click usage errors: exit 2, a usage hint, no database opened."""
    result = bare_cli(*arguments, expect=2)
    assert "Usage: ats" in result.stderr
    assert "Error:" in result.stderr
    if bare_cli.database_url.startswith("sqlite:///"):
        assert not Path(bare_cli.database_url.removeprefix("sqlite:///")).exists()


# -- candidacy show --role -----------------------------------------------------------------


def test_candidacy_show_for_a_role_lists_its_triggers_and_why_not(cli: Ats) -> None:
    """--role lists that role's triggers, whether each can fire now and, if not, why."""
    candidacy = apply(cli)
    leaving = {
        t.trigger for t in definition_of("security-escort").transitions if "applied" in t.sources
    }

    rows = table_rows(cli("candidacy", "show", candidacy, "--role", "recruiter").stdout, "role")
    by_trigger = {row[1]: row for row in rows}
    assert {row[0] for row in rows} == {"recruiter"}
    assert set(by_trigger) == leaving
    screen = by_trigger["screen"]
    assert screen[2:4] == ["screened", "no"]
    assert "needs diploma_level, not recorded yet" in screen[4]
    assert by_trigger["reject"][2:] == ["rejected", "yes"]
    assert by_trigger["withdraw"][2:] == ["withdrawn", "yes"]

    rows = table_rows(cli("candidacy", "show", candidacy, "--role", "panel").stdout, "role")
    screen = next(row for row in rows if row[1] == "screen")
    assert screen[3] == "no"
    assert "role 'panel' may not fire 'screen'; roles that may: recruiter" in screen[4]


# -- demo ----------------------------------------------------------------------------------


def test_demo_applies_the_requested_number_and_vacancy_list_agrees(cli: Ats) -> None:
    """`ats demo --applicants 40` opens 40 candidacies; vacancy list counts them the same."""
    demo = cli.json("demo", "--applicants", "40", "--seed", "7")
    assert demo["summary"]["applications"] == 40
    assert sum(c["count"] for c in demo["counts"]) == 40
    per_vacancy: Counter[str] = Counter()
    hired: Counter[str] = Counter()
    for count in demo["counts"]:
        per_vacancy[count["vacancy"]] += count["count"]
        if count["state"] == "hired":
            hired[count["vacancy"]] += count["count"]

    vacancies = cli.json("vacancy", "list")
    assert sum(v["candidacies"] for v in vacancies) == 40
    for row in vacancies:
        assert row["candidacies"] == per_vacancy[row["code"]], row["code"]
        assert row["hired"] == hired[row["code"]], row["code"]


# -- workflow migrate ----------------------------------------------------------------------


def test_workflow_migrate_needs_a_map_for_a_removed_state_and_dry_run_changes_nothing(
    bare_cli: Ats, tmp_path: Path
) -> None:
    """v2 renames `screened`: migrate refuses without --map, dry-runs with it, then moves."""
    home = tmp_path / "home"
    for folder in ("config", "notifications", "workflows"):
        shutil.copytree(REPO / folder, home / folder)
    cli = bare_cli.with_home(home)
    cli("init")
    waiting = apply(cli, "els.claes@example.org")
    screened = apply(cli)
    cli("fire", screened, "screen", *as_role("recruiter"), "--fact", "diploma_level=secondary")

    path = home / "workflows" / "security-escort.yaml"
    original = path.read_text(encoding="utf-8")
    # Rename the state everywhere; `notify: screened` is a template key and stays.
    edited = re.sub(r"(?<!notify: )\bscreened\b", "screening_done", original)
    assert "screening_done" in edited
    path.write_text(edited, encoding="utf-8")
    cli("workflow", "validate", "workflows/security-escort.yaml")
    assert "screening_done" in definition_of("security-escort", home).states

    loaded = {w["name"]: w for w in cli.json("init")["workflows"]}
    assert (loaded["security-escort"]["version"], loaded["security-escort"]["new"]) == (2, True)
    assert not any(w["new"] for name, w in loaded.items() if name != "security-escort")

    migrate = ("workflow", "migrate", "security-escort", "--from", "1")
    refused = cli(*migrate, "--dry-run", expect=1)
    said = message_lines(refused)
    assert "v2 has no state for: screened" in said
    assert "--map" in said

    plan = cli.json(*migrate, "--map", "screened=screening_done", "--dry-run")
    assert (plan["from"], plan["to"], plan["applied"]) == (1, 2, False)
    assert {(m["from"], m["to"], m["candidacies"]) for m in plan["moves"]} == {
        ("applied", "applied", 1),
        ("screened", "screening_done", 1),
    }
    still = cli.json("candidacy", "show", screened)
    assert (still["workflow"], still["state"], still["version"]) == (
        "security-escort v1",
        "screened",
        2,
    )
    assert len(cli.json("history", screened)) == 2

    moved = cli(*migrate, "--map", "screened=screening_done")
    assert "2 candidacies moved: security-escort v1 -> v2" in moved.stdout
    now = cli.json("candidacy", "show", screened)
    assert (now["workflow"], now["state"], now["version"]) == (
        "security-escort v2",
        "screening_done",
        3,
    )
    assert cli.json("candidacy", "show", waiting)["workflow"] == "security-escort v2"
    last = table_rows(cli("history", screened).stdout, "seq")[-1]
    assert last[0] == "3"
    assert last[2:7] == ["system:migration", "system", "migrate", "screened", "screening_done"]
    brussels_instant(last[1])

    # The candidacy now runs on v2's machine: it leaves the renamed state as v2 says.
    fired = cli.json(
        "fire",
        screened,
        "invite_to_selor",
        *as_role("recruiter"),
        "--fact",
        "selor_session_at=2031-07-24T09:00",
        "--fact",
        "selor_session_place=Selor",
    )
    assert (fired["from"], fired["to"]) == ("screening_done", "selor_test")
    counts = {
        w["version"]: w["candidacies"]
        for w in cli.json("workflow", "list")
        if w["name"] == "security-escort"
    }
    assert counts == {1: 0, 2: 2}


def test_brussels_instant_reads_winter_and_summer_time() -> None:
    """The helper the history checks rely on: CET is UTC+1, CEST is UTC+2."""
    assert brussels_instant("2021-01-15 10:00:00 CET") == datetime(2021, 1, 15, 9, tzinfo=UTC)
    assert brussels_instant("2021-06-28 09:00:00 CEST") == datetime(2021, 6, 28, 7, tzinfo=UTC)
    assert brussels_instant("2021-10-31 02:30:00 CET") - brussels_instant(
        "2021-10-31 02:30:00 CEST"
    ) == timedelta(hours=1)
    with pytest.raises(AssertionError):
        brussels_instant("2021-06-28 09:00:00 CET")
