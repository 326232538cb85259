"""Personal data on real databases: retention, erasure, legal holds, consent, access requests.

Retention runs on a ManualClock (files end, months pass, ``erase_due`` runs as the
worker would). Erasure is proven on a rich story told through the service layer:
an application with a phone number, mail deferred and refused by a real SMTP
server on loopback (its answers quote the address), mail written to a maildir
folder, free-text reasons and place facts naming the person, a Selor seat with
a remark, a legal hold placed and lifted, a refused reach by staff, and a
second candidate whose data must come through untouched. After the erasure
every text and JSON column of every table (found by ``sqlalchemy.inspect``, not
listed by hand) and every file of the mail folder is searched for the person's
name, email and phone.

Every test sets its own mail folder under ``tmp_path``: erasure deletes mail
files by Message-ID, and Message-IDs repeat across databases.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, MetaData, String, Table, delete, insert, inspect, select, update

from ats.adapters.db.models import CandidateLinkRow
from ats.adapters.db.store import (
    ATTEMPT,
    AUDIT,
    AUDIT_TEXT,
    CANDIDACY,
    CANDIDATE,
    EVENT,
    OUTBOX,
    TIMER,
)
from ats.adapters.mail import MaildirTransport, SmtpTransport, Transport
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.audit import ERASED
from ats.errors import InvalidInput, LegalHoldActive, NotFound, TransitionRefused
from ats.service import audit, privacy, queries, reports
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.handlers import add_months
from ats.service.outbox import relay
from ats.service.reports import ReportFilters
from ats.service.selection import SEAT, SessionPlan, assign, create_session
from ats.service.session_results import import_results
from ats.service.setup import initialise
from ats.settings import Settings
from tests.conftest import REPO, START, panel_decides, walk
from tests.support_smtp import SmtpServer, smtp_server

BRUSSELS = ZoneInfo("Europe/Brussels")
VACANCY = "DVZ-SEC-W1"  # security escort: selor_c sessions, text facts for both invitation places
OTHER_VACANCY = "CGVS-PROT-W1"
LINK = cast(Table, CandidateLinkRow.__table__)

# Staff, each named once: their names must never reach a candidate's access export.
RECRUITER = "recruiter:alice.dubois"
SELOR = "selor:marie.lambert"
PANEL = "panel:sofie.jacobs"
ADMIN = "admin:bart.claes"
STAFF = (RECRUITER, SELOR, PANEL, ADMIN, "selor:mallory.peeters")


@dataclass(frozen=True)
class Person:
    """A candidate as typed in, and how to spot them in any text."""

    name: str
    email: str
    phone: str

    @property
    def surname(self) -> str:
        return self.name.split()[-1]

    def found_in(self, text: str) -> set[str]:
        """Which of the person's identifiers ``text`` holds (case and phone spacing ignored)."""
        lowered = text.lower()
        hits = {
            label
            for label, needle in (
                ("name", self.name),
                ("surname", self.surname),
                ("email", self.email),
                ("email local part", self.email.partition("@")[0]),
            )
            if needle.lower() in lowered
        }
        digits = re.sub(r"\D", "", self.phone)[2:]  # without the +32 country code
        if digits in re.sub(r"[\s./()+-]", "", text):
            hits.add("phone")
        return hits


JORIS = Person("Joris Vanderstraeten", "joris.vdstraeten@example.org", "+32 470 55 66 77")
ELS = Person("Els Maes-Oosterlinck", "els.oosterlinck@example.org", "+32 486 11 22 33")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The suite's settings with a mail folder of this test's own."""
    return Settings(home=REPO, database_url=database_url, mail_dir=str(tmp_path / "mail"))


# -- arranging ---------------------------------------------------------------------------------


def apply(app: App, person: Person, vacancy: str = VACANCY) -> int:
    return int(
        app.handle(
            Apply(
                vacancy=vacancy,
                name=person.name,
                email=person.email,
                language="nl",
                phone=person.phone,
            )
        )
    )


def fire(
    app: App,
    candidacy_id: int,
    trigger: str,
    actor: str,
    *,
    reason: str | None = None,
    **facts: object,
) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=trigger,
            actor=actor,
            role=actor.partition(":")[0],
            reason=reason,
            facts=facts,
        )
    )


def end_as(app: App, candidacy_id: int, goal: str) -> None:
    """Fire the shortest chain of staff triggers from the initial state to ``goal``."""
    walk(app, candidacy_id, goal, actor="staff:retention-tests")
    assert queries.candidacy(app, candidacy_id)["state"] == goal


def person_number(number: int) -> Person:
    return Person(f"Retained Person{number}", f"retained.{number}@example.org", "")


def ended(app: App, number: int, goal: str = "rejected", vacancy: str = VACANCY) -> str:
    """A new candidate whose one candidacy ends in ``goal`` now; their key."""
    candidacy_id = apply(app, person_number(number), vacancy)
    end_as(app, candidacy_id, goal)
    return key_of(app, candidacy_id)


def key_of(app: App, candidacy_id: int) -> str:
    with app.engine.connect() as connection:
        return str(
            connection.execute(
                select(CANDIDATE.c.key)
                .join(CANDIDACY, CANDIDACY.c.candidate_id == CANDIDATE.c.id)
                .where(CANDIDACY.c.id == candidacy_id)
            ).scalar_one()
        )


def local_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=BRUSSELS).astimezone(UTC)


def months_after(start: datetime, months: int) -> datetime:
    """Noon in Brussels, ``months`` calendar months after ``start``'s local date."""
    return local_noon(add_months(start.astimezone(BRUSSELS).date(), months))


def erased(app: App, key: str) -> bool:
    with app.engine.connect() as connection:
        return (
            connection.execute(
                select(CANDIDATE.c.erased_at).where(CANDIDATE.c.key == key)
            ).scalar_one()
            is not None
        )


# -- observing ---------------------------------------------------------------------------------


def plain(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def text_columns(app: App) -> list[tuple[str, Table, list[Any]]]:
    """Every table of the live schema, reflected, with its text and JSON columns."""
    with app.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        metadata = MetaData()
        metadata.reflect(connection, only=names)
    assert len(names) >= 20, names
    return [
        (name, table, [c for c in table.columns if isinstance(c.type, String | JSON)])
        for name in names
        for table in [metadata.tables[name]]
    ]


def personal_data_in_database(app: App, person: Person) -> dict[str, set[str]]:
    """``table.column`` -> which of the person's identifiers some row of it holds."""
    found: dict[str, set[str]] = {}
    scanned = 0
    with app.engine.connect() as connection:
        for name, _, columns in text_columns(app):
            if not columns:
                continue
            for row in connection.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    scanned += 1
                    hits = person.found_in(plain(value)) if value is not None else set()
                    if hits:
                        found.setdefault(f"{name}.{column.name}", set()).update(hits)
    assert scanned > 100, "the scan read hardly anything: it would prove nothing"
    return found


def mail_texts(path: Path) -> list[str]:
    """A mail file as bytes on disk, and every header and part decoded (base64, QP, RFC 2047)."""
    data = path.read_bytes()
    texts = [data.decode("utf-8", "replace")]
    message = email.message_from_bytes(data, policy=email.policy.default)
    texts.extend(str(value) for value in message.values())
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return texts


def personal_data_in_mail(folder: Path, person: Person) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            for text in mail_texts(path):
                hits = person.found_in(text)
                if hits:
                    found.setdefault(path.name, set()).update(hits)
    return found


def mail_to(folder: Path, person: Person) -> dict[str, bytes]:
    """The files in the mail folder addressed to ``person``, by name."""
    files = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if person.email in str(message["To"]):
            files[path.name] = path.read_bytes()
    return files


def comparable(rows: Any) -> list[str]:
    return sorted(plain(dict(row)) for row in rows)


def rows_about(app: App, candidate_id: int) -> dict[str, list[str]]:
    """Every row that belongs to one candidate, table by table, for before/after comparison."""
    with app.engine.connect() as connection:
        candidacies = select(CANDIDACY.c.id).where(CANDIDACY.c.candidate_id == candidate_id)
        outbox = select(OUTBOX.c.id).where(OUTBOX.c.candidacy_id.in_(candidacies))
        queries_by_table = {
            "candidates": select(CANDIDATE).where(CANDIDATE.c.id == candidate_id),
            "candidacies": select(CANDIDACY).where(CANDIDACY.c.candidate_id == candidate_id),
            "audit_entries": select(AUDIT).where(AUDIT.c.candidacy_id.in_(candidacies)),
            "audit_texts": select(AUDIT_TEXT).where(AUDIT_TEXT.c.candidate_id == candidate_id),
            "outbox_messages": select(OUTBOX).where(OUTBOX.c.candidacy_id.in_(candidacies)),
            "outbox_attempts": select(ATTEMPT).where(ATTEMPT.c.outbox_id.in_(outbox)),
            "selection_seats": select(SEAT).where(SEAT.c.candidacy_id.in_(candidacies)),
            "timers": select(TIMER).where(TIMER.c.candidacy_id.in_(candidacies)),
        }
        return {
            name: comparable(connection.execute(query).mappings())
            for name, query in queries_by_table.items()
        }


def whole_database(app: App) -> dict[str, list[str]]:
    """Every row of every table, to show that a refused command changed nothing."""
    with app.engine.connect() as connection:
        return {
            name: comparable(connection.execute(select(table)).mappings())
            for name, table, _ in text_columns(app)
        }


def funnel(app: App) -> dict[str, Any]:
    return reports.funnel(app, ReportFilters()).to_dict()


# -- the story ---------------------------------------------------------------------------------

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=BRUSSELS)  # the story starts here
SATURDAY = date(2026, 3, 7)  # Selor tests on Saturdays
INTERVIEW = datetime(2026, 3, 20, 10, 0, tzinfo=BRUSSELS).astimezone(UTC).isoformat()


class SwitchableTransport:
    """The transport factory the app calls per relay: SMTP first, the maildir folder later."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.make: Callable[[], Transport] = self.maildir

    def maildir(self) -> Transport:
        return MaildirTransport(self.folder)

    def __call__(self) -> Transport:
        return self.make()


@dataclass
class Story:
    app: App
    clock: ManualClock
    mail: Path
    joris: int  # candidacy ids
    els: int
    joris_key: str
    els_key: str
    joris_id: int  # candidate ids
    els_id: int
    session: str


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def story(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Iterator[Story]:
    """Joris's application, told in full; Els applies beside him. Joris ends rejected."""
    folder = tmp_path / "mail"
    clock = ManualClock(MONDAY)
    transport = SwitchableTransport(folder)
    application = bootstrap(
        Settings(home=REPO, database_url=database_url, mail_dir=str(folder)),
        clock=clock,
        transport=transport,
    )
    initialise(application)
    try:
        yield tell(application, clock, transport, smtp)
    finally:
        application.close()


def tell(app: App, clock: ManualClock, transport: SwitchableTransport, smtp: SmtpServer) -> Story:
    joris = apply(app, JORIS)

    # The SMTP server first defers his confirmation, then refuses his next mail for good;
    # both answers quote his address, and both are kept (last_error, attempt log).
    transport.make = lambda: SmtpTransport(host=smtp.host, port=smtp.port, security="none")
    smtp.handler.answer_next(f"451 4.2.0 <{JORIS.email}>: mailbox busy, try again later")
    assert relay(app).deferred == 1
    fire(
        app,
        joris,
        "screen",
        RECRUITER,
        reason=f"diploma checked by phone with {JORIS.name} on {JORIS.phone}",
        diploma_level="secondary",
    )
    smtp.handler.answer_next(f"550 5.1.1 <{JORIS.email}>: no mailbox here by that name")
    assert relay(app).dead == 1
    transport.make = transport.maildir

    els = apply(app, ELS)
    fire(
        app,
        els,
        "screen",
        RECRUITER,
        reason=f"diploma of {ELS.name} checked",
        diploma_level="master",
    )
    code = create_session(
        app,
        SessionPlan(
            starts_at=datetime.combine(SATURDAY, time(9), tzinfo=BRUSSELS).astimezone(UTC),
            place="Selor, Bd. Bischoffsheim 15, Brussel",
            kind="computer_test",
            seats=2,
            vacancies=(VACANCY,),
        ),
        actor=SELOR,
    )
    assign(app, code, actor=SELOR, candidacies=[joris, els])
    session_at = queries.candidacy(app, joris)["facts"]["selor_session_at"]
    fire(
        app,
        joris,
        "reschedule_selor",
        SELOR,
        reason=f"{JORIS.name} uses a wheelchair: ground-floor room",
        selor_session_at=session_at,
        selor_session_place=f"Selor desk 4, ask for {JORIS.name} ({JORIS.phone})",
    )
    privacy.hold(
        app, joris, on=True, reason=f"appeal lodged by {JORIS.name}, {JORIS.email}", actor=ADMIN
    )
    privacy.hold(
        app, joris, on=False, reason=f"appeal withdrawn by phone ({JORIS.phone})", actor=ADMIN
    )
    with pytest.raises(TransitionRefused):  # Selor may not reject: an authorisation failure
        fire(app, joris, "reject", "selor:mallory.peeters", reason="no")

    clock.set(datetime.combine(SATURDAY, time(18), tzinfo=BRUSSELS))
    joris_key, els_key = key_of(app, joris), key_of(app, els)
    results = io.StringIO()
    csv.writer(results).writerows(
        [
            ("reference", "score", "passed", "remark"),
            (joris_key, "71", "yes", f"{JORIS.name} came late, reachable on {JORIS.phone}"),
            (els_key, "88", "yes", f"{ELS.name}: calm and precise"),
        ]
    )
    import_results(app, code, results.getvalue().encode(), actor=SELOR)
    for candidacy, who in ((joris, JORIS), (els, ELS)):
        fire(
            app,
            candidacy,
            "invite_to_interview",
            RECRUITER,
            interview_at=INTERVIEW,
            interview_place=f"Office 2.14, ask for {who.name}",
        )
    clock.advance(timedelta(days=1))
    assert relay(app).sent >= 8  # the deferred confirmation too: its backoff has passed
    # The panel's cards and the chair's motivation name him; the rejection mail is still
    # pending when he is erased.
    panel_decides(app, joris, False, f"{JORIS.name} ({JORIS.email}) did not convince the panel")

    with app.engine.begin() as connection:
        ids = dict(
            connection.execute(
                select(CANDIDATE.c.key, CANDIDATE.c.id).where(
                    CANDIDATE.c.key.in_([joris_key, els_key])
                )
            ).all()
        )
        connection.execute(  # a duplicate check that found them distinct: Els stays unnamed
            insert(LINK).values(
                candidate_id=ids[joris_key],
                other_id=ids[els_key],
                rule="name_birth_date",
                found_at=clock.now(),
                status="distinct",
            )
        )
    return Story(
        app=app,
        clock=clock,
        mail=transport.folder,
        joris=joris,
        els=els,
        joris_key=joris_key,
        els_key=els_key,
        joris_id=ids[joris_key],
        els_id=ids[els_key],
        session=code,
    )


# -- erasure -----------------------------------------------------------------------------------


def test_after_erasure_no_table_and_no_mail_file_holds_the_persons_name_email_or_phone(
    story: Story,
) -> None:
    """Every text/JSON column of every table and the mail folder are clean; the rest stands.

    Before: the same scan finds Joris in the candidate row, the sealed texts, the
    facts, the seat remark, the mail context, the SMTP answers and the mail files
    (so the scan can see him). After: nothing, while the audit log verifies, the
    funnel is unchanged, Els's rows and mail are byte for byte the same, and his
    pending rejection mail is never sent.
    """
    app = story.app
    columns = {f"{name}.{c.name}" for name, _, cols in text_columns(app) for c in cols}
    assert {
        "candidates.name",
        "candidates.email",
        "candidates.phone",
        "candidacies.facts",
        "candidacies.hold_reason",
        "audit_entries.reason",
        "audit_entries.facts",
        "audit_events.details",
        "audit_texts.reason",
        "audit_texts.facts",
        "outbox_messages.context",
        "outbox_messages.last_error",
        "outbox_attempts.detail",
        "selection_seats.remark",
        "timers.outcome",
    } <= columns

    before = personal_data_in_database(app, JORIS)
    assert {
        "candidates.name",
        "candidates.email",
        "candidates.phone",
        "candidacies.facts",
        "audit_texts.reason",
        "audit_texts.facts",
        "outbox_messages.last_error",
        "outbox_attempts.detail",
        "selection_seats.remark",
        "outbox_messages.context",
    } <= set(before), before
    assert not {"audit_entries.reason", "audit_entries.facts", "audit_events.details"} & set(
        before
    ), "the hashed audit records hold seals, never the texts"
    assert personal_data_in_mail(story.mail, JORIS), "his mail files are there to be erased"
    els_rows, els_mail = rows_about(app, story.els_id), mail_to(story.mail, ELS)
    els_found = personal_data_in_database(app, ELS)
    assert els_mail
    assert "selection_seats.remark" in els_found
    funnel_before = funnel(app)
    verified_before = audit.verify(app)
    assert verified_before.ok, verified_before.damage
    texts_before = len(rows_about(app, story.joris_id)["audit_texts"])

    erasure = privacy.erase(
        app, JORIS.email, reason=f"asked by {JORIS.name} in a letter", actor=ADMIN
    )

    assert erasure.candidate_key == story.joris_key
    assert erasure.candidacies == [story.joris]
    assert erasure.texts == texts_before > 0
    assert erasure.mail_file_errors == []
    assert personal_data_in_database(app, JORIS) == {}
    assert personal_data_in_mail(story.mail, JORIS) == {}
    verified = audit.verify(app)
    assert verified.ok, verified.damage
    assert (verified.entries, verified.chains) == (verified_before.entries, verified_before.chains)
    assert verified.events == verified_before.events + 1  # the erasure itself
    assert funnel(app) == funnel_before
    assert rows_about(app, story.els_id) == els_rows
    assert mail_to(story.mail, ELS) == els_mail
    assert personal_data_in_database(app, ELS) == els_found, "Els is all still there"

    # What remains of Joris: his key, states and dates, and texts shown as erased.
    history = queries.history(app, story.joris)
    assert [h["to"] for h in history][-1] == "rejected"
    assert history[-1]["reason"] == ERASED
    assert queries.candidacy(app, story.joris)["state"] == "rejected"
    with app.engine.connect() as connection:
        pending = connection.execute(
            select(OUTBOX.c.status, OUTBOX.c.last_error).where(
                OUTBOX.c.candidacy_id == story.joris, OUTBOX.c.template == "rejected"
            )
        ).one()
    assert pending.status == "dead"
    assert "erased" in pending.last_error
    files = sorted(p.name for p in story.mail.iterdir())
    assert relay(app).handled == 0, "nothing is owed to an erased person any more"
    assert sorted(p.name for p in story.mail.iterdir()) == files

    # His access export still answers, with nothing left that identifies him.
    export = privacy.access_data(app, story.joris_key)
    assert export["candidate"]["name"] == privacy.ERASED_NAME
    assert export["candidate"]["email"] is None
    assert export["retention"] is None
    assert JORIS.found_in(json.dumps(export, ensure_ascii=False, default=str)) == set()


def test_an_erasure_commits_on_every_database(app: App) -> None:
    """The smallest erasure: one rejected candidacy, erased on request, stays erased."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")

    erasure = privacy.erase(app, JORIS.email, reason="request", actor=ADMIN)

    assert erasure.candidacies == [candidacy]
    assert erased(app, key_of(app, candidacy))


def test_erasing_a_record_that_absorbed_a_merge_leaves_the_log_verifiable(app: App) -> None:
    """The merge event's sealed reason goes with the kept record's data; verify knows why."""
    from ats.service.duplicates import merge

    kept = apply(app, JORIS)
    other = apply(app, Person(JORIS.name, "j.vanderstraeten@example.org", None), "DVZ-RET-W1")
    for candidacy in (kept, other):
        fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    merge(
        app,
        keep=key_of(app, kept),
        merge=key_of(app, other),
        reason=f"{JORIS.name} applied twice",
        actor=ADMIN,
        role="admin",
    )

    privacy.erase(app, key_of(app, kept), reason="request", actor=ADMIN)

    report = audit.verify(app)
    assert report.ok, [str(d) for d in report.damage]
    assert personal_data_in_database(app, JORIS) == {}


def test_the_erasure_is_an_audit_event_about_the_key_with_the_person_cut_out_of_its_reason(
    app: App,
) -> None:
    """data.erased names candidate:KEY, the counts and grounds; the name typed in is scrubbed."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason=f"{JORIS.name} has no diploma")
    key = key_of(app, candidacy)

    privacy.erase(app, key, reason=f"letter from {JORIS.name.upper()}", actor=ADMIN, role="admin")

    with app.engine.connect() as connection:
        event = (
            connection.execute(select(EVENT).where(EVENT.c.kind == "data.erased")).mappings().one()
        )
    assert event["subject"] == f"candidate:{key}"
    assert (event["actor"], event["role"]) == (ADMIN, "admin")
    assert event["details"]["grounds"] == "request"
    assert event["details"]["candidacies"] == [candidacy]
    assert event["details"]["texts"] == 1
    assert event["details"]["reason"] == f"letter from {privacy.SCRUBBED}"
    assert audit.verify(app).ok


def test_an_erasure_reason_quoting_the_phone_differently_keeps_no_trace_of_it(app: App) -> None:
    """Staff type a phone number as they please; the hashed, unerasable record must not keep it."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "withdraw", RECRUITER)

    privacy.erase(
        app, JORIS.email, reason="phoned in from +32470556677 to be forgotten", actor=ADMIN
    )

    assert personal_data_in_database(app, JORIS) == {}


def test_an_erasure_counts_only_the_mail_files_it_removed(app: App) -> None:
    """Mail never relayed has no file: erasing reports 0 files removed, not one per message."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    assert not app.settings.mail_folder.exists() or not any(app.settings.mail_folder.iterdir())

    erasure = privacy.erase(app, JORIS.email, reason="request", actor=ADMIN)

    assert erasure.messages == 2
    assert erasure.mail_files == 0


# -- retention on the simulated clock ----------------------------------------------------------


def test_a_file_rejected_thirteen_months_ago_is_erased_and_one_rejected_eleven_months_ago_is_not(
    app: App, clock: ManualClock
) -> None:
    """The daily run erases exactly the files past retention_rejected_months (12)."""
    old = ended(app, 1)
    clock.advance(timedelta(days=61))
    recent = ended(app, 2)
    recent_end = clock.now()
    clock.set(months_after(START, 13))

    run = privacy.erase_due(app)

    assert (run.erased, run.held, run.failed) == ([old], [], {})
    assert erased(app, old)
    assert not erased(app, recent)
    retention = privacy.retention_of(app, recent)
    assert retention.due_on == add_months(recent_end.astimezone(BRUSSELS).date(), 12)
    assert retention.grounds.startswith("rejected DVZ-SEC-W1 on")
    assert privacy.erase_due(app).erased == [], "a second run finds nothing more"
    assert audit.verify(app).ok


def test_a_file_falls_due_on_the_local_day_its_period_ends_and_not_the_day_before(
    app: App, clock: ManualClock
) -> None:
    """Rejected at 00:30 Brussels (22:30 UTC the day before): the Brussels date counts."""
    clock.set(datetime(2021, 6, 28, 22, 30, tzinfo=UTC))  # 29 June, 00:30 in Brussels
    key = ended(app, 1)
    assert privacy.retention_of(app, key).due_on == date(2022, 6, 29)

    clock.set(local_noon(date(2022, 6, 28)))
    assert privacy.due(app, within_days=0) == []
    assert [r.candidate_key for r in privacy.due(app, within_days=1)] == [key]
    assert privacy.erase_due(app).erased == []

    clock.set(local_noon(date(2022, 6, 29)))
    assert privacy.erase_due(app).erased == [key]


def test_a_held_file_is_kept_past_its_date_and_erased_once_the_hold_is_lifted(
    app: App, clock: ManualClock
) -> None:
    """A legal hold beats retention; the run reports it as held, and erasure is refused."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    key = key_of(app, candidacy)
    assert privacy.hold(
        app, candidacy, on=True, reason="appeal at the Council of State", actor=ADMIN
    )
    assert not privacy.hold(app, candidacy, on=True, reason="again", actor=ADMIN), "already held"
    clock.set(months_after(START, 13))

    listed = privacy.due(app, within_days=0)
    assert [(r.candidate_key, r.held_candidacies) for r in listed] == [(key, (candidacy,))]
    run = privacy.erase_due(app)
    assert (run.erased, run.held, run.failed) == ([], [key], {})
    assert not erased(app, key)
    with pytest.raises(LegalHoldActive, match="ats gdpr hold"):
        privacy.erase(app, key, reason="request", actor=ADMIN)

    assert privacy.hold(app, candidacy, on=False, reason="appeal dismissed", actor=ADMIN)
    run = privacy.erase_due(app)
    assert (run.erased, run.held) == ([key], [])
    assert erased(app, key)
    assert audit.verify(app).ok


def test_withdrawn_files_are_kept_twelve_months_and_hired_ones_twenty_four(
    app: App, clock: ManualClock
) -> None:
    """retention_withdrawn_months and retention_hired_months, from the final transition."""
    withdrawn = ended(app, 1, "withdrawn")
    hired = ended(app, 2, "hired")
    assert privacy.retention_of(app, hired).due_on == add_months(START.date(), 24)

    clock.set(months_after(START, 13))
    assert privacy.erase_due(app).erased == [withdrawn]

    clock.set(months_after(START, 23))
    assert privacy.erase_due(app).erased == []

    clock.set(months_after(START, 25))
    assert privacy.erase_due(app).erased == [hired]
    assert audit.verify(app).ok


def test_talent_pool_consent_keeps_a_file_longer_and_its_withdrawal_ends_that(
    app: App, clock: ManualClock
) -> None:
    """Consent keeps the file talent_pool_months (24) from the day given; withdrawn, policy rules."""
    keeps = ended(app, 1)
    changes_mind = ended(app, 2)
    clock.set(months_after(START, 6))
    until = privacy.consent(app, keeps, given=True, actor=ADMIN)
    assert until == add_months(add_months(START.date(), 6), 24)
    privacy.consent(app, changes_mind, given=True, actor=ADMIN)
    assert privacy.consent(app, changes_mind, given=False, actor=ADMIN) is None
    assert privacy.retention_of(app, keeps).consent_until == until

    clock.set(months_after(START, 13))
    assert privacy.erase_due(app).erased == [changes_mind]

    clock.set(local_noon(until) - timedelta(days=1))
    assert privacy.erase_due(app).erased == []
    clock.set(local_noon(until))
    assert privacy.erase_due(app).erased == [keeps]


def test_an_open_candidacy_is_never_due_even_beside_long_ended_ones(
    app: App, clock: ManualClock
) -> None:
    """Still applied after five years, or one open candidacy beside a rejected one: kept."""
    waiting = apply(app, person_number(1))
    both = apply(app, person_number(2))
    fire(app, both, "reject", RECRUITER, reason="no diploma")
    apply(app, person_number(2), OTHER_VACANCY)  # the same person, still in the running
    clock.set(months_after(START, 60))

    assert privacy.due(app, within_days=365) == []
    assert privacy.erase_due(app).erased == []
    for candidacy in (waiting, both):
        retention = privacy.retention_of(app, key_of(app, candidacy))
        assert retention.due_on is None
        assert "still open" in retention.grounds


def test_a_person_with_two_ended_candidacies_is_kept_until_the_later_period_ends(
    app: App, clock: ManualClock
) -> None:
    """Rejected now, withdrawn from another vacancy later: the later end counts."""
    first = apply(app, person_number(1))
    fire(app, first, "reject", RECRUITER, reason="no diploma")
    clock.set(months_after(START, 3))
    second = apply(app, person_number(1), OTHER_VACANCY)
    fire(app, second, "withdraw", RECRUITER)
    key = key_of(app, first)
    assert privacy.retention_of(app, key).due_on == add_months(START.date(), 15)

    clock.set(months_after(START, 14))
    assert privacy.erase_due(app).erased == []
    clock.set(months_after(START, 15))
    assert privacy.erase_due(app).erased == [key]


# -- refusals ------------------------------------------------------------------------------------


def _open(app: App) -> str:
    apply(app, JORIS)
    return JORIS.email


def _held(app: App) -> str:
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    privacy.hold(app, candidacy, on=True, reason="appeal pending", actor=ADMIN)
    return JORIS.email


def _erased_already(app: App) -> str:
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    key = key_of(app, candidacy)
    privacy.erase(app, key, reason="first request", actor=ADMIN)
    return key


def _unknown(app: App) -> str:
    apply(app, JORIS)
    return "0123456789abcdef"


def _ended(app: App) -> str:
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    return JORIS.email


@pytest.mark.parametrize(
    ("arrange", "reason", "error", "says"),
    [
        pytest.param(_open, "request", InvalidInput, "withdraw or reject it first", id="open"),
        pytest.param(_held, "request", LegalHoldActive, "under legal hold", id="held"),
        pytest.param(_erased_already, "again", InvalidInput, "already erased", id="twice"),
        pytest.param(_unknown, "request", NotFound, "give the candidate key", id="unknown"),
        pytest.param(_ended, "   ", InvalidInput, "--reason", id="empty-reason"),
        pytest.param(_ended, "x" * 2001, InvalidInput, "--reason", id="long-reason"),
    ],
)
def test_a_refused_erasure_says_why_and_changes_nothing(
    app: App,
    request: pytest.FixtureRequest,
    arrange: Callable[[App], str],
    reason: str,
    error: type[Exception],
    says: str,
) -> None:
    """Open, held, erased already, unknown, no reason: a clear error, every table unchanged."""
    ref = arrange(app)
    before = whole_database(app)

    with pytest.raises(error, match=re.escape(says)):
        privacy.erase(app, ref, reason=reason, actor=ADMIN)

    assert whole_database(app) == before
    assert audit.verify(app).ok


def test_a_hold_on_an_unknown_or_erased_candidacy_is_refused(app: App) -> None:
    """No candidacy: NotFound; erased: nothing left to hold; a hold needs a reason."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "reject", RECRUITER, reason="no diploma")
    with pytest.raises(InvalidInput, match="--reason"):
        privacy.hold(app, candidacy, on=True, reason=" ", actor=ADMIN)
    with pytest.raises(NotFound):
        privacy.hold(app, candidacy + 99, on=True, reason="appeal", actor=ADMIN)
    privacy.erase(app, JORIS.email, reason="request", actor=ADMIN)
    before = whole_database(app)

    with pytest.raises(InvalidInput, match="nothing left to hold"):
        privacy.hold(app, candidacy, on=True, reason="appeal", actor=ADMIN)

    assert whole_database(app) == before


# -- tampering with the sealed texts -------------------------------------------------------------


def _texts_row(app: App, *, entry: bool = True) -> dict[str, Any]:
    """The newest audit_texts row behind an audit entry (or behind an event)."""
    column = AUDIT_TEXT.c.entry_id if entry else AUDIT_TEXT.c.event_id
    with app.engine.connect() as connection:
        return dict(
            connection.execute(
                select(AUDIT_TEXT).where(column.is_not(None)).order_by(AUDIT_TEXT.c.id.desc())
            )
            .mappings()
            .first()
            or {}
        )


def _sealed_story(app: App) -> int:
    """A candidacy with a sealed reason and a sealed place fact, and a hold placed on it."""
    candidacy = apply(app, JORIS)
    fire(app, candidacy, "screen", RECRUITER, reason="checked", diploma_level="bachelor")
    fire(
        app,
        candidacy,
        "invite_to_selor",
        RECRUITER,
        reason=f"invite {JORIS.name}",
        selor_session_at="2031-07-24T07:00:00+00:00",
        selor_session_place=f"Room 1, ask for {JORIS.name}",
    )
    privacy.hold(app, candidacy, on=True, reason=f"dispute with {JORIS.name}", actor=ADMIN)
    assert audit.verify(app).ok
    return candidacy


def _change_texts(app: App, row_id: int, **values: object) -> None:
    with app.engine.begin() as connection:
        connection.execute(update(AUDIT_TEXT).where(AUDIT_TEXT.c.id == row_id).values(**values))


@pytest.mark.parametrize(
    ("change", "damage"),
    [
        pytest.param(
            lambda row: {"reason": "invite someone else"}, "kept reason was altered", id="reason"
        ),
        pytest.param(
            lambda row: {"facts": {"selor_session_place": "Room 2"}},
            "kept fact 'selor_session_place' was altered",
            id="fact",
        ),
        pytest.param(lambda row: {"salt": "00" * 16}, "kept reason was altered", id="salt"),
    ],
)
def test_altering_a_kept_audit_text_is_damage_that_verify_names(
    app: App, change: Callable[[dict[str, Any]], dict[str, Any]], damage: str
) -> None:
    """The seal in the hashed entry no longer matches the text kept beside it."""
    candidacy = _sealed_story(app)
    row = _texts_row(app)
    _change_texts(app, row["id"], **change(row))

    report = audit.verify(app)

    assert not report.ok
    assert [(d.chain, d.seq) for d in report.damage] == [(f"candidacy {candidacy}", 3)]
    assert damage in report.damage[0].what
    assert f"audit_texts row {row['id']}" in report.damage[0].what


def test_deleting_kept_audit_texts_without_an_erasure_is_damage(app: App) -> None:
    """Texts gone while the person was never erased: someone deleted them behind ATS's back."""
    candidacy = _sealed_story(app)
    with app.engine.begin() as connection:
        connection.execute(delete(AUDIT_TEXT).where(AUDIT_TEXT.c.entry_id.is_not(None)))

    report = audit.verify(app)

    assert not report.ok
    assert [(d.chain, d.seq) for d in report.damage] == [(f"candidacy {candidacy}", 2)]
    assert "never erased" in report.damage[0].what


def test_altering_the_kept_reason_of_a_legal_hold_is_damage(app: App) -> None:
    """The hold event hashes the seal of its reason; a different text kept beside it is damage."""
    _sealed_story(app)
    row = _texts_row(app, entry=False)
    _change_texts(app, row["id"], reason="dispute with nobody in particular")

    assert not audit.verify(app).ok


def test_deleting_the_kept_reason_of_a_legal_hold_without_an_erasure_is_damage(app: App) -> None:
    """As for entries: sealed texts gone while the person was never erased is damage."""
    _sealed_story(app)
    row = _texts_row(app, entry=False)
    with app.engine.begin() as connection:
        connection.execute(delete(AUDIT_TEXT).where(AUDIT_TEXT.c.id == row["id"]))

    assert not audit.verify(app).ok


def test_removing_one_sealed_facts_text_without_an_erasure_is_damage(app: App) -> None:
    """The entry seals selor_session_place; its text vanishing from the kept row is damage."""
    _sealed_story(app)
    row = _texts_row(app)
    assert row["facts"]
    _change_texts(app, row["id"], facts={})

    assert not audit.verify(app).ok


# -- access requests -------------------------------------------------------------------------------


def test_the_access_export_holds_every_row_about_the_person_and_nothing_about_anyone_else(
    story: Story, tmp_path: Path
) -> None:
    """Table by table, each row about Joris is in his export; Els and the staff names are not."""
    app = story.app
    json_path, html_path = privacy.write_access_export(app, JORIS.email, tmp_path / "export")
    assert (json_path.name, html_path.name) == (
        f"access-{story.joris_key}.json",
        f"access-{story.joris_key}.html",
    )
    data = json.loads(json_path.read_text(encoding="utf-8"))
    html = html_path.read_text(encoding="utf-8")
    subjects = [f"candidate:{story.joris_key}", f"candidacy:{story.joris}"]
    with app.engine.connect() as connection:
        candidacies = list(
            connection.execute(
                select(CANDIDACY.c.id).where(CANDIDACY.c.candidate_id == story.joris_id)
            ).scalars()
        )
        entries = connection.execute(
            select(AUDIT.c.candidacy_id, AUDIT.c.seq).where(AUDIT.c.candidacy_id.in_(candidacies))
        ).all()
        texts = list(
            connection.execute(
                select(AUDIT_TEXT).where(AUDIT_TEXT.c.candidate_id == story.joris_id)
            ).mappings()
        )
        outbox = connection.execute(
            select(OUTBOX.c.candidacy_id, OUTBOX.c.template, OUTBOX.c.status).where(
                OUTBOX.c.candidacy_id.in_(candidacies)
            )
        ).all()
        seats = connection.execute(
            select(SEAT.c.candidacy_id, SEAT.c.seat_no, SEAT.c.score, SEAT.c.remark).where(
                SEAT.c.candidacy_id.in_(candidacies)
            )
        ).all()
        timers = connection.execute(
            select(TIMER.c.candidacy_id, TIMER.c.state, TIMER.c.kind, TIMER.c.status).where(
                TIMER.c.candidacy_id.in_(candidacies)
            )
        ).all()
        links = connection.execute(
            select(LINK.c.rule, LINK.c.status).where(
                (LINK.c.candidate_id == story.joris_id) | (LINK.c.other_id == story.joris_id)
            )
        ).all()
        events = list(
            connection.execute(
                select(EVENT.c.kind).where(EVENT.c.subject.in_(subjects)).order_by(EVENT.c.seq)
            ).scalars()
        )

    assert data["candidate"]["key"] == story.joris_key
    assert (data["candidate"]["name"], data["candidate"]["email"], data["candidate"]["phone"]) == (
        JORIS.name,
        JORIS.email,
        JORIS.phone,
    )
    assert [c["id"] for c in data["candidacies"]] == candidacies == [story.joris]
    assert (
        data["candidacies"][0]["facts"]["interview_place"] == f"Office 2.14, ask for {JORIS.name}"
    )
    assert sorted((e["candidacy"], e["seq"]) for e in data["timeline"]) == sorted(entries)
    shown_reasons = [e["reason"] for e in data["timeline"]] + [
        e["details"].get("reason") for e in data["events"]
    ]
    shown_facts = [f for e in data["timeline"] for f in e["facts"].values()]
    assert len(texts) >= 6
    for row in texts:  # every kept text is shown opened, none as a seal or as [erased]
        if row["reason"] is not None:
            assert row["reason"] in shown_reasons, row
        for text in row["facts"].values():
            assert text in shown_facts, row
    assert not [r for r in shown_reasons + shown_facts if str(r).startswith(("sealed:", ERASED))]
    assert sorted((m["candidacy"], m["template"], m["status"]) for m in data["emails"]) == sorted(
        outbox
    )
    assert all(m["text"] for m in data["emails"]), "each mail is shown as it reads"
    assert sorted(
        (s["candidacy"], s["seat"], s["score"], s["remark"]) for s in data["selection_seats"]
    ) == sorted(seats)
    assert [s["session"] for s in data["selection_seats"]] == [story.session]
    assert sorted((t["candidacy"], t["state"], t["kind"], t["status"]) for t in data["timers"]) == (
        sorted(timers)
    )
    assert len(timers) >= 2
    assert sorted((f["rule"], f["status"]) for f in data["duplicate_flags"]) == sorted(links)
    assert [e["kind"] for e in data["events"]] == events
    assert events.count("legal_hold") == 2
    assert "authorisation.failed" in events

    for page in (json_path.read_text(encoding="utf-8"), html):
        assert ELS.found_in(page) == set(), "another candidate's name, email or phone"
        assert story.els_key not in page
        for actor in STAFF:
            assert actor.partition(":")[2] not in page, f"staff member {actor} named"
        assert JORIS.name in page
    assert JORIS.email in html
    assert "Selor desk 4" in html


def test_the_access_page_escapes_what_people_typed(app: App, tmp_path: Path) -> None:
    """A name and a reason full of markup are shown as text, never run as script."""
    person = Person('<script>alert("x")</script> Peeters', "markup@example.org", "+32 2 555 00 11")
    candidacy = apply(app, person)
    fire(app, candidacy, "reject", RECRUITER, reason="<img src=x onerror=alert(1)> & co")

    json_path, html_path = privacy.write_access_export(app, person.email, tmp_path)

    html = html_path.read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Peeters" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in html
    assert '<html lang="nl">' in html
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["candidate"]["name"] == person.name
    assert data["timeline"][-1]["reason"] == "<img src=x onerror=alert(1)> & co"
