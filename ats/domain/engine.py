"""The one module that imports ``transitions``.

One machine per workflow version, built once; candidacies are driven through
it as throw-away holders of a state, never registered as models, so memory
does not grow with the number of candidacies (design invariant 3).
"""

from __future__ import annotations

from transitions import Machine, MachineError

from ats.domain.workflow import WorkflowDefinition
from ats.errors import TransitionRefused


class _Holder:
    """What the machine reads and writes: a state, nothing else."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class WorkflowMachine:
    """The state graph of one workflow version."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self._machine = Machine(
            model=None,
            states=list(definition.states),
            transitions=[
                {"trigger": spec.trigger, "source": list(spec.sources), "dest": spec.dest}
                for spec in definition.transitions
            ],
            initial=definition.initial_state,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            queued=False,
        )

    def advance(self, state: str, trigger: str) -> str:
        """The state ``trigger`` leads to from ``state``; refuse when it does not leave it."""
        event = self._machine.events.get(trigger)
        if event is None:
            raise TransitionRefused(
                f"unknown trigger {trigger!r}",
                [f"workflow {self.definition.name} knows: {', '.join(self.definition.triggers)}"],
            )
        holder = _Holder(state)
        try:
            moved = event.trigger(holder)
        except MachineError:
            raise TransitionRefused(
                f"{trigger!r} cannot be fired from state {state!r}",
                ["the trigger does not leave it"],
            ) from None
        if not moved:
            raise TransitionRefused(f"{trigger!r} did not move the candidacy", [])
        return holder.state


class MachineCache:
    """Machines by workflow content hash, each built on first use."""

    def __init__(self) -> None:
        self._machines: dict[str, WorkflowMachine] = {}

    def get(self, definition: WorkflowDefinition) -> WorkflowMachine:
        key = definition.content_hash
        machine = self._machines.get(key)
        if machine is None:
            machine = self._machines[key] = WorkflowMachine(definition)
        return machine

    def __len__(self) -> int:
        return len(self._machines)
