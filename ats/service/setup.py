"""`ats init`: migrate the database, then load the drive and the workflows, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ats.adapters.db.migrate import current_revision, upgrade
from ats.adapters.drive_file import read_hiring_drive
from ats.adapters.mail_templates import template_keys
from ats.adapters.workflow_files import read_workflow_files
from ats.domain.drive import HiringDrive
from ats.domain.workflow import LANGUAGES, Catalog, WorkflowDefinition
from ats.errors import Problem, WorkflowInvalid
from ats.service.app import App
from ats.service.handlers import LoadedWorkflow, load_drive, load_workflows
from ats.settings import Settings


@dataclass(frozen=True)
class InitReport:
    revision_before: str | None
    revision_after: str | None
    drive_changes: dict[str, int]
    workflows: list[LoadedWorkflow]


def catalog(settings: Settings, drive: HiringDrive | None = None) -> Catalog:
    """What workflow files may refer to: the drive's job functions and the templates on disk."""
    return Catalog(
        languages=LANGUAGES,
        template_keys=template_keys(settings.notifications_dir, LANGUAGES),
        job_functions=frozenset(f.code for f in drive.job_functions) if drive else None,
    )


def read_workflows(
    settings: Settings, drive: HiringDrive, paths: list[Path] | None = None
) -> list[WorkflowDefinition]:
    """Read and validate workflow files; every job function must have its workflow."""
    files = paths if paths is not None else sorted(settings.workflows_dir.glob("*.yaml"))
    definitions = read_workflow_files(files, catalog(settings, drive))
    if paths is None:
        names = {d.name for d in definitions}
        missing = [
            Problem(
                str(settings.hiring_drive_file),
                None,
                f"job_functions.{f.code}",
                f"workflow {f.workflow!r} has no file workflows/{f.workflow}.yaml",
            )
            for f in drive.job_functions
            if f.workflow not in names
        ]
        if missing:
            raise WorkflowInvalid(missing)
    return definitions


def initialise(app: App) -> InitReport:
    """Create or upgrade the schema (Alembic) and load drive and workflows."""
    settings = app.settings
    drive = read_hiring_drive(settings.hiring_drive_file)
    definitions = read_workflows(settings, drive)
    before = current_revision(app.engine)
    upgrade(app.engine)
    changes = load_drive(app, drive)
    sources = [
        (d, (settings.workflows_dir / f"{d.name}.yaml").read_text(encoding="utf-8"))
        for d in definitions
    ]
    loaded = load_workflows(app, sources)
    return InitReport(before, current_revision(app.engine), changes, loaded)
