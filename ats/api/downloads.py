"""The audit log as a download, shared by the API and the staff pages."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ats.service.app import App
from ats.service.audit_reports import AuditFilters, export


def audit_export_response(
    app: App, filters: AuditFilters, *, fmt: str, exporter: str
) -> FileResponse:
    """The filtered log as CSV or JSON Lines; the manifest's SHA-256 and row count in headers.

    Written to a temporary folder that is removed once sent (or at once if the export fails).
    """
    folder = Path(tempfile.mkdtemp(prefix="ats-export-"))
    target = folder / f"audit.{fmt}"
    try:
        result = export(app, filters, fmt=fmt, out=target, exporter=exporter)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        result.path,
        media_type="text/csv" if fmt == "csv" else "application/x-ndjson",
        filename=target.name,
        headers={
            "X-ATS-Rows": str(result.manifest["rows"]),
            "X-ATS-SHA256": str(result.manifest["sha256"]),
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
