"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

from ats.errors import ATSError

PROBLEM_BASE = "https://ats.example/problems/"


def problem_response(exc: ATSError, *, instance: str, status: int | None = None) -> JSONResponse:
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()
    code = status or exc.http_status
    body = {
        "type": PROBLEM_BASE + kind,
        "title": type(exc).__name__,
        "status": code,
        "detail": exc.message,
        "instance": instance,
        **{k: v for k, v in exc.to_dict().items() if k not in ("error", "message")},
    }
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(
        body, status_code=code, media_type="application/problem+json", headers=headers
    )
