"""Errors a user of ATS can cause, each with a message that says what to do.

Every error carries the CLI exit code and the HTTP status it maps to, so the
interfaces translate them without knowing each class::

    ATSError                          exit 1
    ├── ConfigurationError            settings or data files are wrong (exit 2 is for usage)
    ├── InvalidInput                  400  a value is malformed (email, fact, language, ...)
    │   └── WorkflowInvalid           400  a workflow file breaks the language's rules
    ├── Unauthenticated               401  no valid token, session or password
    ├── TooManyAttempts               429  too many failed sign-ins; wait and retry
    ├── Forbidden                     403  authenticated, but not allowed to do this
    ├── NotFound                      404  no such candidacy, vacancy, workflow, ...
    ├── DuplicateApplication          409  the candidate already applied to the vacancy
    ├── CooldownActive                422  failed a Selor module recently; can apply from a date
    ├── TransitionRefused             403/422  role, state, guard or reason says no
    ├── ConflictError                 409  someone else moved the candidacy first
    ├── LegalHoldActive               409  a dispute is pending: the data may not be erased
    └── MigrationRefused              422  a workflow migration has unmapped states

Library errors (``transitions.MachineError``, ``sqlalchemy.exc.IntegrityError``)
are translated into these at the edge where they happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ATSError(Exception):
    """Root of every error ATS raises on purpose."""

    exit_code: int = 1
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": self.message}


class ConfigurationError(ATSError):
    """Settings or data files cannot be used; the message lists every bad key."""

    http_status = 500


class InvalidInput(ATSError):
    """A value given by a user is malformed."""

    http_status = 400


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, located as precisely as the parser allows."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class WorkflowInvalid(InvalidInput):
    """A workflow definition breaks the rules of the workflow language."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in workflow files:\n{lines}")

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "problems": [
                {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                for p in self.problems
            ],
        }


class Unauthenticated(ATSError):
    """Who is asking is unknown: log in or send a valid token."""

    http_status = 401


class Forbidden(ATSError):
    """Known, but not allowed: the message says which role or scope is missing."""

    http_status = 403


class NotFound(ATSError):
    """The thing asked for does not exist."""

    http_status = 404


class DuplicateApplication(ATSError):
    """One candidate, one candidacy per vacancy."""

    http_status = 409


class TransitionRefused(ATSError):
    """The trigger cannot be fired now; ``reasons`` says every why."""

    http_status = 422

    def __init__(self, message: str, reasons: Sequence[str], *, forbidden: bool = False) -> None:
        self.reasons = list(reasons)
        if forbidden:
            self.http_status = 403
        detail = "".join(f"\n  - {r}" for r in self.reasons)
        super().__init__(f"{message}{detail}")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "reasons": self.reasons}


class ConflictError(ATSError):
    """The candidacy changed since it was read; reload and try again."""

    http_status = 409


class LegalHoldActive(ATSError):
    """A candidacy is under legal hold (a dispute is pending): its data may not be erased."""

    http_status = 409


class CooldownActive(ATSError):
    """The candidate failed the Selor module this vacancy needs too recently."""

    http_status = 422


class TooManyAttempts(ATSError):
    """Too many failed sign-ins for this user or address; ``retry_after`` seconds to wait."""

    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MigrationRefused(ATSError):
    """A workflow migration would leave candidacies in states the new version lacks."""

    http_status = 422


def database_problem(exc: Exception) -> ConfigurationError:
    """A database error a user can meet (unreachable, not initialised), said without a traceback."""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
    if "no such table" in text or "does not exist" in text:
        return ConfigurationError(f"the database is not initialised ({text}): run `ats init`")
    return ConfigurationError(f"the database cannot be used: {text}")
