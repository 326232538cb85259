"""The shared machine: one per workflow version, candidacies never registered on it."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from ats.adapters.workflow_files import read_workflow_file
from ats.domain.candidacy import decide, options, parse_facts
from ats.domain.engine import MachineCache, WorkflowMachine
from ats.domain.workflow import Catalog, WorkflowDefinition
from ats.errors import InvalidInput, TransitionRefused

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def escort() -> WorkflowDefinition:
    return read_workflow_file(REPO / "workflows" / "security-escort.yaml", Catalog())


def test_the_machine_moves_a_state_without_registering_a_model(escort: WorkflowDefinition) -> None:
    machine = WorkflowMachine(escort)
    assert machine.advance("applied", "screen") == "screened"
    assert machine._machine.models == []


def test_the_machine_refuses_a_trigger_that_does_not_leave_the_state(
    escort: WorkflowDefinition,
) -> None:
    machine = WorkflowMachine(escort)
    with pytest.raises(TransitionRefused, match="cannot be fired from state 'hired'"):
        machine.advance("hired", "screen")
    with pytest.raises(TransitionRefused, match="unknown trigger"):
        machine.advance("applied", "teleport")


def test_one_machine_per_version_is_built_and_reused(escort: WorkflowDefinition) -> None:
    cache = MachineCache()
    same = read_workflow_file(REPO / "workflows" / "security-escort.yaml", Catalog())
    assert cache.get(escort) is cache.get(same)
    assert len(cache) == 1


def test_memory_does_not_grow_with_the_number_of_candidacies_driven(
    escort: WorkflowDefinition,
) -> None:
    """Driving 20,000 candidacies through one machine keeps no per-candidacy state."""
    machine = WorkflowMachine(escort)
    for _ in range(200):  # warm caches and interned strings first
        machine.advance("applied", "screen")
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(20_000):
            machine.advance("applied", "screen")
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024, f"grew by {after - before} bytes"


def test_decide_lists_every_reason_at_once(escort: WorkflowDefinition) -> None:
    decision = decide(escort, "interview", {}, "reject", "panel")
    assert not decision.allowed
    assert any("role 'panel' may not fire 'reject'" in r for r in decision.reasons)
    assert any("needs a reason" in r for r in decision.reasons)
    assert not decision.forbidden  # more than the role is wrong: 422, not 403


def test_options_say_which_triggers_a_role_can_fire_now_and_why_not(
    escort: WorkflowDefinition,
) -> None:
    found = {
        d.trigger: d for d in options(escort, "applied", {"diploma_level": "none"}, "recruiter")
    }
    assert set(found) == {"screen", "reject", "withdraw"}
    assert found["reject"].allowed  # a reason is asked for at firing time, not to list it
    assert found["reject"].reason_required
    assert not found["screen"].allowed
    assert "diploma" in " ".join(found["screen"].reasons)


def test_facts_are_typed_by_the_workflow(escort: WorkflowDefinition) -> None:
    assert parse_facts(escort, {"selor_score": "72", "medical_fit": "yes"}) == {
        "selor_score": 72,
        "medical_fit": True,
    }
    with pytest.raises(InvalidInput, match="selor_score") as bad:
        parse_facts(escort, {"selor_score": "101", "colour": "blue"})
    assert "unknown fact 'colour'" in bad.value.message
