"""Validation of workflow files: every rule of docs/workflow-language.md names file, line, field.

Each test starts from ``VALID``, a small workflow that passes every rule, breaks
one thing in it, writes it under pytest's ``tmp_path`` and checks the problem
reported. Expected lines are computed from the broken text (the line holding a
marker), so the tests say *which* line, not a number that happens to be right.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.adapters.drive_file import read_hiring_drive
from ats.adapters.workflow_files import read_workflow_file, read_workflow_files
from ats.domain.workflow import Catalog, WorkflowDefinition
from ats.errors import Problem, WorkflowInvalid
from ats.service.setup import catalog as real_catalog
from ats.settings import load_settings

HOME = Path(__file__).parents[2]

CATALOG = Catalog(
    template_keys=frozenset({"screened", "hired", "rejected", "no_show", "reminder"}),
    job_functions=frozenset({"sample_function", "other_function"}),
)

VALID = """\
# A small selection path, valid in every respect; tests break one thing at a time.
name: sample
job_function: sample_function
description: >
  A short path for tests: screen, then hire or reject.

facts:
  score:                       # recorded by the recruiter
    type: integer
    min: 0
    max: 100
    label: {nl: Score, fr: Score, de: Punktzahl, en: Score}

states:
  applied:
    initial: true
    label:  {nl: Ontvangen, fr: Reçue, de: Eingegangen, en: Received}
    public: {nl: Uw sollicitatie is ontvangen, fr: Candidature reçue, de: Bewerbung eingegangen, en: Application received}
    timeout:
      after: 30 days
      trigger: lapse
      reminders:
        - before: 7 days
          notify: reminder
  screened:
    label:  {nl: Gescreend, fr: Présélectionné, de: Vorgeprüft, en: Screened}
    public: {nl: Voldoet, fr: Remplit les conditions, de: Erfüllt, en: Meets the requirements}
  hired:
    final: true
    label:  {nl: Aangeworven, fr: Engagé, de: Eingestellt, en: Hired}
    public: {nl: Welkom, fr: Bienvenue, de: Willkommen, en: Welcome}
  rejected:
    final: true
    label:  {nl: Afgewezen, fr: Refusé, de: Abgelehnt, en: Rejected}
    public: {nl: Niet weerhouden, fr: Pas retenue, de: Nicht berücksichtigt, en: Not successful}

transitions:
  - trigger: screen
    from: applied
    to: screened
    roles: [recruiter]
    guards:
      - expr: "facts.score >= 60"
        description: scored at least 60 of 100
    notify: screened
  - trigger: hire
    from: screened
    to: hired
    roles: [hiring_manager]
    notify: hired
  - trigger: reject
    from: [applied, screened]
    to: rejected
    roles: [recruiter]
    reason: required
    notify: rejected
  - trigger: lapse
    from: applied
    to: rejected
    roles: [system]
    notify: no_show
"""


# -- helpers ---------------------------------------------------------------------------------


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced (fails loudly otherwise)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the text"
    return text.replace(old, new)


def line_with(text: str, marker: str, *, occurrence: int = 1) -> int:
    """1-based number of the line holding ``marker`` (the n-th such line)."""
    numbers = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(numbers) >= occurrence, f"{marker!r} is on {len(numbers)} line(s)"
    return numbers[occurrence - 1]


def write(tmp_path: Path, text: str, name: str = "sample.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_in(path: Path, catalog: Catalog = CATALOG) -> list[Problem]:
    """The problems read_workflow_file reports for ``path`` (it must refuse the file)."""
    with pytest.raises(WorkflowInvalid) as caught:
        read_workflow_file(path, catalog)
    assert caught.value.problems, "WorkflowInvalid without problems"
    return caught.value.problems


def the_problem(problems: list[Problem], field: str) -> Problem:
    """The one problem whose field is ``field``, with a readable failure otherwise."""
    matching = [p for p in problems if p.field == field]
    listing = "\n".join(str(p) for p in problems)
    assert len(matching) == 1, f"expected one problem on field {field!r}, got:\n{listing}"
    return matching[0]


def broken(tmp_path: Path, old: str, new: str) -> tuple[str, list[Problem]]:
    """Break VALID by one replacement; return the broken text and its problems."""
    text = replace_once(VALID, old, new)
    return text, problems_in(write(tmp_path, text))


def assert_located(problem: Problem, text: str, marker: str, *, occurrence: int = 1) -> None:
    assert problem.file.endswith("sample.yaml"), problem.file
    assert problem.line == line_with(text, marker, occurrence=occurrence), str(problem)


# -- the valid base --------------------------------------------------------------------------


def test_the_valid_base_text_loads_without_problems(tmp_path: Path) -> None:
    """The base text of these tests obeys every rule, so each broken copy breaks just one."""
    definition = read_workflow_file(write(tmp_path, VALID), CATALOG)

    assert definition.name == "sample"
    assert definition.job_function == "sample_function"
    assert definition.initial_state == "applied"
    assert list(definition.states) == ["applied", "screened", "hired", "rejected"]
    assert definition.triggers == ("screen", "hire", "reject", "lapse")
    assert definition.facts["score"].minimum == 0
    assert definition.facts["score"].maximum == 100
    timeout = definition.states["applied"].timeout
    assert timeout is not None
    assert timeout.trigger == "lapse"
    assert str(timeout.after) == "30 days"
    assert [r.notify for r in timeout.reminders] == ["reminder"]
    assert definition.template_keys == {"screened", "hired", "rejected", "no_show", "reminder"}


# -- YAML itself -----------------------------------------------------------------------------


def test_invalid_yaml_is_refused_with_the_line_of_the_syntax_error(tmp_path: Path) -> None:
    """A file that is not YAML gives one problem at the line where the parser stopped."""
    text, problems = broken(
        tmp_path,
        "description: >\n  A short path for tests: screen, then hire or reject.\n",
        "description: A short path: screen, then hire\n",
    )

    assert len(problems) == 1
    assert_located(problems[0], text, "description: A short path")
    assert "not valid YAML" in problems[0].message


def test_a_duplicate_yaml_key_is_refused_at_the_second_occurrence(tmp_path: Path) -> None:
    """Two keys with the same name in one mapping are an error, not a silent override."""
    text, problems = broken(
        tmp_path,
        "    to: hired\n",
        "    to: hired\n    to: rejected             # the duplicate\n",
    )

    assert len(problems) == 1
    assert_located(problems[0], text, "# the duplicate")
    assert "duplicate key" in problems[0].message
    assert '"to"' in problems[0].message


def test_an_unknown_top_level_key_is_refused_as_a_typo(tmp_path: Path) -> None:
    """A misspelt key is reported where it stands, with the keys allowed there."""
    text, problems = broken(tmp_path, "description: >", "descripton: >")

    problem = the_problem(problems, "descripton")
    assert_located(problem, text, "descripton:")
    assert "unknown key" in problem.message
    assert "description" in problem.message


# -- states and the graph --------------------------------------------------------------------


def test_a_workflow_without_an_initial_state_is_refused(tmp_path: Path) -> None:
    """With no initial state, the problem points at the states table."""
    text, problems = broken(tmp_path, "    initial: true\n", "")

    problem = the_problem(problems, "states")
    assert_located(problem, text, "states:")
    assert "exactly one state must be initial" in problem.message
    assert "none" in problem.message


def test_a_workflow_with_two_initial_states_is_refused_at_the_second(tmp_path: Path) -> None:
    """A second initial state is reported at that state, naming both."""
    text, problems = broken(
        tmp_path,
        "  screened:\n",
        "  screened:\n    initial: true\n",
    )

    problem = the_problem(problems, "states")
    assert_located(problem, text, "  screened:")
    assert "exactly one state must be initial" in problem.message
    assert "applied, screened" in problem.message


def test_a_state_that_cannot_be_reached_from_the_initial_state_is_refused(
    tmp_path: Path,
) -> None:
    """A state no transition leads to is reported at its own line."""
    text, problems = broken(
        tmp_path,
        "\ntransitions:\n",
        "  archived:\n"
        "    final: true\n"
        "    label:  {nl: Archief, fr: Archives, de: Archiv, en: Archived}\n"
        "    public: {nl: Archief, fr: Archives, de: Archiv, en: Archived}\n"
        "\ntransitions:\n",
    )

    assert len(problems) == 1
    problem = the_problem(problems, "states.archived")
    assert_located(problem, text, "  archived:")
    assert "cannot be reached" in problem.message
    assert "'applied'" in problem.message


def test_a_final_state_with_an_exit_is_refused_at_the_transition(tmp_path: Path) -> None:
    """A transition leaving a final state is reported at that transition."""
    text, problems = broken(
        tmp_path,
        "  - trigger: hire\n    from: screened\n",
        "  - trigger: hire\n    from: [screened, hired]\n",
    )

    problem = the_problem(problems, "transitions (hire).from")
    assert_located(problem, text, "from: [screened, hired]")
    assert "'hired' is final" in problem.message


def test_a_state_that_is_not_final_needs_an_exit(tmp_path: Path) -> None:
    """A non-final state no transition leaves is reported at the state."""
    text, problems = broken(
        tmp_path,
        "  rejected:\n    final: true\n",
        "  rejected:\n",
    )

    problem = the_problem(problems, "states.rejected")
    assert_located(problem, text, "  rejected:")
    assert "not final but no transition leaves it" in problem.message


# -- transitions -----------------------------------------------------------------------------


def test_a_transition_to_an_unknown_state_is_refused(tmp_path: Path) -> None:
    """A misspelt destination is reported at its ``to`` key, listing the states."""
    text, problems = broken(tmp_path, "    to: hired\n", "    to: hird\n")

    problem = the_problem(problems, "transitions (hire).to")
    assert_located(problem, text, "to: hird")
    assert "unknown state 'hird'" in problem.message
    assert "applied, screened, hired, rejected" in problem.message


def test_a_transition_from_an_unknown_state_is_refused(tmp_path: Path) -> None:
    """A misspelt source is reported at its ``from`` key, listing the states."""
    text, problems = broken(
        tmp_path,
        "  - trigger: hire\n    from: screened\n",
        "  - trigger: hire\n    from: screend\n",
    )

    problem = the_problem(problems, "transitions (hire).from")
    assert_located(problem, text, "from: screend")
    assert "unknown state 'screend'" in problem.message


def test_an_unknown_role_is_refused_at_the_roles_key(tmp_path: Path) -> None:
    """Only the product's firing roles may fire a trigger; a typo is named with the known ones."""
    text, problems = broken(tmp_path, "roles: [hiring_manager]", "roles: [hiring_manger]")

    problem = the_problem(problems, "transitions[1] (hire).roles")
    assert_located(problem, text, "roles: [hiring_manger]")
    assert "unknown role 'hiring_manger'" in problem.message
    assert "hiring_manager" in problem.message


def test_an_unknown_template_key_in_notify_is_refused(tmp_path: Path) -> None:
    """``notify`` must name a notifications/ folder with a file per language."""
    text, problems = broken(tmp_path, "    notify: hired\n", "    notify: hird\n")

    problem = the_problem(problems, "transitions[1] (hire).notify")
    assert_located(problem, text, "notify: hird")
    assert "unknown template key 'hird'" in problem.message


def test_an_unknown_template_key_in_a_reminder_is_refused(tmp_path: Path) -> None:
    """A reminder's template key is checked like a transition's."""
    text, problems = broken(tmp_path, "notify: reminder", "notify: remindr")

    problem = the_problem(problems, "states.applied.timeout.reminders[0].notify")
    assert_located(problem, text, "notify: remindr")
    assert "unknown template key 'remindr'" in problem.message


def test_a_trigger_that_leaves_one_state_twice_is_refused_at_the_second(tmp_path: Path) -> None:
    """A trigger leaves a given state at most once, so firing it is never ambiguous."""
    text, problems = broken(
        tmp_path,
        "    notify: no_show\n",
        "    notify: no_show\n"
        "  - trigger: screen             # again from applied\n"
        "    from: applied\n"
        "    to: rejected\n"
        "    roles: [recruiter]\n",
    )

    problem = the_problem(problems, "transitions (screen).from")
    assert_located(problem, text, "from: applied", occurrence=VALID.count("from: applied") + 1)
    assert "already leaves 'applied'" in problem.message
    assert f"line {line_with(text, '- trigger: screen')}" in problem.message


# -- guards and facts ------------------------------------------------------------------------


def test_a_guard_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    """A guard with a syntax error is reported at its ``expr``."""
    text, problems = broken(tmp_path, '"facts.score >= 60"', '"facts.score >="')

    problem = the_problem(problems, "transitions[0] (screen).guards[0]")
    assert_located(problem, text, 'expr: "facts.score >="')
    assert "does not compile" in problem.message


def test_a_guard_naming_anything_but_facts_is_refused(tmp_path: Path) -> None:
    """Guards read facts only: ``os.system`` is refused, naming ``os``."""
    text, problems = broken(tmp_path, '"facts.score >= 60"', "\"os.system('ls')\"")

    problem = the_problem(problems, "transitions[0] (screen).guards[0]")
    assert_located(problem, text, "os.system")
    assert "names os" in problem.message
    assert "may only read facts" in problem.message


def test_a_guard_reading_an_undeclared_fact_is_refused(tmp_path: Path) -> None:
    """A guard on a fact the workflow does not declare names it and the declared ones."""
    text, problems = broken(tmp_path, '"facts.score >= 60"', '"facts.scor >= 60"')

    problem = the_problem(problems, "transitions[0] (screen).guards[0]")
    assert_located(problem, text, "facts.scor >= 60")
    assert "undeclared fact(s) scor" in problem.message
    assert "declared: score" in problem.message


def test_an_unknown_fact_type_is_refused(tmp_path: Path) -> None:
    """A fact's type is one of integer, boolean, choice, text, date."""
    text, problems = broken(tmp_path, "    type: integer\n", "    type: decimal\n")

    problem = the_problem(problems, "facts.score.type")
    assert_located(problem, text, "type: decimal")
    assert "integer, boolean, choice, text, date" in problem.message


# -- timeouts and reminders ------------------------------------------------------------------


def test_a_timeout_naming_a_missing_trigger_is_refused(tmp_path: Path) -> None:
    """A timeout's trigger must be a transition leaving that state; the trigger line is named."""
    text, problems = broken(tmp_path, "      trigger: lapse\n", "      trigger: lapsed\n")

    problem = the_problem(problems, "states.applied.timeout.trigger")
    assert_located(problem, text, "trigger: lapsed")
    assert "no transition 'lapsed' leaves 'applied'" in problem.message


def test_a_timeout_trigger_not_open_to_role_system_is_refused(tmp_path: Path) -> None:
    """The worker fires timeouts as role system, so the trigger must allow it."""
    text, problems = broken(
        tmp_path,
        "    roles: [system]\n",
        "    roles: [recruiter]\n",
    )

    problem = the_problem(problems, "states.applied.timeout.trigger")
    assert_located(problem, text, "      trigger: lapse")
    assert "must allow role system" in problem.message


def test_a_reminder_not_before_its_timeout_is_refused(tmp_path: Path) -> None:
    """A reminder as long as its timeout would come at the moment it lapses."""
    text, problems = broken(tmp_path, "before: 7 days", "before: 30 days")

    problem = the_problem(problems, "states.applied.timeout.reminders[0].before")
    assert_located(problem, text, "before: 30 days")
    assert "must come before the timeout" in problem.message


def test_a_duration_in_weeks_is_refused(tmp_path: Path) -> None:
    """Durations are "N days" or "N working days"; "3 weeks" is named as wrong."""
    text, problems = broken(tmp_path, "after: 30 days", "after: 3 weeks")

    problem = the_problem(problems, "states.applied.timeout.after")
    assert_located(problem, text, "after: 3 weeks")
    assert "'3 weeks'" in problem.message
    assert "N working days" in problem.message


# -- labels, names, job functions ------------------------------------------------------------


def test_a_label_missing_a_language_is_refused(tmp_path: Path) -> None:
    """Every label exists in nl, fr, de and en; the missing one is named."""
    text, problems = broken(
        tmp_path,
        "label:  {nl: Gescreend, fr: Présélectionné, de: Vorgeprüft, en: Screened}",
        "label:  {nl: Gescreend, fr: Présélectionné, en: Screened}",
    )

    problem = the_problem(problems, "states.screened.label")
    assert_located(problem, text, "label:  {nl: Gescreend")
    assert "missing language(s): de" in problem.message


def test_an_unknown_job_function_is_refused(tmp_path: Path) -> None:
    """The job function must be one of the hiring drive's, which are listed."""
    text, problems = broken(
        tmp_path, "job_function: sample_function", "job_function: sample_fuction"
    )

    problem = the_problem(problems, "job_function")
    assert_located(problem, text, "job_function: sample_fuction")
    assert "unknown job function 'sample_fuction'" in problem.message
    assert "other_function, sample_function" in problem.message


def test_a_name_that_does_not_match_the_file_stem_is_refused_at_the_name_key(
    tmp_path: Path,
) -> None:
    """``name`` must equal the file's stem; the problem points at the ``name:`` line."""
    text, problems = broken(tmp_path, "name: sample\n", "name: example\n")

    problem = the_problem(problems, "name")
    assert "'example' must match the file name 'sample'" in problem.message
    assert_located(problem, text, "name: example")


# -- problems reported together --------------------------------------------------------------


def test_every_problem_in_one_file_is_reported_together(tmp_path: Path) -> None:
    """Two things broken in one file give two problems in one WorkflowInvalid."""
    text = replace_once(VALID, "roles: [hiring_manager]", "roles: [hiring_manger]")
    text = replace_once(text, "after: 30 days", "after: 3 weeks")

    problems = problems_in(write(tmp_path, text))

    assert {p.field for p in problems} == {
        "transitions[1] (hire).roles",
        "states.applied.timeout.after",
    }
    assert sorted(p.line for p in problems) == [
        line_with(text, "after: 3 weeks"),
        line_with(text, "roles: [hiring_manger]"),
    ]


def test_read_workflow_files_reports_the_problems_of_every_file(tmp_path: Path) -> None:
    """Validating several files lists the problems of each, not just the first file's."""
    first = write(
        tmp_path, replace_once(VALID, "roles: [hiring_manager]", "roles: [boss]"), "sample.yaml"
    )
    (tmp_path / "second").mkdir()
    second = write(
        tmp_path / "second", replace_once(VALID, "after: 30 days", "after: 3 weeks"), "sample.yaml"
    )
    valid_dir = tmp_path / "third"
    valid_dir.mkdir()
    valid = write(valid_dir, VALID, "sample.yaml")

    with pytest.raises(WorkflowInvalid) as caught:
        read_workflow_files([first, second, valid], CATALOG)

    by_file = {(p.file, p.field) for p in caught.value.problems}
    assert (str(first), "transitions[1] (hire).roles") in by_file
    assert (str(second), "states.applied.timeout.after") in by_file
    assert not any(p.file == str(valid) for p in caught.value.problems)


# -- the real workflows ----------------------------------------------------------------------


REAL_WORKFLOWS = sorted((HOME / "workflows").glob("*.yaml"))


def test_the_repository_has_workflow_files() -> None:
    """The parametrised check below is not vacuous."""
    assert len(REAL_WORKFLOWS) >= 1


@pytest.mark.parametrize("path", REAL_WORKFLOWS, ids=lambda p: p.stem)
def test_every_real_workflow_validates_with_the_real_catalogue(path: Path) -> None:
    """Each file under workflows/ passes every rule against the drive and the templates."""
    settings = load_settings(home=HOME, environ={})
    drive = read_hiring_drive(settings.hiring_drive_file)

    definition = read_workflow_file(path, real_catalog(settings, drive))

    assert definition.name == path.stem
    assert definition.job_function in {f.code for f in drive.job_functions}


def test_all_real_workflows_validate_together() -> None:
    """Read together, the real workflows have distinct names and no problems."""
    settings = load_settings(home=HOME, environ={})
    drive = read_hiring_drive(settings.hiring_drive_file)

    definitions = read_workflow_files(REAL_WORKFLOWS, real_catalog(settings, drive))

    assert sorted(d.name for d in definitions) == [p.stem for p in REAL_WORKFLOWS]


# -- the content hash ------------------------------------------------------------------------


def load(tmp_path: Path, text: str) -> WorkflowDefinition:
    return read_workflow_file(write(tmp_path, text), CATALOG)


def test_the_content_hash_of_one_file_is_stable(tmp_path: Path) -> None:
    """Reading the same file twice gives the same hash, a sha256 in hex."""
    first = load(tmp_path, VALID)
    second = load(tmp_path, VALID)

    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 64
    assert set(first.content_hash) <= set("0123456789abcdef")


def test_a_changed_comment_or_layout_keeps_the_content_hash(tmp_path: Path) -> None:
    """Comments and layout are not rules, so they do not make a new version."""
    original = load(tmp_path, VALID)
    recommented = replace_once(
        VALID, "# recorded by the recruiter", "# recorded by the recruiter at screening"
    )
    relaid = replace_once(
        recommented, "roles: [recruiter]\n    guards:", "roles:\n      - recruiter\n    guards:"
    )

    assert load(tmp_path, recommented).content_hash == original.content_hash
    assert load(tmp_path, relaid).content_hash == original.content_hash


def test_a_changed_label_changes_the_content_hash(tmp_path: Path) -> None:
    """A label is part of the definition: changing it makes a new version."""
    original = load(tmp_path, VALID)
    relabelled = replace_once(VALID, "en: Screened}", "en: Pre-selected}")

    assert load(tmp_path, relabelled).content_hash != original.content_hash
