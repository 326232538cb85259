"""The worker process: APScheduler 3 ticks; our tables hold the deadlines and the mail.

APScheduler's job stores cannot be shared between processes and it drops runs
later than their grace time, so it stores nothing here: it only calls the
sweeper, the outbox relay, the audit checkpoint and the heartbeat at intervals. Any number of
workers may run against one PostgreSQL database.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select

from ats.adapters.db.store import WORKER
from ats.service.app import App
from ats.service.audit import checkpoint
from ats.service.outbox import RelayReport, relay
from ats.service.privacy import erase_due
from ats.service.queries import local_time
from ats.service.timers import SweepReport, sweep

log = structlog.get_logger("ats")

HEARTBEAT_SECONDS = 10
LIVE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Sweeps timers and checkpoints the audit log, until told to stop."""

    def __init__(self, app: App, *, name: str | None = None) -> None:
        self.app = app
        self.name = name or default_name()
        self.stopping = threading.Event()

    def run_once(self, *, mail: bool = True) -> tuple[SweepReport, RelayReport]:
        """One pass: every timer due now, then a heartbeat. For cron, drills and tests."""
        self._heartbeat()
        report = sweep(self.app, worker=self.name, stop=self.stopping.is_set)
        sent = relay(self.app, stop=self.stopping.is_set) if mail else RelayReport()
        self._heartbeat(swept=report.settled, status="stopped")
        return report, sent

    def run_forever(self) -> None:
        """Host the interval jobs until SIGTERM or SIGINT; then finish the batch and exit."""
        scheduler = self._scheduler()

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker.stopping", worker=self.name, signal=signal.Signals(signum).name)
            self.stopping.set()
            scheduler.shutdown(wait=True)  # lets the job in hand finish its timer

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("worker.started", worker=self.name)
        scheduler.start()  # returns after shutdown; a running sweep stops between timers
        self._heartbeat(status="stopped")
        log.info("worker.stopped", worker=self.name)

    def run_in_background(self) -> None:
        """The same jobs beside a web server (`ats serve`), until ``stopping`` is set."""
        scheduler = self._scheduler()

        def watch() -> None:
            if self.stopping.is_set():
                scheduler.shutdown(wait=False)

        scheduler.add_job(watch, "interval", seconds=1)
        log.info("worker.started", worker=self.name, alongside="serve")
        scheduler.start()

    def _scheduler(self) -> BlockingScheduler:
        settings = self.app.settings
        scheduler = BlockingScheduler(timezone=UTC)
        now = datetime.now(UTC)
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "next_run_time": now}
        scheduler.add_job(self._sweep, "interval", seconds=settings.worker_sweep_seconds, **common)
        scheduler.add_job(self._relay, "interval", seconds=settings.worker_relay_seconds, **common)
        scheduler.add_job(self._heartbeat, "interval", seconds=HEARTBEAT_SECONDS, **common)
        scheduler.add_job(
            self._checkpoint, "interval", seconds=settings.worker_checkpoint_seconds, **common
        )
        scheduler.add_job(self._housekeeping, "interval", seconds=60, **common)
        # Daily, and once at start: erasing is idempotent and a day late is still on time.
        scheduler.add_job(self._retention, "interval", hours=24, **common)
        return scheduler

    def _sweep(self) -> None:
        report = sweep(self.app, worker=self.name, stop=self.stopping.is_set)
        self._heartbeat(swept=report.settled)

    def _relay(self) -> None:
        relay(self.app, stop=self.stopping.is_set)

    def _checkpoint(self) -> None:
        if not self.stopping.is_set():
            checkpoint(self.app)

    def _retention(self) -> None:
        if not self.stopping.is_set():
            erase_due(self.app)

    def _housekeeping(self) -> None:
        with self.app.unit_of_work() as uow:
            lost = uow.workers.mark_lost(seen_before=self.app.clock.now() - LIVE_AFTER)
            uow.commit()
        if lost:
            log.warning("worker.lost", workers=lost)

    def _heartbeat(self, *, swept: int | None = None, status: str = "running") -> None:
        if self.stopping.is_set():
            status = "stopped"  # a job finishing after the signal must not revive the worker
        with self.app.unit_of_work() as uow:
            uow.workers.heartbeat(self.name, now=self.app.clock.now(), status=status, swept=swept)
            uow.commit()


def workers(app: App) -> list[dict[str, Any]]:
    """Every worker seen, whether it is alive, and its last sweep."""
    now = app.clock.now()
    zone = app.settings.zone
    with app.engine.connect() as connection:
        rows = connection.execute(select(WORKER).order_by(WORKER.c.last_seen_at.desc())).mappings()
        return [
            {
                "name": row["name"],
                "live": row["status"] == "running" and now - row["last_seen_at"] < LIVE_AFTER,
                "status": row["status"],
                "started": local_time(row["started_at"], zone),
                "last_seen": local_time(row["last_seen_at"], zone),
                "last_sweep": local_time(row["last_sweep_at"], zone)
                if row["last_sweep_at"]
                else None,
                "last_sweep_settled": row["last_sweep_fired"],
            }
            for row in rows
        ]
