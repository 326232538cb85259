"""One unit of work = one database transaction; leaving without commit rolls back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from ats.adapters.db.store import (
    AuditEvents,
    AuditLog,
    Candidacies,
    Candidates,
    Catalogue,
    Checkpoints,
    Outbox,
    Timers,
    Workers,
    WorkflowVersions,
)


class UnitOfWork:
    connection: Connection
    workflows: WorkflowVersions
    catalogue: Catalogue
    candidates: Candidates
    candidacies: Candidacies
    audit: AuditLog
    events: AuditEvents
    checkpoints: Checkpoints
    timers: Timers
    outbox: Outbox
    workers: Workers

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> UnitOfWork:
        self.connection = self.engine.connect()
        self._transaction = self.connection.begin()
        self.workflows = WorkflowVersions(self.connection)
        self.catalogue = Catalogue(self.connection)
        self.candidates = Candidates(self.connection)
        self.candidacies = Candidacies(self.connection)
        self.audit = AuditLog(self.connection)
        self.events = AuditEvents(self.connection)
        self.checkpoints = Checkpoints(self.connection)
        self.timers = Timers(self.connection)
        self.outbox = Outbox(self.connection)
        self.workers = Workers(self.connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self.connection.close()

    def commit(self) -> None:
        self._transaction.commit()
