"""One frozen settings object, read from ``config/ats.toml`` and ``ATS_*`` variables.

Settings are checked once at start-up; every bad key gets its own line in one
``ConfigurationError`` so an operator fixes them all in one go.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ats.errors import ConfigurationError

LANGUAGES = ("nl", "fr", "de", "en")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything ATS needs to know about where it runs."""

    home: Path
    database_url: str
    timezone: str = "Europe/Brussels"
    default_language: str = "nl"
    log_format: str = "auto"
    log_level: str = "info"
    sqlite_busy_timeout_ms: int = 5000
    public_url: str = "http://localhost:8000"  # where candidates look up their status
    mail_transport: str = "maildir"  # maildir (var/mail) | smtp | console
    mail_from: str = "Recruitment asylum and migration <no-reply@ats.example>"
    mail_dir: str = "var/mail"
    mail_language_fallback: str = "nl,fr,en"
    mail_max_attempts: int = 6
    mail_retry_seconds: int = 60
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None  # only from ATS_SMTP_PASSWORD, never from a file
    worker_relay_seconds: int = 10
    worker_sweep_seconds: int = 15
    worker_checkpoint_seconds: int = 3600
    selor_cooldown_months: int = 6  # who failed a Selor module waits this long to need it again
    audit_signing_key: str | None = None  # PEM file: Ed25519 private key that signs checkpoints
    audit_verify_key: str | None = None  # PEM file: the public key auditors verify with
    report_answer_days: int = 30  # the promised answer time: `ats report delays` flags longer waits
    # Retention (docs/privacy.md): months after a candidacy's final transition, by outcome.
    retention_rejected_months: int = 12
    retention_withdrawn_months: int = 12
    retention_hired_months: int = 24
    retention_other_months: int = 12  # any other final state a workflow may add
    talent_pool_months: int = 24  # consent to the talent pool keeps the file this long from it
    # The public careers site (docs/careers.md).
    hiring_drive: str = "config/hiring-drive.yaml"  # services, vacancies and their content
    uploads_dir: str = "var/uploads"  # CVs, under random names; never served as static files
    cv_max_kb: int = 5120  # the largest CV accepted, in KB
    apply_posts_per_hour: int = 20  # application posts accepted per client address and hour
    privacy_contact: str = "privacy@ats.example"  # who candidates ask about their data

    @property
    def workflows_dir(self) -> Path:
        return self.home / "workflows"

    @property
    def notifications_dir(self) -> Path:
        return self.home / "notifications"

    @property
    def hiring_drive_file(self) -> Path:
        path = Path(self.hiring_drive)
        return path if path.is_absolute() else self.home / path

    @property
    def uploads_folder(self) -> Path:
        path = Path(self.uploads_dir)
        return path if path.is_absolute() else self.home / path

    @property
    def signing_key_path(self) -> Path | None:
        return self._path(self.audit_signing_key)

    @property
    def verify_key_path(self) -> Path | None:
        return self._path(self.audit_verify_key)

    def _path(self, value: str | None) -> Path | None:
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else self.home / path

    @property
    def mail_folder(self) -> Path:
        path = Path(self.mail_dir)
        return path if path.is_absolute() else self.home / path

    @property
    def fallback_languages(self) -> tuple[str, ...]:
        return tuple(lang.strip() for lang in self.mail_language_fallback.split(","))

    def retention_months(self, outcome: str) -> int:
        """How long a candidacy that ended in ``outcome`` (a final state) is kept."""
        return {
            "rejected": self.retention_rejected_months,
            "withdrawn": self.retention_withdrawn_months,
            "hired": self.retention_hired_months,
        }.get(outcome, self.retention_other_months)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_KEYS = {f.name: f for f in fields(Settings) if f.name != "home"}
_SECRETS = {"smtp_password"}
_NUMBERS = {
    "sqlite_busy_timeout_ms": "milliseconds",
    "mail_max_attempts": "attempts",
    "mail_retry_seconds": "seconds",
    "smtp_port": "port",
    "worker_relay_seconds": "seconds",
    "worker_sweep_seconds": "seconds",
    "worker_checkpoint_seconds": "seconds",
    "selor_cooldown_months": "months",
    "report_answer_days": "days",
    "retention_rejected_months": "months",
    "retention_withdrawn_months": "months",
    "retention_hired_months": "months",
    "retention_other_months": "months",
    "talent_pool_months": "months",
    "cv_max_kb": "KB",
    "apply_posts_per_hour": "posts",
}


def default_database_url(home: Path) -> str:
    return f"sqlite:///{home / 'var' / 'ats.sqlite3'}"


def load_settings(
    home: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Read settings: defaults, then ``config/ats.toml``, then ``ATS_*`` variables."""
    env = os.environ if environ is None else environ
    root = Path(home or env.get("ATS_HOME") or Path.cwd()).resolve()
    path = config_file or Path(env.get("ATS_CONFIG") or root / "config" / "ats.toml")
    problems: list[str] = []
    raw: dict[str, object] = {}

    if path.exists():
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
        for key, value in document.items():
            if key not in _KEYS:
                problems.append(f"{path}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
            elif key in _SECRETS:
                problems.append(f"{path}: {key} is a secret; set ATS_{key.upper()} instead")
            else:
                raw[key] = value
    for key in _KEYS:
        variable = f"ATS_{key.upper()}"
        if variable in env:
            raw[key] = env[variable]

    values: dict[str, object] = {}
    for key, value in raw.items():
        if key in _NUMBERS:
            try:
                number = int(str(value))
            except ValueError:
                problems.append(f"{key}: must be a whole number ({_NUMBERS[key]}), got {value!r}")
                continue
            if number < 0 or (number == 0 and key != "sqlite_busy_timeout_ms"):
                problems.append(f"{key}: must be positive, got {number}")
            values[key] = number
        elif not isinstance(value, str) or not value:
            problems.append(f"{key}: must be a non-empty string, got {value!r}")
        else:
            values[key] = value

    values.setdefault("database_url", default_database_url(root))
    _check_choice(values, "default_language", LANGUAGES, problems)
    _check_choice(values, "log_format", LOG_FORMATS, problems)
    _check_choice(values, "log_level", LOG_LEVELS, problems)
    _check_choice(values, "mail_transport", ("maildir", "smtp", "console"), problems)
    _check_choice(values, "smtp_security", ("starttls", "tls", "none"), problems)
    for language in str(values.get("mail_language_fallback", "nl,fr,en")).split(","):
        if language.strip() not in LANGUAGES:
            problems.append(
                f"mail_language_fallback: {language.strip()!r} is not one of {LANGUAGES}"
            )
    url = str(values["database_url"])
    if not url.startswith(("sqlite:", "postgresql")):
        problems.append(
            f"database_url: use sqlite:///PATH or postgresql+psycopg://..., got {url.split(':')[0]!r}"
        )
    if "timezone" in values:
        try:
            ZoneInfo(str(values["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: unknown time zone {values['timezone']!r}")

    if problems:
        raise ConfigurationError("bad settings:\n" + "\n".join(f"  {p}" for p in problems))
    return Settings(home=root, **values)  # type: ignore[arg-type]


def _check_choice(
    values: dict[str, object], key: str, choices: tuple[str, ...], problems: list[str]
) -> None:
    if key in values and values[key] not in choices:
        problems.append(f"{key}: must be one of {', '.join(choices)}, got {values[key]!r}")
