"""The interview block of a workflow: criteria, scales, anchors, the pass rule, and the verdict.

The parser tests start from ``VALID``: the real protection-officer workflow with
the issue's interview block appended (four criteria on 0..5, every criterion at
least 2 and a total of at least 12 of 20, the total recorded in
``interview_score``). Each test breaks one thing, or several at once, and checks
that every problem is reported with its key path and, where the parser gives
one, the line it is on: the expected line is found from a marker in the broken
text, as in test_workflow_validation.py.

The verdict tests build ``InterviewSpec`` values directly; the property tests
check ``verdict`` against the pass rule computed independently.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.adapters.workflow_files import read_workflow_file
from ats.adapters.yaml_files import load_yaml
from ats.domain.interview import (
    Criterion,
    InterviewSpec,
    PassRule,
    Verdict,
    checked_scores,
    verdict,
)
from ats.domain.workflow import Catalog, WorkflowDefinition, parse_workflow
from ats.errors import InvalidInput, Problem, WorkflowInvalid

HOME = Path(__file__).parents[2]
WORKFLOW = HOME / "workflows" / "protection-officer.yaml"
BASE = WORKFLOW.read_text(encoding="utf-8")
CATALOG = Catalog()  # roles and languages checked; templates and job functions are not

LANGUAGES = ("nl", "fr", "de", "en")
CRITERIA = ("interviewing_technique", "judgement", "written_dutch_french", "stress_resistance")

# The issue's example. Markers in comments let tests find (and break) one line.
CRITERIA_TEXT = """\
  criteria:
    interviewing_technique:
      label: {nl: Interviewtechniek, fr: "Technique d'entretien", de: Gesprächstechnik, en: Interviewing technique}
      scale: {min: 0, max: 5}   # <scale-technique>
      anchors:                  # <anchors-technique>
        0: {nl: Stelt geen open vragen, fr: Ne pose pas de questions ouvertes, de: Stellt keine offenen Fragen, en: Asks no open questions}
        3: {nl: Vraagt door waar nodig, fr: Approfondit si nécessaire, de: Fragt nach wo nötig, en: Probes where needed}
        5: {nl: Leidt het gesprek voorbeeldig, fr: Mène l'entretien de façon exemplaire, de: Führt das Gespräch vorbildlich, en: Leads the interview exemplarily}
    judgement:                  # <judgement>
      label: {nl: Oordeelsvorming, fr: Jugement, de: Urteilsvermögen, en: Judgement}   # <label-judgement>
      scale: {min: 0, max: 5}   # <scale-judgement>
      anchors:                  # <anchors-judgement>
        0: {nl: Geen onderbouwd oordeel, fr: Aucun jugement étayé, de: Kein begründetes Urteil, en: No reasoned judgement}   # <anchor-judgement-0>
        5: {nl: Weegt alle elementen af, fr: Pèse tous les éléments, de: Wägt alle Elemente ab, en: Weighs every element}   # <anchor-judgement-5>
    written_dutch_french:
      label: {nl: Schriftelijk Nederlands/Frans, fr: Néerlandais/français écrit, de: Schriftliches Niederländisch/Französisch, en: Written Dutch/French}
      scale: {min: 0, max: 5}   # <scale-written>
      anchors:
        0: {nl: Onleesbaar, fr: Illisible, de: Unleserlich, en: Illegible}
        5: {nl: Foutloos en helder, fr: Sans faute et clair, de: Fehlerfrei und klar, en: Faultless and clear}
    stress_resistance:          # <stress>
      label: {nl: Stressbestendigheid, fr: Résistance au stress, de: Stressresistenz, en: Stress resistance}
      scale: {min: 0, max: 5}   # <scale-stress>
      anchors:
        0: {nl: Blokkeert, fr: Se bloque, de: Blockiert, en: Freezes}
        5: {nl: Blijft kalm en gericht, fr: Reste calme et concentré, de: Bleibt ruhig und konzentriert, en: Stays calm and focused}
"""

INTERVIEW_TEXT = (
    """\
interview:                      # <interview>
  state: interview              # <state>
  panel: {min: 2, max: 4}       # <panel>
"""
    + CRITERIA_TEXT
    + """\
  pass: {each_at_least: 2, total_at_least: 12}   # <pass>
  decides: {pass: pass_interview, fail: fail_interview}   # <decides>
  total_fact: interview_score   # <total_fact>
"""
)

SHIPPED_BLOCK = "\n# The interview: what the panel scores"


def with_interview(text: str) -> str:
    """A protection-officer text whose interview block is ``INTERVIEW_TEXT``: the shipped
    criteria and rule, with markers the tests find lines by."""
    assert text.count(SHIPPED_BLOCK) == 1, "the shipped workflow ends with its interview block"
    return text[: text.index(SHIPPED_BLOCK)] + "\n" + INTERVIEW_TEXT


VALID = with_interview(BASE)


# -- helpers ---------------------------------------------------------------------------------


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced (fails loudly otherwise)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the text"
    return text.replace(old, new)


def line_with(text: str, marker: str) -> int:
    """1-based number of the one line holding ``marker``."""
    numbers = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(numbers) == 1, f"{marker!r} is on {len(numbers)} line(s)"
    return numbers[0]


# The same workflow before it had an interview: no block, and an offer that asks for no consensus.
BARE = replace_once(BASE[: BASE.index(SHIPPED_BLOCK)], "    consensus: pass\n", "")


def path_for(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "protection-officer.yaml"  # the name key must match the stem
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> WorkflowDefinition:
    return read_workflow_file(path_for(tmp_path, text), CATALOG)


def problems_in(tmp_path: Path, text: str) -> list[Problem]:
    """The problems reported for ``text`` (the file must be refused)."""
    with pytest.raises(WorkflowInvalid) as caught:
        load(tmp_path, text)
    assert caught.value.problems, "WorkflowInvalid without problems"
    return caught.value.problems


def the_problem(problems: list[Problem], field: str) -> Problem:
    """The one problem whose field is ``field``, with a readable failure otherwise."""
    matching = [p for p in problems if p.field == field]
    listing = "\n".join(str(p) for p in problems)
    assert len(matching) == 1, f"expected one problem on field {field!r}, got:\n{listing}"
    return matching[0]


def broken(tmp_path: Path, *replacements: tuple[str, str]) -> tuple[str, list[Problem]]:
    """VALID with each (old, new) replaced once; the broken text and its problems."""
    text = VALID
    for old, new in replacements:
        text = replace_once(text, old, new)
    return text, problems_in(tmp_path, text)


def assert_problem(
    problems: list[Problem], field: str, message: str, text: str, marker: str | None
) -> None:
    """Exactly one problem on ``field``, saying ``message``, on the line holding ``marker``."""
    problem = the_problem(problems, field)
    assert problem.message == message, str(problem)
    assert problem.file.endswith("protection-officer.yaml"), problem.file
    if marker is not None:
        assert problem.line == line_with(text, marker), str(problem)


def texts(word: str) -> dict[str, str]:
    return {language: f"{word} ({language})" for language in LANGUAGES}


def criterion(name: str, low: int = 0, high: int = 5) -> Criterion:
    return Criterion(name, texts(name), low, high, {low: texts("low"), high: texts("high")})


def spec_of(
    scales: list[tuple[int, int]], each: int | None = None, total: int | None = None
) -> InterviewSpec:
    """An interview with criteria c0, c1, ... on the given scales and the given pass rule."""
    return InterviewSpec(
        state="interview",
        criteria=tuple(criterion(f"c{i}", low, high) for i, (low, high) in enumerate(scales)),
        rule=PassRule(each, total),
        passed="pass_interview",
        failed="fail_interview",
    )


ISSUE = spec_of([(0, 5)] * 4, each=2, total=12)  # scored as c0..c3


def scored(*values: object) -> dict[str, object]:
    return {f"c{i}": value for i, value in enumerate(values)}


# -- 1. a valid block ------------------------------------------------------------------------


def test_the_base_workflow_has_what_the_interview_block_refers_to(tmp_path: Path) -> None:
    """The interview state is open, both triggers leave it, interview_score is 0..20."""
    base = load(tmp_path, BARE)

    assert base.interview is None
    assert not base.states["interview"].final
    assert base.transition("pass_interview", "interview") is not None
    assert base.transition("fail_interview", "interview") is not None
    fact = base.facts["interview_score"]
    assert (fact.type, fact.minimum, fact.maximum) == ("integer", 0, 20)


def test_the_issues_interview_block_parses_into_the_expected_spec(tmp_path: Path) -> None:
    definition = load(tmp_path, VALID)
    spec = definition.interview

    assert spec is not None
    assert spec.state == "interview"
    assert [c.name for c in spec.criteria] == list(CRITERIA)
    assert [(c.minimum, c.maximum) for c in spec.criteria] == [(0, 5)] * 4
    technique, judgement = spec.criteria[0], spec.criteria[1]
    assert technique == Criterion(
        "interviewing_technique",
        {
            "nl": "Interviewtechniek",
            "fr": "Technique d'entretien",
            "de": "Gesprächstechnik",
            "en": "Interviewing technique",
        },
        0,
        5,
        {
            0: {
                "nl": "Stelt geen open vragen",
                "fr": "Ne pose pas de questions ouvertes",
                "de": "Stellt keine offenen Fragen",
                "en": "Asks no open questions",
            },
            3: {
                "nl": "Vraagt door waar nodig",
                "fr": "Approfondit si nécessaire",
                "de": "Fragt nach wo nötig",
                "en": "Probes where needed",
            },
            5: {
                "nl": "Leidt het gesprek voorbeeldig",
                "fr": "Mène l'entretien de façon exemplaire",
                "de": "Führt das Gespräch vorbildlich",
                "en": "Leads the interview exemplarily",
            },
        },
    )
    assert sorted(judgement.anchors) == [0, 5]
    assert judgement.label["en"] == "Judgement"
    assert judgement.line == line_with(VALID, "<judgement>")
    assert spec.rule == PassRule(each_at_least=2, total_at_least=12)
    assert str(spec.rule) == "every criterion ≥ 2 and a total ≥ 12"
    assert (spec.passed, spec.failed) == ("pass_interview", "fail_interview")
    assert (spec.panel_min, spec.panel_max) == (2, 4)
    assert spec.total_fact == "interview_score"
    assert spec.highest_total == 20
    assert spec.line == line_with(VALID, "<interview>")


def test_panel_and_total_fact_are_optional_with_their_defaults(tmp_path: Path) -> None:
    text = replace_once(VALID, "  panel: {min: 2, max: 4}       # <panel>\n", "")
    text = replace_once(text, "  total_fact: interview_score   # <total_fact>\n", "")

    spec = load(tmp_path, text).interview

    assert spec is not None
    assert (spec.panel_min, spec.panel_max) == (2, 4)
    assert spec.total_fact is None
    assert "total_fact" not in spec.to_document()
    assert spec.to_document()["panel"] == {"min": 2, "max": 4}


@pytest.mark.parametrize(
    ("panel", "expected"),
    [("{min: 1, max: 10}", (1, 10)), ("{min: 3}", (3, 4)), ("{max: 6}", (2, 6)), ("{}", (2, 4))],
)
def test_a_panel_bound_left_out_takes_its_default(
    tmp_path: Path, panel: str, expected: tuple[int, int]
) -> None:
    text = replace_once(VALID, "panel: {min: 2, max: 4}", f"panel: {panel}")

    spec = load(tmp_path, text).interview

    assert spec is not None
    assert (spec.panel_min, spec.panel_max) == expected


def test_each_rule_alone_is_a_valid_pass_rule(tmp_path: Path) -> None:
    each_only = replace_once(VALID, "{each_at_least: 2, total_at_least: 12}", "{each_at_least: 2}")
    total_only = replace_once(
        VALID, "{each_at_least: 2, total_at_least: 12}", "{total_at_least: 12}"
    )

    each_spec, total_spec = (
        load(tmp_path, each_only).interview,
        load(tmp_path, total_only).interview,
    )

    assert each_spec is not None
    assert each_spec.rule == PassRule(2, None)
    assert total_spec is not None
    assert total_spec.rule == PassRule(None, 12)
    assert each_spec.to_document()["pass"] == {"each_at_least": 2}
    assert total_spec.to_document()["pass"] == {"total_at_least": 12}


def test_the_canonical_document_holds_the_interview_block(tmp_path: Path) -> None:
    document = load(tmp_path, VALID).to_document()

    interview = document["interview"]
    assert interview["state"] == "interview"
    assert interview["panel"] == {"min": 2, "max": 4}
    assert list(interview["criteria"]) == list(CRITERIA)
    assert interview["criteria"]["judgement"] == {
        "label": {
            "nl": "Oordeelsvorming",
            "fr": "Jugement",
            "de": "Urteilsvermögen",
            "en": "Judgement",
        },
        "scale": {"min": 0, "max": 5},
        "anchors": {
            "0": {
                "nl": "Geen onderbouwd oordeel",
                "fr": "Aucun jugement étayé",
                "de": "Kein begründetes Urteil",
                "en": "No reasoned judgement",
            },
            "5": {
                "nl": "Weegt alle elementen af",
                "fr": "Pèse tous les éléments",
                "de": "Wägt alle Elemente ab",
                "en": "Weighs every element",
            },
        },
    }
    assert list(interview["criteria"]["interviewing_technique"]["anchors"]) == ["0", "3", "5"]
    assert interview["pass"] == {"each_at_least": 2, "total_at_least": 12}
    assert interview["decides"] == {"pass": "pass_interview", "fail": "fail_interview"}
    assert interview["total_fact"] == "interview_score"
    json.dumps(document)  # storable as JSON as it is


def test_the_interview_block_is_part_of_the_content_hash(tmp_path: Path) -> None:
    """Adding the block, or changing a threshold in it, makes a new version; a comment does not."""
    without = load(tmp_path, BARE)
    with_block = load(tmp_path, VALID)
    again = load(tmp_path, VALID)
    stricter = load(tmp_path, replace_once(VALID, "total_at_least: 12", "total_at_least: 13"))
    recommented = load(tmp_path, replace_once(VALID, "# <decides>", "# <decides> by the chair"))

    assert "interview" not in without.to_document()
    assert with_block.content_hash != without.content_hash
    assert again.content_hash == with_block.content_hash
    assert again.interview == with_block.interview
    assert stricter.content_hash != with_block.content_hash
    assert recommented.content_hash == with_block.content_hash


def test_the_canonical_document_parses_back_to_the_same_definition(tmp_path: Path) -> None:
    """What the database stores (the canonical document, as JSON) reads back unchanged."""
    definition = load(tmp_path, VALID)
    stored = json.loads(json.dumps(definition.to_document()))

    reread = parse_workflow(stored, file="stored workflow protection-officer v1")

    assert reread.interview == definition.interview
    assert reread.content_hash == definition.content_hash


# -- 2. validation problems ------------------------------------------------------------------


def test_an_unknown_key_in_the_interview_block_is_refused(tmp_path: Path) -> None:
    text, problems = broken(
        tmp_path,
        (
            "  state: interview              # <state>\n",
            "  state: interview\n  chair: x  # <typo>\n",
        ),
    )

    assert_problem(
        problems,
        "interview.chair",
        "unknown key (allowed here: criteria, decides, panel, pass, state, total_fact)",
        text,
        "<typo>",
    )
    assert len(problems) == 1, [str(p) for p in problems]


@pytest.mark.parametrize(
    ("old", "new", "field", "allowed", "marker"),
    [
        (
            "scale: {min: 0, max: 5}   # <scale-judgement>",
            "scale: {min: 0, max: 5}   # <scale-judgement>\n      weight: 2   # <typo>",
            "interview.criteria.judgement.weight",
            "anchors, label, scale",
            "<typo>",
        ),
        (
            "scale: {min: 0, max: 5}   # <scale-judgement>",
            "scale: {min: 0, max: 5, step: 1}   # <typo>",
            "interview.criteria.judgement.scale.step",
            "max, min",
            "<typo>",
        ),
        (
            "{each_at_least: 2, total_at_least: 12}",
            "{each_at_least: 2, total_at_least: 12, average_at_least: 3}",
            "interview.pass.average_at_least",
            "each_at_least, total_at_least",
            "<pass>",
        ),
        (
            "panel: {min: 2, max: 4}",
            "panel: {min: 2, max: 4, chair: 1}",
            "interview.panel.chair",
            "max, min",
            "<panel>",
        ),
        (
            "fail: fail_interview}",
            "fail: fail_interview, defer: reject}",
            "interview.decides.defer",
            "fail, pass",
            "<decides>",
        ),
    ],
)
def test_an_unknown_key_inside_the_block_is_refused_where_it_is(
    tmp_path: Path, old: str, new: str, field: str, allowed: str, marker: str
) -> None:
    text, problems = broken(tmp_path, (old, new))

    assert_problem(problems, field, f"unknown key (allowed here: {allowed})", text, marker)


def test_an_interview_block_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    text = BARE + "\ninterview: interview   # <interview>\n"

    problems = problems_in(tmp_path, text)

    assert_problem(
        problems, "interview", "expected a mapping, got str 'interview'", text, "<interview>"
    )


def test_the_required_keys_of_the_interview_block_are_named(tmp_path: Path) -> None:
    text = BARE + "\ninterview:\n  state: interview   # <state>\n"

    problems = problems_in(tmp_path, text)

    for key in ("criteria", "pass", "decides"):
        required = [
            p for p in problems if p.field == f"interview.{key}" and p.message == "is required"
        ]
        assert len(required) == 1, [str(p) for p in problems]
        assert required[0].line == line_with(text, "<state>")  # the block's first line
    assert not [p for p in problems if p.field == "interview.state"]
    assert not [p for p in problems if p.field == "interview.panel"]  # optional
    assert not [p for p in problems if p.field == "interview.total_fact"]  # optional


@pytest.mark.parametrize("missing", ["label", "scale", "anchors"])
def test_the_required_keys_of_a_criterion_are_named(tmp_path: Path, missing: str) -> None:
    lines = {
        "label": "      label: {nl: Oordeelsvorming, fr: Jugement, de: Urteilsvermögen, en: Judgement}   # <label-judgement>\n",
        "scale": "      scale: {min: 0, max: 5}   # <scale-judgement>\n",
        "anchors": (
            "      anchors:                  # <anchors-judgement>\n"
            "        0: {nl: Geen onderbouwd oordeel, fr: Aucun jugement étayé, de: Kein begründetes Urteil, en: No reasoned judgement}   # <anchor-judgement-0>\n"
            "        5: {nl: Weegt alle elementen af, fr: Pèse tous les éléments, de: Wägt alle Elemente ab, en: Weighs every element}   # <anchor-judgement-5>\n"
        ),
    }

    _, problems = broken(tmp_path, (lines[missing], ""))

    field = f"interview.criteria.judgement.{missing}"
    assert any(p.field == field and p.message.startswith("is required") for p in problems), [
        str(p) for p in problems
    ]


def test_the_scale_needs_both_ends(tmp_path: Path) -> None:
    _, problems = broken(
        tmp_path, ("{min: 0, max: 5}   # <scale-judgement>", "{min: 0}   # <scale-judgement>")
    )

    required = [p for p in problems if p.field == "interview.criteria.judgement.scale.max"]
    assert [p.message for p in required] == ["is required"]


def test_an_unknown_interview_state_is_refused(tmp_path: Path) -> None:
    text, problems = broken(
        tmp_path, ("state: interview              # <state>", "state: nowhere  # <state>")
    )

    assert_problem(problems, "interview.state", "no state 'nowhere'", text, "<state>")


def test_a_final_interview_state_is_refused(tmp_path: Path) -> None:
    text, problems = broken(
        tmp_path, ("state: interview              # <state>", "state: hired  # <state>")
    )

    assert_problem(problems, "interview.state", "'hired' is final", text, "<state>")


@pytest.mark.parametrize(
    ("old", "new", "key", "trigger"),
    [
        ("pass: pass_interview,", "pass: make_offer,", "pass", "make_offer"),  # leaves selected
        ("fail: fail_interview}", "fail: fail_selor}", "fail", "fail_selor"),  # leaves selor_test
        ("fail: fail_interview}", "fail: no_such_trigger}", "fail", "no_such_trigger"),
    ],
)
def test_a_decides_trigger_must_leave_the_interview_state(
    tmp_path: Path, old: str, new: str, key: str, trigger: str
) -> None:
    text, problems = broken(tmp_path, (old, new))

    assert_problem(
        problems,
        f"interview.decides.{key}",
        f"no transition {trigger!r} leaves state 'interview'",
        text,
        "<decides>",
    )
    assert len(problems) == 1, [str(p) for p in problems]


def test_decides_needs_both_pass_and_fail(tmp_path: Path) -> None:
    text, problems = broken(
        tmp_path, ("{pass: pass_interview, fail: fail_interview}", "{pass: pass_interview}")
    )

    assert_problem(problems, "interview.decides.fail", "is required", text, "<decides>")


def test_decides_pass_and_fail_must_be_different_transitions(tmp_path: Path) -> None:
    text = replace_once(VALID, "fail: fail_interview}", "fail: pass_interview}")

    problems = problems_in(tmp_path, text)

    assert [p.field for p in problems if p.field.startswith("interview.decides")]


@pytest.mark.parametrize("name", ["Judgement", "stress-resistance", "2nd_round", "judgement_é"])
def test_a_criterion_name_must_be_lowercase_with_underscores(tmp_path: Path, name: str) -> None:
    text, problems = broken(
        tmp_path, ("    judgement:                  # <judgement>", f"    {name}:   # <judgement>")
    )

    assert_problem(
        problems,
        f"interview.criteria.{name}",
        "use lowercase_with_underscores",
        text,
        "<judgement>",
    )


def test_empty_criteria_are_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, (CRITERIA_TEXT, "  criteria: {}   # <criteria>\n"))

    assert_problem(
        problems, "interview.criteria", "name at least one criterion", text, "<criteria>"
    )
    assert len(problems) == 1, [str(p) for p in problems]


def test_criteria_that_are_not_a_mapping_are_refused(tmp_path: Path) -> None:
    text, problems = broken(
        tmp_path, (CRITERIA_TEXT, "  criteria: [judgement, stress_resistance]   # <criteria>\n")
    )

    assert_problem(
        problems, "interview.criteria", "expected a mapping, got a list", text, "<criteria>"
    )


@pytest.mark.parametrize("scale", ["{min: 5, max: 5}", "{min: 5, max: 0}"])
def test_a_scale_whose_min_is_not_below_its_max_is_refused(tmp_path: Path, scale: str) -> None:
    text, problems = broken(
        tmp_path, ("{min: 0, max: 5}   # <scale-stress>", f"{scale}   # <scale-stress>")
    )

    assert_problem(
        problems,
        "interview.criteria.stress_resistance.scale",
        "min must be below max",
        text,
        "<scale-stress>",
    )


@pytest.mark.parametrize(
    "scale",
    [
        "{min: 0, max: 5.5}",
        '{min: "0", max: 5}',
        "{min: 0, max: five}",
        "{min: false, max: 5}",
        "{min: 0, max: true}",
    ],
)
def test_a_scale_needs_whole_numbers_not_text_floats_or_booleans(
    tmp_path: Path, scale: str
) -> None:
    text, problems = broken(
        tmp_path, ("{min: 0, max: 5}   # <scale-stress>", f"{scale}   # <scale-stress>")
    )

    assert_problem(
        problems,
        "interview.criteria.stress_resistance.scale",
        "min and max must be whole numbers",
        text,
        "<scale-stress>",
    )


def test_a_refused_scale_adds_no_false_problems_about_anchors_or_the_pass_rule(
    tmp_path: Path,
) -> None:
    _, problems = broken(tmp_path, ("{min: 0, max: 5}   # <scale-stress>", "{min: 0, max: 5.5}"))

    assert [p.field for p in problems] == ["interview.criteria.stress_resistance.scale"]


@pytest.mark.parametrize("point", ["6", "-1", "high", "2.5", "true"])
def test_an_anchor_off_the_scale_is_refused_at_its_line(tmp_path: Path, point: str) -> None:
    extra = f"\n        {point}: {{nl: a, fr: b, de: c, en: d}}   # <extra-anchor>"
    text, problems = broken(tmp_path, ("# <anchor-judgement-5>", "# <anchor-judgement-5>" + extra))

    field = f"interview.criteria.judgement.anchors.{'True' if point == 'true' else point}"
    assert_problem(problems, field, "an anchor is a score on the scale 0–5", text, "<extra-anchor>")
    assert len(problems) == 1, [str(p) for p in problems]


@pytest.mark.parametrize(("dropped", "kept"), [("5", "0"), ("0", "5")])
def test_anchors_must_say_what_both_ends_of_the_scale_mean(
    tmp_path: Path, dropped: str, kept: str
) -> None:
    line = next(
        line + "\n" for line in VALID.splitlines() if f"# <anchor-judgement-{dropped}>" in line
    )

    text, problems = broken(tmp_path, (line, ""))

    assert_problem(
        problems,
        "interview.criteria.judgement.anchors",
        "say what both ends of the scale mean (0 and 5)",
        text,
        "<anchors-judgement>",
    )


def test_a_middle_anchor_is_optional_but_must_be_on_the_scale(tmp_path: Path) -> None:
    """The issue's technique criterion has an anchor at 3; nothing requires the points between."""
    spec = load(tmp_path, VALID).interview

    assert spec is not None
    assert sorted(spec.criteria[0].anchors) == [0, 3, 5]
    assert sorted(spec.criteria[3].anchors) == [0, 5]


def test_a_label_missing_a_language_is_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, (" de: Urteilsvermögen,", ""))

    assert_problem(
        problems,
        "interview.criteria.judgement.label",
        "missing language(s): de",
        text,
        "<label-judgement>",
    )


def test_an_anchor_text_missing_a_language_is_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, (", en: Weighs every element}", "}"))

    assert_problem(
        problems,
        "interview.criteria.judgement.anchors.5",
        "missing language(s): en",
        text,
        "<anchor-judgement-5>",
    )


def test_an_empty_anchor_text_is_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, ("fr: Pèse tous les éléments", 'fr: ""'))

    assert_problem(
        problems,
        "interview.criteria.judgement.anchors.5.fr",
        "must be non-empty text",
        text,
        "<anchor-judgement-5>",
    )


def test_a_pass_rule_with_neither_threshold_is_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, ("{each_at_least: 2, total_at_least: 12}", "{}"))

    assert_problem(
        problems, "interview.pass", "give each_at_least, total_at_least or both", text, "<pass>"
    )


def test_each_at_least_above_a_criterions_top_is_refused(tmp_path: Path) -> None:
    """One criterion on 0..3 is enough: nobody can score 4 on it."""
    text, problems = broken(
        tmp_path,
        ("{min: 0, max: 5}   # <scale-stress>", "{min: 0, max: 3}   # <scale-stress>"),
        ("each_at_least: 2", "each_at_least: 4"),
        (
            "5: {nl: Blijft kalm en gericht,",
            "3: {nl: Blijft kalm en gericht,",
        ),
    )

    assert_problem(
        problems,
        "interview.pass.each_at_least",
        "4 is above the top of a criterion's scale: nobody could pass",
        text,
        "<pass>",
    )
    assert len(problems) == 1, [str(p) for p in problems]


def test_each_at_least_at_the_top_of_every_scale_is_accepted(tmp_path: Path) -> None:
    spec = load(tmp_path, replace_once(VALID, "each_at_least: 2", "each_at_least: 5")).interview

    assert spec is not None
    assert spec.rule.each_at_least == 5


def test_total_at_least_above_the_highest_total_is_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, ("total_at_least: 12", "total_at_least: 21"))

    assert_problem(
        problems,
        "interview.pass.total_at_least",
        "21 is above the highest total 20",
        text,
        "<pass>",
    )
    assert len(problems) == 1, [str(p) for p in problems]


def test_total_at_least_equal_to_the_highest_total_is_accepted(tmp_path: Path) -> None:
    spec = load(tmp_path, replace_once(VALID, "total_at_least: 12", "total_at_least: 20")).interview

    assert spec is not None
    assert spec.rule.total_at_least == 20


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("each_at_least", "true"),
        ("each_at_least", '"2"'),
        ("each_at_least", "2.5"),
        ("total_at_least", "false"),
        ("total_at_least", "twelve"),
    ],
)
def test_a_pass_threshold_must_be_a_whole_number_not_a_boolean(
    tmp_path: Path, key: str, value: str
) -> None:
    old = {"each_at_least": "each_at_least: 2", "total_at_least": "total_at_least: 12"}[key]

    text, problems = broken(tmp_path, (old, f"{key}: {value}"))

    assert_problem(problems, f"interview.pass.{key}", "expected a whole number", text, "<pass>")
    assert len(problems) == 1, [str(p) for p in problems]  # the other threshold still counts


@pytest.mark.parametrize(
    "panel",
    [
        "{min: 0, max: 4}",
        "{min: 5, max: 3}",
        "{min: 2, max: 11}",
        "{min: 5}",  # above the default max 4
        "{min: true, max: 4}",
        "{min: 2, max: 3.5}",
        '{min: "2", max: 4}',
    ],
)
def test_panel_bounds_are_checked(tmp_path: Path, panel: str) -> None:
    text, problems = broken(tmp_path, ("panel: {min: 2, max: 4}", f"panel: {panel}"))

    assert_problem(
        problems, "interview.panel", "min and max members: 1 ≤ min ≤ max ≤ 10", text, "<panel>"
    )
    assert len(problems) == 1, [str(p) for p in problems]


def test_a_panel_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, ("panel: {min: 2, max: 4}", "panel: 3"))

    assert_problem(problems, "interview.panel", "expected a mapping, got int 3", text, "<panel>")


@pytest.mark.parametrize("fact", ["selor_session_place", "language_certificate", "no_such_fact"])
def test_the_total_fact_must_be_an_integer_fact(tmp_path: Path, fact: str) -> None:
    text, problems = broken(tmp_path, ("total_fact: interview_score", f"total_fact: {fact}"))

    assert_problem(
        problems,
        "interview.total_fact",
        f"{fact!r} must be an integer fact of this workflow",
        text,
        "<total_fact>",
    )


def test_the_total_fact_must_be_text(tmp_path: Path) -> None:
    text, problems = broken(tmp_path, ("total_fact: interview_score", "total_fact: 20"))

    assert_problem(
        problems, "interview.total_fact", "expected text, got int 20", text, "<total_fact>"
    )


def test_a_total_fact_whose_range_is_too_small_for_the_highest_total_is_refused(
    tmp_path: Path,
) -> None:
    """A criterion on 0..6 makes the highest total 21, beyond interview_score's 0..20."""
    text, problems = broken(
        tmp_path,
        ("{min: 0, max: 5}   # <scale-stress>", "{min: 0, max: 6}   # <scale-stress>"),
        ("5: {nl: Blijft kalm en gericht,", "6: {nl: Blijft kalm en gericht,"),
    )

    assert_problem(
        problems,
        "interview.total_fact",
        "its range must hold every total from 0 to 21",
        text,
        "<total_fact>",
    )
    assert len(problems) == 1, [str(p) for p in problems]


def test_a_total_fact_whose_range_starts_above_the_lowest_total_is_refused(
    tmp_path: Path,
) -> None:
    text, problems = broken(tmp_path, ("    min: 0\n    max: 20\n", "    min: 4\n    max: 20\n"))

    assert_problem(
        problems,
        "interview.total_fact",
        "its range must hold every total from 0 to 20",
        text,
        "<total_fact>",
    )


def test_a_wider_integer_fact_holds_the_totals(tmp_path: Path) -> None:
    spec = load(
        tmp_path, replace_once(VALID, "total_fact: interview_score", "total_fact: selor_score")
    ).interview

    assert spec is not None
    assert spec.total_fact == "selor_score"


def test_every_problem_in_the_interview_block_is_reported_together(tmp_path: Path) -> None:
    text, problems = broken(
        tmp_path,
        (
            "  state: interview              # <state>\n",
            "  state: interview\n  chair: x  # <typo>\n",
        ),
        ("panel: {min: 2, max: 4}", "panel: {min: 4, max: 2}"),
        ("    judgement:                  # <judgement>", "    Judgement:   # <judgement>"),
        (" de: Gesprächstechnik,", ""),
        ("        3: {nl: Vraagt", "        9: {nl: Vraagt"),
        (
            "{min: 0, max: 5}   # <scale-written>",
            "{min: 0, max: 5}   # <scale-written>\n      weight: 2   # <weight>",
        ),
        ("each_at_least: 2, total_at_least: 12", "each_at_least: true, total_at_least: 99"),
        ("fail: fail_interview}", "fail: make_offer}"),
        ("total_fact: interview_score", "total_fact: selor_session_place"),
    )

    markers = {
        "interview.chair": "<typo>",
        "interview.panel": "<panel>",
        "interview.criteria.Judgement": "<judgement>",
        "interview.criteria.interviewing_technique.label": "en: Interviewing technique",
        "interview.criteria.interviewing_technique.anchors.9": "Vraagt door",
        "interview.criteria.written_dutch_french.weight": "<weight>",
        "interview.pass.each_at_least": "<pass>",
        "interview.pass.total_at_least": "<pass>",
        "interview.decides.fail": "<decides>",
        "interview.total_fact": "<total_fact>",
    }
    expected_lines = {field: line_with(text, marker) for field, marker in markers.items()}
    listing = "\n".join(str(p) for p in problems)
    assert {p.field for p in problems} == set(expected_lines), listing
    for problem in problems:
        assert problem.line == expected_lines[problem.field], str(problem)
    assert the_problem(problems, "interview.pass.total_at_least").message == (
        "99 is above the highest total 15"  # the Judgement criterion is not counted
    )


# -- 3. the verdict --------------------------------------------------------------------------


def test_a_criterion_below_its_minimum_fails_however_high_the_total() -> None:
    """The issue's edge case: 1, 5, 5, 5 totals 16 ≥ 12, but 1 < 2 fails."""
    result = verdict(ISSUE, scored(1, 5, 5, 5))

    assert result == Verdict(passed=False, total=16, shortfalls=("c0: 1 is below 2",))


def test_scores_exactly_at_the_thresholds_pass() -> None:
    result = verdict(ISSUE, scored(2, 2, 4, 4))

    assert result == Verdict(passed=True, total=12, shortfalls=())


def test_a_total_below_its_threshold_fails_even_with_every_criterion_met() -> None:
    result = verdict(ISSUE, scored(3, 3, 3, 2))

    assert result == Verdict(passed=False, total=11, shortfalls=("total: 11 is below 12",))


def test_every_shortfall_is_listed() -> None:
    result = verdict(ISSUE, scored(1, 0, 5, 5))

    assert not result.passed
    assert result.total == 11
    assert result.shortfalls == ("c0: 1 is below 2", "c1: 0 is below 2", "total: 11 is below 12")


def test_the_verdict_names_the_criterion_of_a_parsed_workflow(tmp_path: Path) -> None:
    spec = load(tmp_path, VALID).interview
    assert spec is not None

    result = verdict(spec, dict(zip(CRITERIA, (1, 5, 5, 5), strict=True)))

    assert result.shortfalls == ("interviewing_technique: 1 is below 2",)
    assert not result.passed


def test_a_rule_with_one_threshold_applies_only_that_one() -> None:
    each_only = spec_of([(0, 5)] * 4, each=2)
    total_only = spec_of([(0, 5)] * 4, total=12)

    assert verdict(each_only, scored(2, 2, 2, 2)).passed
    assert verdict(total_only, scored(0, 5, 5, 2)).passed
    assert verdict(total_only, scored(0, 5, 5, 1)).shortfalls == ("total: 11 is below 12",)


def test_checked_scores_refuses_every_bad_score_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        checked_scores(
            spec_of([(0, 5)] * 7),
            {
                # c0 missing
                "c1": "",
                "c2": "abc",
                "c3": 2.5,
                "c4": True,
                "c5": 6,
                "c6": -1,
                "charm": 5,
            },
        )

    assert caught.value.message == (
        "scores: unknown criterion 'charm'; c0: give a score; c1: give a score; "
        "c2: expected a whole number, got 'abc'; c3: expected a whole number, got 2.5; "
        "c4: expected a whole number, got True; c5: 6 is outside the scale 0–5; "
        "c6: -1 is outside the scale 0–5"
    )


def test_a_verdict_is_not_given_on_incomplete_scores() -> None:
    with pytest.raises(InvalidInput, match="c3: give a score"):
        verdict(ISSUE, scored(5, 5, 5))


def test_checked_scores_accepts_numeric_strings_and_the_ends_of_the_scale() -> None:
    result = checked_scores(spec_of([(0, 5), (0, 5), (1, 3), (-2, 2)]), scored("0", " 5 ", 3, "-2"))

    assert result == {"c0": 0, "c1": 5, "c2": 3, "c3": -2}
    assert all(type(v) is int for v in result.values())


# -- properties ------------------------------------------------------------------------------


@st.composite
def scored_interviews(draw: st.DrawFn) -> tuple[InterviewSpec, dict[str, int]]:
    """A random interview (scales, optional thresholds) and scores on its scales."""
    scales = draw(
        st.lists(
            st.tuples(st.integers(-5, 10), st.integers(1, 10)).map(lambda t: (t[0], t[0] + t[1])),
            min_size=1,
            max_size=6,
        )
    )
    each = draw(st.none() | st.integers(-6, 21))
    total = draw(st.none() | st.integers(-30, 130))
    spec = spec_of(scales, each, total)
    scores = {f"c{i}": draw(st.integers(low, high)) for i, (low, high) in enumerate(scales)}
    return spec, scores


@settings(max_examples=300, database=None, deadline=None)
@given(scored_interviews())
def test_the_verdict_is_every_criterion_at_least_and_the_total_at_least(
    case: tuple[InterviewSpec, dict[str, int]],
) -> None:
    spec, scores = case
    each, total = spec.rule.each_at_least, spec.rule.total_at_least
    values = list(scores.values())
    every_met = each is None or all(value >= each for value in values)
    total_met = total is None or sum(values) >= total

    result = verdict(spec, scores)

    assert result.passed == (every_met and total_met)
    assert result.total == sum(values)
    below = [name for name, value in scores.items() if each is not None and value < each]
    assert [s.split(":")[0] for s in result.shortfalls] == below + ([] if total_met else ["total"])
    assert result.passed == (not result.shortfalls)


@settings(max_examples=100, database=None, deadline=None)
@given(scored_interviews())
def test_scores_given_as_text_get_the_same_verdict(
    case: tuple[InterviewSpec, dict[str, int]],
) -> None:
    spec, scores = case

    assert verdict(spec, {k: f" {v} " for k, v in scores.items()}) == verdict(spec, scores)


@settings(max_examples=100, database=None, deadline=None)
@given(scored_interviews(), st.data())
def test_a_score_off_its_scale_is_refused_naming_its_criterion(
    case: tuple[InterviewSpec, dict[str, int]], data: st.DataObject
) -> None:
    spec, scores = case
    target = data.draw(st.sampled_from(spec.criteria))
    off = data.draw(
        st.integers(target.maximum + 1, target.maximum + 50)
        | st.integers(target.minimum - 50, target.minimum - 1)
    )

    with pytest.raises(InvalidInput) as caught:
        verdict(spec, {**scores, target.name: off})

    assert caught.value.message == (
        f"scores: {target.name}: {off} is outside the scale {target.minimum}–{target.maximum}"
    )


BASE_DOCUMENT: Any = load_yaml(
    WORKFLOW
)  # a ruamel mapping; its interview block replaced per example


def plain_interview(scales: list[tuple[int, int]], each: int | None, total: int | None) -> Any:
    return {
        "state": "interview",
        "criteria": {
            f"c{i}": {
                "label": texts(f"c{i}"),
                "scale": {"min": low, "max": high},
                "anchors": {low: texts("low"), high: texts("high")},
            }
            for i, (low, high) in enumerate(scales)
        },
        "pass": {
            k: v for k, v in (("each_at_least", each), ("total_at_least", total)) if v is not None
        },
        "decides": {"pass": "pass_interview", "fail": "fail_interview"},
    }


@settings(max_examples=60, database=None, deadline=None)
@given(scored_interviews())
def test_the_parser_refuses_exactly_the_rules_nobody_could_pass(
    case: tuple[InterviewSpec, dict[str, int]],
) -> None:
    """A pass rule is accepted if and only if it has a threshold and top scores pass it."""
    spec, _ = case
    scales = [(c.minimum, c.maximum) for c in spec.criteria]
    each, total = spec.rule.each_at_least, spec.rule.total_at_least
    document = copy.deepcopy(BASE_DOCUMENT)
    document["interview"] = plain_interview(scales, each, total)
    top = {c.name: c.maximum for c in spec.criteria}
    anyone_could_pass = (each is not None or total is not None) and verdict(spec, top).passed

    if not anyone_could_pass:
        with pytest.raises(WorkflowInvalid) as caught:
            parse_workflow(document, file="generated", catalog=CATALOG)
        fields = {p.field for p in caught.value.problems}
        assert fields <= {
            "interview.pass",
            "interview.pass.each_at_least",
            "interview.pass.total_at_least",
        }, [str(p) for p in caught.value.problems]
        return
    parsed = parse_workflow(document, file="generated", catalog=CATALOG).interview
    assert parsed is not None
    assert parsed.rule == spec.rule
    assert verdict(parsed, top).passed


# -- consensus, once, a reminder's recipients -------------------------------------------------


def index_of(definition_text: str, trigger: str) -> int:
    """The position of ``trigger`` in the text's transitions list (as problems name it)."""
    triggers = re.findall(r"^  - trigger: (\w+)", definition_text, flags=re.MULTILINE)
    return triggers.index(trigger)


def test_the_shipped_offer_needs_the_consensus_and_the_no_show_happens_once(
    tmp_path: Path,
) -> None:
    definition = load(tmp_path, BASE)
    request = definition.transition("request_offer", "selected")
    no_show = definition.transition("interview_no_show", "interview")
    assert request is not None
    assert no_show is not None
    assert (request.consensus, request.once, no_show.once, no_show.consensus) == (
        True,
        False,
        True,
        False,
    )
    document = definition.to_document()
    entries = {t["trigger"]: t for t in document["transitions"]}
    assert entries["request_offer"]["consensus"] == "pass"
    assert entries["interview_no_show"]["once"] is True
    assert "once" not in entries["reinvite_to_interview"]
    pending = definition.states["offer_pending_approval"].timeout
    assert pending is not None
    assert [(r.notify, r.to) for r in pending.reminders] == [("approval_reminder", "approvers")]
    assert document["states"]["offer_pending_approval"]["timeout"]["reminders"] == [
        {"before": "2 working days", "notify": "approval_reminder", "to": "approvers"}
    ]
    assert "to" not in document["states"]["offer"]["timeout"]["reminders"][0]


def test_consensus_once_and_to_are_part_of_the_content_hash(tmp_path: Path) -> None:
    shipped = load(tmp_path, BASE).content_hash
    for old, new in (
        ("    consensus: pass\n", ""),
        ("    once: true ", "    once: false "),
        ("          to: approvers\n", ""),
    ):
        assert load(tmp_path, replace_once(BASE, old, new)).content_hash != shipped, old


def test_a_consensus_other_than_pass_is_refused(tmp_path: Path) -> None:
    text = replace_once(BASE, "    consensus: pass\n", "    consensus: fail   # <consensus>\n")
    problems = problems_in(tmp_path, text)
    field = f"transitions[{index_of(text, 'request_offer')}] (request_offer).consensus"
    assert_problem(
        problems, field, "the only consensus a transition can require is 'pass'", text, None
    )


def test_a_consensus_without_an_interview_block_is_refused(tmp_path: Path) -> None:
    text = BASE[: BASE.index(SHIPPED_BLOCK)] + "\n"
    problems = problems_in(tmp_path, text)
    field = f"transitions[{index_of(text, 'request_offer')}] (request_offer).consensus"
    assert_problem(
        problems,
        field,
        "no interview block: no panel reaches a consensus in this workflow",
        text,
        "- trigger: request_offer",
    )


def test_once_must_be_true_or_false(tmp_path: Path) -> None:
    text = replace_once(BASE, "    once: true ", "    once: twice ")
    problems = problems_in(tmp_path, text)
    field = f"transitions[{index_of(text, 'interview_no_show')}] (interview_no_show).once"
    assert_problem(problems, field, "must be true or false", text, "once: twice")


def test_a_reminder_goes_to_the_candidate_or_the_approvers(tmp_path: Path) -> None:
    text = replace_once(BASE, "          to: approvers\n", "          to: panel   # <to>\n")
    problems = problems_in(tmp_path, text)
    assert_problem(
        problems,
        "states.offer_pending_approval.timeout.reminders[0].to",
        "remind one of: candidate, approvers (got 'panel')",
        text,
        "<to>",
    )
