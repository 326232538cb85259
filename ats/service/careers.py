"""The public careers site: what it shows of the drive's vacancies, and online applications.

Everything here is public except what an applicant sends: the vacancy content
comes from config/hiring-drive.yaml (loaded into the catalogue by ``ats init``),
the selection steps from the vacancy's workflow. An online application is
checked field by field (every problem named with its field), its CV by content,
and only then opened as a candidacy through the same ``Apply`` command as any
other; the CV is written first and removed again if the candidacy is not.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import secrets
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, delete, func, insert, select

from ats.adapters.db.models import (
    DocumentRow,
    FormPostRow,
    JobFunctionRow,
    ServiceRow,
    VacancyRow,
    WaveRow,
)
from ats.adapters.status_links import secret_key
from ats.domain.drive import is_open
from ats.domain.workflow import LANGUAGES, FactSpec, WorkflowDefinition
from ats.errors import ATSError, InvalidInput, NotFound, TooManyAttempts
from ats.service.app import App
from ats.service.commands import Apply, Document
from ats.service.handlers import PHONE

VACANCY = cast(Table, VacancyRow.__table__)
SERVICE = cast(Table, ServiceRow.__table__)
FUNCTION = cast(Table, JobFunctionRow.__table__)
WAVE = cast(Table, WaveRow.__table__)
DOCUMENT = cast(Table, DocumentRow.__table__)
FORM_POST = cast(Table, FormPostRow.__table__)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
POST_WINDOW = timedelta(hours=1)
BRUSSELS = ZoneInfo("Europe/Brussels")
HIRED = "hired"  # the success state, by the convention the reports and retention share
# Domains applicants mistype most; an address one or two letters away gets a hint.
COMMON_DOMAINS = (  # nearest first on a tie: the big ones lead
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "yahoo.com",
    "telenet.be",
    "skynet.be",
    "proximus.be",
    "hotmail.be",
    "hotmail.fr",
    "outlook.be",
    "live.be",
    "live.com",
    "yahoo.fr",
    "icloud.com",
    "scarlet.be",
    "gmx.de",
    "web.de",
    "orange.fr",
    "protonmail.com",
)
# Real providers near a common domain: an address there is never "corrected".
KNOWN_DOMAINS = frozenset(
    (
        *COMMON_DOMAINS,
        "ymail.com",
        "mail.com",
        "email.com",
        "googlemail.com",
        "msn.com",
        "aol.com",
        "me.com",
        "mac.com",
        "gmx.com",
        "gmx.net",
        "gmx.be",
        "gmx.fr",
        "gmx.at",
        "gmx.ch",
        "live.fr",
        "live.nl",
        "live.de",
        "live.co.uk",
        "hotmail.nl",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "hotmail.co.uk",
        "outlook.fr",
        "outlook.de",
        "outlook.nl",
        "outlook.es",
        "outlook.it",
        "yahoo.be",
        "yahoo.nl",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.co.uk",
        "orange.be",
        "voo.be",
        "base.be",
        "belgacom.net",
        "kpnmail.nl",
        "ziggo.nl",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "wanadoo.fr",
        "t-online.de",
        "proton.me",
        "pm.me",
        "zoho.com",
    )
)


# What the form says about a bad field, in English; pages translate them (ats/web/careers.toml).
MESSAGES = {
    "required": "This field is required.",
    "name": "Give your name on one line, in at most 200 characters.",
    "email": "Enter a valid email address, for example name@example.be.",
    "email_hint": "Did you mean {hint}? Correct the address, or send the form again to keep it.",
    "language": "Choose one of the languages.",
    "phone": "Use digits, spaces and + ( ) . / - only.",
    "choice": "Choose one of the options.",
    "value": "This value is not accepted here; check it.",
    "cv_size": "The file is larger than {size} MB.",
    "cv_type": "Send a PDF or Word (.docx) document.",
}


class FormErrors(InvalidInput):
    """Some fields of the application form are wrong: ``fields`` says which, and why.

    Each field maps to a key of ``MESSAGES`` and the values of its placeholders,
    so a page can say it in the applicant's language.
    """

    http_status = 422

    def __init__(self, fields: Mapping[str, tuple[str, Mapping[str, str]]]) -> None:
        self.fields = dict(fields)
        super().__init__(
            "the application has problems: "
            + "; ".join(
                f"{name}: {MESSAGES[key].format(**values)}"
                for name, (key, values) in fields.items()
            )
        )


class VacancyClosed(ATSError):
    """The vacancy takes no applications (not yet open, or closed)."""

    http_status = 409


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it."""

    filename: str
    data: bytes


# -- what the site shows ---------------------------------------------------------------------


def today(app: App) -> date:
    return app.clock.now().astimezone(app.settings.zone).date()


def _words(value: Mapping[str, Any] | None, language: str) -> str:
    if not value:
        return ""
    return str(value.get(language) or value.get("en") or "")


def vacancies(app: App, language: str) -> list[dict[str, Any]]:
    """Every published vacancy (opened on or before today), newest wave first."""
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(
                VACANCY,
                SERVICE.c.name.label("service_name"),
                SERVICE.c.short.label("service_short"),
                SERVICE.c.url.label("service_url"),
                FUNCTION.c.title.label("function_title"),
                FUNCTION.c.workflow,
                FUNCTION.c.description.label("function_description"),
                FUNCTION.c.requirements,
                WAVE.c.title.label("wave_title"),
                WAVE.c.number.label("wave_number"),
                WAVE.c.opens_on.label("wave_opens_on"),
            )
            .join(SERVICE, SERVICE.c.code == VACANCY.c.service)
            .join(FUNCTION, FUNCTION.c.code == VACANCY.c.job_function)
            .join(WAVE, WAVE.c.code == VACANCY.c.wave)
            .order_by(WAVE.c.number.desc(), VACANCY.c.code)
        ).mappings()
        day = today(app)
        found = [_shown(dict(row), language, day) for row in rows]
    return [v for v in found if v["opens_on"] <= day]


def _shown(row: Mapping[str, Any], language: str, day: date) -> dict[str, Any]:
    opens_on = row["opens_on"] or row["wave_opens_on"]
    paragraphs = [
        text
        for text in (
            _words(row["function_description"], language),
            _words(row["description"], language),
        )
        if text
    ]
    requirements = row["requirements"] or {}
    return {
        "code": row["code"],
        "title": _words(row["title"], language),
        "service": row["service"],
        "service_name": _words(row["service_name"], language),
        "service_short": _words(row["service_short"], language),
        "service_url": row["service_url"],
        "job_function": row["job_function"],
        "function_title": _words(row["function_title"], language),
        "workflow": row["workflow"],
        "wave": row["wave"],
        "wave_title": _words(row["wave_title"], language),
        "track": row["track"],
        "target": row["target"],
        "opens_on": opens_on,
        "closes_on": row["closes_on"],
        "open": is_open(opens_on, row["closes_on"], day),
        "place": row["place"] or {},
        "employment_type": row["employment_type"] or "FULL_TIME",
        "description": paragraphs,
        "requirements": list(requirements.get(language) or requirements.get("en") or []),
    }


def filtered(
    rows: list[dict[str, Any]], chosen: Mapping[str, str]
) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, str]]]]:
    """The rows matching the chosen filters, and the choices each filter offers."""
    keys = {
        "service": ("service", "service_short"),
        "function": ("job_function", "function_title"),
        "wave": ("wave", "wave_title"),
        "place": ("locality", "locality"),
    }

    def value(row: dict[str, Any], field: str) -> str:
        return str(row["place"].get("locality", "")) if field == "locality" else str(row[field])

    options: dict[str, list[tuple[str, str]]] = {}
    for name, (code, label) in keys.items():
        seen = {value(r, code): value(r, label) for r in rows if value(r, code)}
        options[name] = sorted(seen.items(), key=lambda item: item[1].lower())
    options["status"] = [("open", "open"), ("closed", "closed")]
    shown = []
    for row in rows:
        if any(
            chosen.get(name) and value(row, code) != chosen[name]
            for name, (code, _label) in keys.items()
        ):
            continue
        status = chosen.get("status")
        if status in ("open", "closed") and (status == "open") != row["open"]:
            continue
        shown.append(row)
    return shown, options


def vacancy(app: App, code: str, language: str) -> dict[str, Any]:
    """One published vacancy with its steps and the facts the form asks; NotFound otherwise."""
    found = next((v for v in vacancies(app, language) if v["code"] == code), None)
    if found is None:
        raise NotFound(f"no vacancy {code[:40]!r}")
    definition = workflow(app, found["workflow"])
    return {
        **found,
        "steps": steps(definition, language),
        "confirms": bool(definition.notify_on_apply),  # a confirmation mail goes out
        "asks": [definition.facts[name] for name in definition.application_facts],
    }


def workflow(app: App, name: str) -> WorkflowDefinition:
    with app.unit_of_work() as uow:
        current = uow.workflows.current(name)
        if current is None:
            raise NotFound(f"workflow {name!r} is not loaded; run `ats init`")
        return app.registry.definition(uow, current["id"])


def steps(definition: WorkflowDefinition, language: str) -> list[str]:
    """The steps a candidate goes through to the job, in order, as candidates read them.

    The longest path from the initial state to ``hired`` (the success state by
    convention, as the reports count it), or the longest path of all where a
    workflow has no such state; self-loops (rescheduling) and the failure
    endings one step from the start (rejected, withdrawn) are left out. Each
    step is the state's candidate-facing ``public`` text (its label without one).
    """
    start = definition.initial_state
    failures = {
        spec.dest
        for spec in definition.transitions
        if start in spec.sources and definition.states[spec.dest].final
    }
    graph: dict[str, list[str]] = {name: [] for name in definition.states}
    for spec in definition.transitions:
        for source in spec.sources:
            if spec.dest not in (source, *failures, *graph[source]):
                graph[source].append(spec.dest)

    def rank(path: list[str]) -> tuple[bool, int]:
        return path[-1] == HIRED, len(path)

    def path_from(state: str, seen: frozenset[str]) -> list[str]:
        # Workflows have a dozen states: a plain search is fast and exact (no memo across paths).
        best = [state]
        for target in graph[state]:
            if target not in seen:
                candidate = [state, *path_from(target, seen | {target})]
                if rank(candidate) > rank(best):
                    best = candidate
        return best

    return [
        _words(definition.states[name].public, language)
        or _words(definition.states[name].label, language)
        for name in path_from(start, frozenset({start}))
    ]


def job_posting(
    v: Mapping[str, Any], *, url: str, language: str, zone: ZoneInfo = BRUSSELS
) -> dict[str, Any]:
    """schema.org JobPosting for one vacancy, as job search engines read it.

    ``validThrough`` is the end of the closing day where the drive runs (its UTC
    offset changes with summer time).
    """
    place = v["place"]
    description = "".join(f"<p>{_html(p)}</p>" for p in v["description"])
    if v["requirements"]:
        description += "<ul>" + "".join(f"<li>{_html(r)}</li>" for r in v["requirements"]) + "</ul>"
    posting: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": v["title"],
        "description": description or _html(v["title"]),
        "identifier": {"@type": "PropertyValue", "name": v["service_name"], "value": v["code"]},
        "datePosted": v["opens_on"].isoformat(),
        "employmentType": v["employment_type"],
        "hiringOrganization": {
            "@type": "Organization",
            "name": v["service_name"],
            **({"sameAs": v["service_url"]} if v["service_url"] else {}),
        },
        "jobLocation": {
            "@type": "Place",
            "address": {
                "@type": "PostalAddress",
                "streetAddress": place.get("street", ""),
                "postalCode": place.get("postal_code", ""),
                "addressLocality": place.get("locality", ""),
                **({"addressRegion": place["region"]} if place.get("region") else {}),
                "addressCountry": "BE",
            },
        },
        "directApply": True,
        "url": url,
        "inLanguage": language,
    }
    if v["closes_on"] is not None:
        end = datetime.combine(v["closes_on"], time(23, 59, 59), tzinfo=zone)
        posting["validThrough"] = end.isoformat()
    if v["target"]:
        posting["totalJobOpenings"] = v["target"]
    return posting


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- applying --------------------------------------------------------------------------------


def suggestion(email: str) -> str | None:
    """A likely intended address when the domain is one or two slips from a common one."""
    local, _, domain = email.rpartition("@")
    domain = domain.lower()
    if not local or domain in KNOWN_DOMAINS:
        return None
    distance, nearest = min((_slips(domain, known), known) for known in COMMON_DOMAINS)
    return f"{local}@{nearest}" if distance <= (1 if len(domain) < 8 else 2) else None


def _slips(a: str, b: str) -> int:
    """Typing slips from ``a`` to ``b``: letters added, dropped, changed or swapped."""
    previous, current = list(range(len(b) + 1)), [0] * (len(b) + 1)
    before: list[int] = []
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[len(b)]


def sniff(data: bytes) -> str | None:
    """PDF or DOCX by content (never by the file's name); None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names or "word/document.xml" not in names:
                return None
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > 64 * 1024:  # a real one is a few KB; do not inflate a bomb
                return None
            types = archive.read(info)
    # Whatever stops the archive from being read says it is no Word document: a broken
    # archive or member (BadZipFile, zlib.error, OSError), a missing member (KeyError),
    # encryption (RuntimeError), an unknown compression method (NotImplementedError).
    except (zipfile.BadZipFile, zlib.error, KeyError, OSError, RuntimeError, NotImplementedError):
        return None
    return DOCX if b"wordprocessingml.document.main+xml" in types else None


def _filename(name: str) -> str:
    """The sent file name as a recruiter may see it: no path, no control characters."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(c for c in base if c.isprintable()).strip()[:200]
    return cleaned or "cv"


def count_post(app: App, form: str, address: str) -> None:
    """Count a post of ``form`` from ``address``; TooManyAttempts past the hourly limit."""
    keyed = hmac.new(
        secret_key(app.settings.home / "var"), f"{form}:{address}".encode(), hashlib.sha256
    ).hexdigest()
    now = app.clock.now()
    since = now - POST_WINDOW
    limit = app.settings.apply_posts_per_hour
    with app.engine.begin() as connection:
        count, oldest = connection.execute(
            select(func.count(), func.min(FORM_POST.c.at)).where(
                FORM_POST.c.form == form, FORM_POST.c.address == keyed, FORM_POST.c.at >= since
            )
        ).one()
        if count >= limit:
            wait = max(1, int((oldest + POST_WINDOW - now).total_seconds()) + 1)
            raise TooManyAttempts(
                f"too many applications sent from this address; try again in "
                f"{(wait + 59) // 60} minute(s)",
                retry_after=wait,
            )
        connection.execute(insert(FORM_POST).values(form=form, address=keyed, at=now))
        connection.execute(delete(FORM_POST).where(FORM_POST.c.at < since))


def check(
    app: App, v: Mapping[str, Any], fields: Mapping[str, str], cv: Upload | None
) -> tuple[Apply, Upload, str]:
    """The application as a command, the CV and its media type; FormErrors names each bad field."""
    errors: dict[str, tuple[str, Mapping[str, str]]] = {}
    required: tuple[str, Mapping[str, str]] = ("required", {})
    name = fields.get("name", "").strip()
    if not name:
        errors["name"] = required
    elif len(name) > 200 or any(c in name for c in "\r\n\t\x00"):
        errors["name"] = ("name", {})
    email = fields.get("email", "").strip()
    if not email:
        errors["email"] = required
    else:
        try:
            email = (
                validate_email(email, check_deliverability=False, allow_smtputf8=False).ascii_email
                or email
            )
        except EmailNotValidError:
            errors["email"] = ("email", {})
        else:
            hint = suggestion(email)
            checked = fields.get("email_checked", "").strip().lower()
            if hint and checked != fields.get("email", "").strip().lower():
                errors["email"] = ("email_hint", {"hint": hint})
    language = fields.get("language", "")
    if language not in LANGUAGES:
        errors["language"] = ("language", {})
    phone = fields.get("phone", "").strip() or None
    if phone is not None and not PHONE.match(phone):
        errors["phone"] = ("phone", {})
    facts: dict[str, object] = {}
    for spec in v["asks"]:
        raw = fields.get(f"fact.{spec.name}", "").strip()
        if not raw:
            errors[f"fact.{spec.name}"] = required
            continue
        try:
            facts[spec.name] = spec.parse(raw)
        except InvalidInput:
            chosen = spec.type in ("choice", "boolean")
            errors[f"fact.{spec.name}"] = ("choice" if chosen else "value", {})
    media_type = None
    limit = app.settings.cv_max_kb * 1024
    if cv is None or not cv.data:
        errors["cv"] = required
    elif len(cv.data) > limit:
        errors["cv"] = ("cv_size", {"size": size_text(limit)})
    else:
        media_type = sniff(cv.data)
        if media_type is None:
            errors["cv"] = ("cv_type", {})
    if errors or cv is None or media_type is None:
        raise FormErrors(errors)
    command = Apply(
        vacancy=v["code"],
        name=name,
        email=email,
        language=language,
        phone=phone,
        facts=facts,
    )
    return command, cv, media_type


def apply_online(
    app: App, code: str, language: str, fields: Mapping[str, str], cv: Upload | None
) -> int:
    """Open a candidacy from the public form; nothing is kept when anything is refused."""
    v = vacancy(app, code, language)
    if not v["open"]:
        closed = v["closes_on"].isoformat() if v["closes_on"] else "—"
        raise VacancyClosed(f"vacancy {code} closed on {closed}; it takes no applications")
    command, cv, media_type = check(app, v, fields, cv)
    folder = app.settings.uploads_folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = secrets.token_hex(16)
    path = folder / stored
    _write_private(path, cv.data)
    document = Document(
        kind="cv",
        stored_name=stored,
        filename=_filename(cv.filename),
        media_type=media_type,
        size=len(cv.data),
        sha256=hashlib.sha256(cv.data).hexdigest(),
    )
    try:
        return int(app.handle(replace(command, document=document)))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def documents(app: App, candidacy_id: int) -> list[dict[str, Any]]:
    """The files sent with a candidacy, oldest first (no content)."""
    with app.engine.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                select(DOCUMENT)
                .where(DOCUMENT.c.candidacy_id == candidacy_id)
                .order_by(DOCUMENT.c.id)
            ).mappings()
        ]


def document_file(app: App, candidacy_id: int, document_id: int) -> tuple[dict[str, Any], Path]:
    """One document of a candidacy and where its file is; NotFound if either is missing."""
    found = next((d for d in documents(app, candidacy_id) if d["id"] == document_id), None)
    path = app.settings.uploads_folder / found["stored_name"] if found else None
    if found is None or path is None or not path.is_file():
        raise NotFound(f"no document {document_id} for candidacy {candidacy_id}")
    return found, path


def answer_by(app: App, v: Mapping[str, Any]) -> date:
    """When the applicant hears back at the latest: the promised answer time after closing."""
    start = v["closes_on"] or today(app)
    return max(start, today(app)) + timedelta(days=app.settings.report_answer_days)


def fact_field(spec: FactSpec, language: str) -> dict[str, Any]:
    """A fact as the form asks it."""
    return {
        "name": f"fact.{spec.name}",
        "type": spec.type,
        "label": _words(spec.label, language) or spec.name,
        "choices": list(spec.choices),
        "min": spec.minimum,
        "max": spec.maximum,
    }


def size_text(size: int) -> str:
    """A size limit in MB as people read it: 5, 0.5, 0.0625 (the unit is in the message)."""
    return f"{size / (1024 * 1024):.3g}"
