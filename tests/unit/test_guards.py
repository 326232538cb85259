"""Guards compile once in Jinja2's immutable sandbox, read only ``facts``, and explain failures.

Also the typing of recorded facts (``FactSpec.parse``), which decides what a
guard gets to compare.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.domain.guards import GuardSyntaxError, compile_guard
from ats.domain.workflow import FactSpec
from ats.errors import InvalidInput

# No example database: the tests leave nothing behind in the working tree.
PROFILE = settings(database=None, deadline=None)

LABEL = {"nl": "Feit", "fr": "Fait", "de": "Tatsache", "en": "Fact"}

# -- compiling -------------------------------------------------------------------------------


def test_a_guard_records_the_facts_it_reads_by_attribute_and_by_item() -> None:
    """``facts.x`` and ``facts['y']`` both count as reading a fact."""
    guard = compile_guard("facts.selor_score >= 60 and facts['diploma_level'] == 'master'")

    assert guard.facts == {"selor_score", "diploma_level"}


def test_a_bare_fact_is_a_guard_that_reads_it() -> None:
    """A guard that is just ``facts.flag`` reads ``flag`` (the root node counts too)."""
    assert compile_guard("facts.medical_fit").facts == {"medical_fit"}
    assert compile_guard("facts['medical_fit']").facts == {"medical_fit"}


def test_a_guard_keeps_its_source_and_description() -> None:
    """What the guard says in words travels with it, for messages and audits."""
    guard = compile_guard("facts.selor_score >= 60", "scored at least 60")

    assert guard.expr == "facts.selor_score >= 60"
    assert guard.description == "scored at least 60"


@pytest.mark.parametrize(
    ("expr", "stranger"),
    [
        ("os.system('ls')", "os"),
        ("range(10) | length > 3", "range"),
        ("lipsum() == ''", "lipsum"),
        ("facts.a if facts.b else cycler", "cycler"),
        ("self.__init__", "self"),
    ],
)
def test_a_guard_naming_anything_but_facts_is_refused(expr: str, stranger: str) -> None:
    """Only ``facts`` is in scope; any other name is refused at compile time and named."""
    with pytest.raises(GuardSyntaxError, match=f"names {stranger}"):
        compile_guard(expr)


@pytest.mark.parametrize(
    "expr",
    ["facts.score >=", "facts.score > 1 }}", "(facts.score", "facts.score > 1; 2", "facts..x"],
)
def test_a_guard_with_a_syntax_error_is_refused(expr: str) -> None:
    """A guard that does not parse as one expression raises GuardSyntaxError."""
    with pytest.raises(GuardSyntaxError):
        compile_guard(expr)


def test_a_guard_whose_constant_cannot_be_compiled_is_refused_as_a_syntax_error() -> None:
    """Jinja folds constants while compiling; a failure there is still a GuardSyntaxError.

    The workflow reader catches GuardSyntaxError only, so any other error would
    stop validation instead of becoming a problem with a line.
    """
    with pytest.raises(GuardSyntaxError):
        compile_guard("facts.score >= 10 ** 5000")


@pytest.mark.parametrize("expr", ["", "   ", None, 60])
def test_an_empty_or_non_text_guard_is_refused(expr: object) -> None:
    """YAML can hand over nothing or a number; neither is a guard."""
    with pytest.raises(GuardSyntaxError, match="non-empty expression"):
        compile_guard(expr)  # type: ignore[arg-type]


# -- checking --------------------------------------------------------------------------------


def test_failure_is_none_when_the_guard_holds() -> None:
    """A guard that holds has nothing to say."""
    assert compile_guard("facts.selor_score >= 60").failure({"selor_score": 72}) is None
    assert compile_guard("facts.medical_fit").failure({"medical_fit": True}) is None


def test_failure_names_the_guard_when_it_does_not_hold() -> None:
    """The message quotes the expression and what it means in words."""
    guard = compile_guard("facts.selor_score >= 60", "scored at least 60 of 100")

    message = guard.failure({"selor_score": 41})

    assert message is not None
    assert "facts.selor_score >= 60" in message
    assert "scored at least 60 of 100" in message
    assert "does not hold" in message


def test_failure_says_which_fact_is_not_recorded() -> None:
    """A missing fact fails the guard, naming the fact, instead of passing on an empty value."""
    message = compile_guard("facts.selor_score >= 60").failure({"other": 1})

    assert message is not None
    assert "selor_score" in message
    assert "not recorded" in message


def test_failure_names_only_the_missing_facts() -> None:
    """Of the facts a guard reads, the message names those not recorded, not the others."""
    guard = compile_guard("facts.selor_score >= 60 and facts['interview_score'] >= 12")

    message = guard.failure({"interview_score": 15})

    assert message is not None
    assert "selor_score" in message
    assert "interview_score" not in message.split("needs", 1)[1]


def test_a_negated_missing_fact_does_not_pass() -> None:
    """``not facts.x`` with x unrecorded fails; an undefined is never silently false."""
    message = compile_guard("not facts.medical_fit").failure({})

    assert message is not None
    assert "medical_fit" in message
    assert "not recorded" in message


# -- the sandbox -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "facts.__class__",
        "facts.__class__.__mro__",
        "facts['__class__']",
        "facts.__init__",
        "facts.__getitem__('score')",
        "facts.update({'score': 100})",
        "facts.pop('score')",
        "facts.copy().update({'score': 100})",
        "facts.copy().clear()",
        "facts.score.__class__",
        "facts.score.__add__(1)",
        "facts.score | attr('__class__')",
    ],
)
def test_sandbox_escapes_fail_with_a_message_and_leave_the_facts_alone(expr: str) -> None:
    """Dunder access and mutation are refused at run time: a reason, no exception, no change."""
    facts = {"score": 5}

    message = compile_guard(expr).failure(facts)

    assert isinstance(message, str)
    assert expr in message
    assert facts == {"score": 5}


def test_a_guard_sees_a_read_only_view_of_the_facts() -> None:
    """Even a caller's mutable mapping is handed over as a copy behind a read-only proxy."""
    facts = {"score": 5}

    compile_guard("facts.copy().update({'score': 100}) or true").failure(facts)
    compile_guard("facts.update({'score': 100}) or true").failure(facts)

    assert facts == {"score": 5}


@pytest.mark.parametrize(
    ("expr", "facts"),
    [
        ("facts.score / facts.attempts > 1", {"score": 5, "attempts": 0}),
        ("facts.score // facts.attempts > 1", {"score": 5, "attempts": 0}),
        ("facts.score % facts.attempts == 0", {"score": 5, "attempts": 0}),
    ],
)
def test_an_arithmetic_error_fails_the_guard_with_a_message(
    expr: str, facts: dict[str, object]
) -> None:
    """A guard that cannot be evaluated on these facts explains why instead of raising."""
    message = compile_guard(expr).failure(facts)

    assert isinstance(message, str)
    assert "could not be evaluated" in message


def test_a_recorded_fact_of_the_wrong_type_fails_the_guard_with_a_message() -> None:
    """Comparing text with a number is a reason, not a crash."""
    message = compile_guard("facts.score >= 60").failure({"score": "high"})

    assert message is not None
    assert "could not be evaluated" in message


# -- properties ------------------------------------------------------------------------------


@PROFILE
@given(n=st.integers(), t=st.integers())
def test_a_threshold_guard_holds_exactly_when_the_score_reaches_it(n: int, t: int) -> None:
    """``facts.score >= t`` agrees with Python's ``n >= t`` for any whole numbers."""
    failure = compile_guard(f"facts.score >= {t}").failure({"score": n})

    assert (failure is None) == (n >= t)


bounds = st.tuples(st.integers(-1000, 1000), st.integers(-1000, 1000)).map(sorted)


@PROFILE
@given(bound=bounds, n=st.integers(-2000, 2000))
def test_an_integer_fact_round_trips_within_its_bounds_and_is_refused_outside(
    bound: list[int], n: int
) -> None:
    """Text of a whole number parses to that number inside [min, max] and is refused outside."""
    low, high = bound
    spec = FactSpec(name="score", type="integer", label=LABEL, minimum=low, maximum=high)

    if low <= n <= high:
        assert spec.parse(str(n)) == n
        assert spec.parse(f"  {n} ") == n
        assert spec.parse(n) == n
    else:
        with pytest.raises(InvalidInput, match="score"):
            spec.parse(str(n))


@PROFILE
@given(n=st.integers())
def test_an_integer_fact_without_bounds_takes_any_whole_number(n: int) -> None:
    """No min or max means no limit."""
    spec = FactSpec(name="score", type="integer", label=LABEL)

    assert spec.parse(str(n)) == n


@pytest.mark.parametrize("raw", ["sixty", "6.5", "", True, "1e3"])
def test_an_integer_fact_refuses_what_is_not_a_whole_number(raw: object) -> None:
    """Words, decimals, emptiness and booleans are not whole numbers."""
    spec = FactSpec(name="score", type="integer", label=LABEL)

    with pytest.raises(InvalidInput, match="whole number"):
        spec.parse(raw)


BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def mixed_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


@PROFILE
@given(
    word=st.sampled_from(sorted(BOOLEAN_WORDS)).flatmap(
        lambda w: st.tuples(st.just(w), mixed_case(w))
    )
)
def test_a_boolean_fact_accepts_true_false_yes_no_1_0_in_any_case(word: tuple[str, str]) -> None:
    """true/yes/1 and false/no/0 parse whatever their case."""
    plain, written = word
    spec = FactSpec(name="medical_fit", type="boolean", label=LABEL)

    assert spec.parse(written) is BOOLEAN_WORDS[plain]


@PROFILE
@given(text=st.text().filter(lambda s: s.strip().lower() not in BOOLEAN_WORDS))
def test_a_boolean_fact_refuses_any_other_text(text: str) -> None:
    """Anything but the six words (ignoring case and surrounding space) is refused."""
    spec = FactSpec(name="medical_fit", type="boolean", label=LABEL)

    with pytest.raises(InvalidInput, match="medical_fit"):
        spec.parse(text)
