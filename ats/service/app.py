"""What handlers and queries are given: the ports, wired by ``ats.bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from ats.adapters.mail import Transport
from ats.adapters.mail_templates import MailRenderer
from ats.clock import Clock
from ats.domain.calendar import WorkingCalendar
from ats.domain.engine import MachineCache, WorkflowMachine
from ats.domain.workflow import WorkflowDefinition, parse_workflow
from ats.errors import NotFound
from ats.service.unit_of_work import UnitOfWork
from ats.settings import Settings


@dataclass
class WorkflowRegistry:
    """Stored workflow versions, parsed once per process; versions never change once stored."""

    _definitions: dict[int, WorkflowDefinition] = field(default_factory=dict)
    machines: MachineCache = field(default_factory=MachineCache)

    def definition(self, uow: UnitOfWork, version_id: int) -> WorkflowDefinition:
        cached = self._definitions.get(version_id)
        if cached is not None:
            return cached
        row = uow.workflows.get(version_id)
        if row is None:
            raise NotFound(f"workflow version {version_id} is not stored")
        definition = parse_workflow(
            row["definition"], file=f"stored workflow {row['name']} v{row['number']}"
        )
        self._definitions[version_id] = definition
        return definition

    def machine(self, definition: WorkflowDefinition) -> WorkflowMachine:
        return self.machines.get(definition)


@dataclass
class App:
    """The running application: settings, database, clock and caches."""

    settings: Settings
    engine: Engine
    clock: Clock
    process: str
    calendar: WorkingCalendar
    renderer: MailRenderer
    transport: Callable[[], Transport]  # a fresh transport per relay batch
    registry: WorkflowRegistry = field(default_factory=WorkflowRegistry)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def handle(self, command: object) -> Any:
        from ats.service.handlers import HANDLERS

        handler = HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        return handler(command, self)

    def close(self) -> None:
        self.engine.dispose()
