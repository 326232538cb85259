"""`audit log`, `audit export` and `audit extract` on real databases (issue 3, part 5)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ats.adapters.db.models import AuditEntryRow, AuditEventRow
from ats.clock import ManualClock
from ats.domain.audit import EXPORT_MADE
from ats.errors import InvalidInput, NotFound
from ats.service import audit_reports, queries
from ats.service.app import App
from ats.service.audit_reports import COLUMNS, AuditFilters
from ats.service.commands import Apply, FireTrigger

AN = ("An Peeters", "an.peeters@example.org")
BO = ("Bo Janssens", "bo.janssens@example.org")
STAFF = ("recruiter:els.claes", "selor:jan.wouters", "recruiter:marc.dubois")


@dataclass(frozen=True)
class Story:
    """Three candidacies on three vacancies of two services, moved by three staff members."""

    an_sec: int  # An on DVZ-SEC-W1: apply, screen, invite_to_selor, pass_selor
    bo_prot: int  # Bo on CGVS-PROT-W1: apply (local 1 July, 00:30), reject
    an_ret: int  # An again, on DVZ-RET-W1: apply, withdraw


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def apply(app: App, person: tuple[str, str], vacancy: str, language: str = "fr") -> int:
    name, email = person
    return int(app.handle(Apply(vacancy=vacancy, name=name, email=email, language=language)))


def fire(
    app: App,
    candidacy_id: int,
    trigger: str,
    actor: str,
    role: str,
    reason: str | None = None,
    **facts: Any,
) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=trigger,
            actor=actor,
            role=role,
            reason=reason,
            facts=facts,
        )
    )


@pytest.fixture
def story(app: App, clock: ManualClock) -> Story:
    els, jan, marc = STAFF
    clock.set(at("2021-06-28T07:00:00"))
    an_sec = apply(app, AN, "DVZ-SEC-W1")
    clock.set(at("2021-06-28T08:00:00"))
    fire(app, an_sec, "screen", els, "recruiter", diploma_level="secondary")
    clock.set(at("2021-06-29T08:00:00"))
    fire(
        app,
        an_sec,
        "invite_to_selor",
        els,
        "recruiter",
        selor_session_at="2021-07-10T09:00",
        selor_session_place="Selor, Brussel",
    )
    clock.set(at("2021-06-30T22:30:00"))  # 1 July, 00:30 in Brussels
    bo_prot = apply(app, BO, "CGVS-PROT-W1", language="nl")
    clock.set(at("2021-07-01T09:00:00"))
    fire(app, an_sec, "pass_selor", jan, "selor", selor_score=75)
    clock.set(at("2021-07-02T09:00:00"))
    fire(app, bo_prot, "reject", marc, "recruiter", reason="application incomplete")
    clock.set(at("2021-07-05T10:00:00"))
    an_ret = apply(app, AN, "DVZ-RET-W1")
    clock.advance(timedelta(hours=2))
    fire(app, an_ret, "withdraw", marc, "recruiter")
    return Story(an_sec=an_sec, bo_prot=bo_prot, an_ret=an_ret)


def keys(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(row["candidacy"], row["seq"]) for row in rows]


def listed(app: App, **filters: Any) -> list[tuple[int, int]]:
    return keys(audit_reports.entries(app, AuditFilters.parse(**filters)))


# -- the log -------------------------------------------------------------------------------


def test_the_unfiltered_log_lists_every_entry_by_time_then_candidacy_then_seq(
    app: App, story: Story
) -> None:
    """Eight transitions, oldest first, whatever candidacy they belong to."""
    s = story
    assert listed(app) == [
        (s.an_sec, 1),
        (s.an_sec, 2),
        (s.an_sec, 3),
        (s.bo_prot, 1),
        (s.an_sec, 4),
        (s.bo_prot, 2),
        (s.an_ret, 1),
        (s.an_ret, 2),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"candidacy": "bo_prot"}, [("bo_prot", 1), ("bo_prot", 2)]),
        ({"vacancy": "DVZ-SEC-W1"}, [("an_sec", 1), ("an_sec", 2), ("an_sec", 3), ("an_sec", 4)]),
        (
            {"service": "DVZ"},
            [
                ("an_sec", 1),
                ("an_sec", 2),
                ("an_sec", 3),
                ("an_sec", 4),
                ("an_ret", 1),
                ("an_ret", 2),
            ],
        ),
        ({"service": "CGVS"}, [("bo_prot", 1), ("bo_prot", 2)]),
        ({"actor": "recruiter:els.claes"}, [("an_sec", 2), ("an_sec", 3)]),
        ({"trigger": "apply"}, [("an_sec", 1), ("bo_prot", 1), ("an_ret", 1)]),
        ({"state": "screened"}, [("an_sec", 2), ("an_sec", 3)]),  # entered, then left
        # 30 June 22:30 UTC is 1 July in Brussels: local dates decide, both ends inclusive.
        ({"since": "2021-07-01", "until": "2021-07-01"}, [("bo_prot", 1), ("an_sec", 4)]),
        ({"until": "2021-06-30"}, [("an_sec", 1), ("an_sec", 2), ("an_sec", 3)]),
        ({"since": "2021-07-05"}, [("an_ret", 1), ("an_ret", 2)]),
        ({"service": "DVZ", "trigger": "apply"}, [("an_sec", 1), ("an_ret", 1)]),
        ({"actor": "recruiter:marc.dubois", "state": "rejected"}, [("bo_prot", 2)]),
        ({"actor": "nobody:at.all"}, []),
    ],
)
def test_each_filter_narrows_the_log_to_the_matching_entries(
    app: App, story: Story, filters: dict[str, Any], expected: list[tuple[str, int]]
) -> None:
    """Candidacy, vacancy, service, actor, trigger, state (from or to) and local period."""
    ids = {"an_sec": story.an_sec, "bo_prot": story.bo_prot, "an_ret": story.an_ret}
    if "candidacy" in filters:
        filters = {**filters, "candidacy": ids[filters["candidacy"]]}
    assert listed(app, **filters) == [(ids[name], seq) for name, seq in expected]


def test_the_limit_keeps_the_oldest_entries(app: App, story: Story) -> None:
    """--limit N: the first N entries in log order."""
    rows = audit_reports.entries(app, AuditFilters(), limit=2)
    assert keys(rows) == [(story.an_sec, 1), (story.an_sec, 2)]


def test_a_log_entry_carries_who_what_when_where_and_its_chain_links(
    app: App, story: Story
) -> None:
    """UTC and local time, workflow name, number and hash, request, process, both hashes."""
    rows = audit_reports.entries(app, AuditFilters(candidacy=story.an_sec))
    screen = rows[1]
    assert screen["at"] == "2021-06-28 10:00:00 CEST"
    assert screen["at_utc"] == "2021-06-28T08:00:00+00:00"
    assert (screen["actor"], screen["role"], screen["trigger"]) == (
        "recruiter:els.claes",
        "recruiter",
        "screen",
    )
    assert (screen["from"], screen["to"]) == ("applied", "screened")
    assert screen["facts"] == {"diploma_level": "secondary"}
    assert (screen["vacancy"], screen["service"]) == ("DVZ-SEC-W1", "DVZ")
    workflow = queries.workflow(app, "security-escort")
    assert (screen["workflow"], screen["workflow_version"], screen["workflow_hash"]) == (
        "security-escort",
        workflow["version"],
        workflow["hash"],
    )
    assert screen["process"] == app.process
    assert screen["prev_hash"] == rows[0]["hash"]
    assert screen["hash"] == queries.history(app, story.an_sec)[1]["hash"]
    assert screen["candidate_key"] == queries.candidacy(app, story.an_sec)["candidate"]["key"]
    assert set(screen) == set(COLUMNS)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"since": "28/06/2021"}, "since '28/06/2021': give a date as YYYY-MM-DD"),
        ({"until": "2021-02-30"}, "until '2021-02-30'"),
        ({"since": "20210628"}, "YYYY-MM-DD"),
        ({"since": "2021-07-02", "until": "2021-07-01"}, "until 2021-07-01 is before since"),
    ],
)
def test_bad_dates_and_backwards_periods_are_invalid_input(
    filters: dict[str, str], message: str
) -> None:
    """A filter that cannot be read is refused with a message naming it."""
    with pytest.raises(InvalidInput, match=message):
        AuditFilters.parse(**filters)


def test_unknown_vacancy_or_service_codes_are_refused_not_silently_empty(app: App) -> None:
    """A misspelt code is an error naming it, so an empty report always means 'no entries'."""
    with pytest.raises(InvalidInput, match=r"no service 'DZV'.*known: CGVS, DVZ"):
        audit_reports.entries(app, AuditFilters(service="DZV"))
    with pytest.raises(InvalidInput, match="no vacancy 'DVZ-SEC-W9'"):
        audit_reports.entries(app, AuditFilters(vacancy="DVZ-SEC-W9"))


# -- the export ----------------------------------------------------------------------------

PAYLOADS = ['=HYPERLINK("http://evil","x")', "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.fixture
def poisoned(app: App, clock: ManualClock) -> list[int]:
    """One rejected candidacy per formula payload, the payload as the rejection's reason."""
    ids = []
    for number, payload in enumerate(PAYLOADS):
        clock.advance(timedelta(minutes=5))
        candidacy_id = apply(app, (f"Person {number}", f"p{number}@example.org"), "DVZ-SEC-W1")
        fire(app, candidacy_id, "reject", "recruiter:els.claes", "recruiter", reason=payload)
        ids.append(candidacy_id)
    # An actor label can carry a payload as well; every text field is neutralised.
    candidacy_id = apply(app, ("Person X", "px@example.org"), "DVZ-SEC-W1")
    fire(app, candidacy_id, "withdraw", "=cmd|' /C calc'!A0", "recruiter")
    return ids


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """An empty directory for exports (the SQLite database lives beside it in tmp_path)."""
    directory = tmp_path / "exports"
    directory.mkdir()
    return directory


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, strict=True))


def test_csv_export_is_rfc4180_with_formulas_made_inert_and_a_matching_manifest(
    app: App, poisoned: list[int], exports: Path
) -> None:
    """csv.reader reads it back; every formula start gets a leading quote; sha256 and rows match."""
    out = exports / "audit.csv"
    result = audit_reports.export(app, AuditFilters(), fmt="csv", out=out, exporter="auditor:kim")
    data = out.read_bytes()
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "CRLF line ends only"

    rows = read_csv(out)
    header, body = rows[0], rows[1:]
    assert header == list(COLUMNS)
    assert all(len(row) == len(COLUMNS) for row in body)
    records = [dict(zip(header, row, strict=True)) for row in body]
    rejections = [r for r in records if r["trigger"] == "reject"]
    assert [r["reason"] for r in rejections] == ["'" + payload for payload in PAYLOADS]
    withdrawal = next(r for r in records if r["trigger"] == "withdraw")
    assert withdrawal["actor"] == "'=cmd|' /C calc'!A0"
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    assert not [cell for row in body for cell in row if cell.startswith(dangerous)]

    manifest_path = exports / "audit.csv.manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest == result.manifest
    assert manifest["rows"] == len(body) == 2 * len(PAYLOADS) + 2
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["format"] == "csv"
    assert manifest["exporter"] == "auditor:kim"
    assert manifest["filters"] == {}
    assert manifest["columns"] == list(COLUMNS)
    assert manifest["ats_version"]
    assert datetime.fromisoformat(manifest["created_at"]) == app.clock.now()
    assert sorted(p.name for p in exports.iterdir()) == ["audit.csv", "audit.csv.manifest.json"]


def test_jsonl_export_has_one_object_per_line_with_the_raw_values(
    app: App, poisoned: list[int], exports: Path
) -> None:
    """JSON Lines is not for spreadsheets: values stay as stored; the manifest still checks."""
    out = exports / "audit.jsonl"
    filters = AuditFilters.parse(trigger="reject", since="2021-06-28")
    audit_reports.export(app, filters, fmt="jsonl", out=out)
    lines = out.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["reason"] for r in records] == PAYLOADS
    assert all(list(r) == list(COLUMNS) for r in records)
    assert all(isinstance(r["facts"], dict) for r in records)
    manifest = json.loads((exports / "audit.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == len(records) == len(PAYLOADS)
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["filters"] == {"trigger": "reject", "since": "2021-06-28"}
    assert manifest["exporter"] == "cli"


def test_an_export_records_one_export_made_event_with_its_checksum(
    app: App, story: Story, exports: Path
) -> None:
    """The export is itself audited: who, as auditor, which file, format, rows, sha256, filters."""
    result = audit_reports.export(
        app,
        AuditFilters(service="DVZ"),
        fmt="csv",
        out=exports / "dvz.csv",
        exporter="auditor:kim",
        request_id="req-42",
    )
    with app.engine.connect() as connection:
        events = connection.execute(select(AuditEventRow.__table__)).mappings().all()
    made = [e for e in events if e["kind"] == EXPORT_MADE]
    assert len(made) == 1
    event = made[0]
    assert (event["actor"], event["role"], event["subject"]) == (
        "auditor:kim",
        "auditor",
        "dvz.csv",
    )
    assert event["details"] == {
        "format": "csv",
        "rows": 6,
        "sha256": result.manifest["sha256"],
        "filters": {"service": "DVZ"},
    }
    assert event["request_id"] == "req-42"


def test_an_export_refuses_to_overwrite_unless_forced(
    app: App, story: Story, exports: Path
) -> None:
    """An existing file (or manifest) is kept and nothing is recorded; --force replaces both."""
    out = exports / "audit.csv"
    out.write_text("keep me", encoding="utf-8")
    with pytest.raises(InvalidInput, match="exists; choose another --out or pass --force"):
        audit_reports.export(app, AuditFilters(), fmt="csv", out=out)
    assert out.read_text(encoding="utf-8") == "keep me"
    assert [p.name for p in exports.iterdir()] == ["audit.csv"]
    with app.engine.connect() as connection:
        kinds = connection.execute(select(AuditEventRow.__table__.c.kind)).scalars().all()
    assert EXPORT_MADE not in kinds

    lonely = exports / "other.csv"
    (exports / "other.csv.manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"other\.csv\.manifest\.json exists"):
        audit_reports.export(app, AuditFilters(), fmt="csv", out=lonely)
    assert not lonely.exists()

    result = audit_reports.export(app, AuditFilters(), fmt="csv", out=out, force=True)
    assert result.manifest["rows"] == 8
    assert out.read_text(encoding="utf-8").startswith("at,at_utc,")


def test_a_failed_export_leaves_no_file_and_records_nothing(
    app: App, story: Story, exports: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while writing removes the temporary file; no export event is committed."""

    def broken(handle: Any, fmt: str, rows: Any) -> int:
        handle.write("at,at_utc\r\nhalf a row")
        raise OSError("disk full")

    monkeypatch.setattr(audit_reports, "_write_rows", broken)
    with pytest.raises(OSError, match="disk full"):
        audit_reports.export(app, AuditFilters(), fmt="csv", out=exports / "audit.csv")
    assert list(exports.iterdir()) == []
    with app.engine.connect() as connection:
        kinds = connection.execute(select(AuditEventRow.__table__.c.kind)).scalars().all()
    assert EXPORT_MADE not in kinds


def test_bad_export_options_are_invalid_input(app: App, exports: Path) -> None:
    """Unknown format, a missing directory or a multi-line exporter: refused, nothing written."""
    with pytest.raises(InvalidInput, match="format 'xlsx'"):
        audit_reports.export(app, AuditFilters(), fmt="xlsx", out=exports / "a.xlsx")
    with pytest.raises(InvalidInput, match="does not exist"):
        audit_reports.export(app, AuditFilters(), fmt="csv", out=exports / "nope" / "a.csv")
    with pytest.raises(InvalidInput, match="exporter"):
        audit_reports.export(
            app, AuditFilters(), fmt="csv", out=exports / "a.csv", exporter="kim\nforged"
        )
    assert list(exports.iterdir()) == []


def test_neutralise_quotes_every_formula_start_and_nothing_else() -> None:
    """=, +, -, @, tab and CR at the start get a quote; elsewhere or absent, no change."""
    for payload in PAYLOADS:
        assert audit_reports.neutralise(payload) == "'" + payload
    for harmless in ["application incomplete", "a=b", " =1", "'=1", "", "2021-06-28"]:
        assert audit_reports.neutralise(harmless) == harmless


# -- the extract ---------------------------------------------------------------------------


def test_extract_by_email_shows_the_timeline_with_roles_and_never_a_staff_name(
    app: App, story: Story
) -> None:
    """Both of An's candidacies, in her language, roles instead of actors, no actor anywhere."""
    data = audit_reports.extract(app, AN[1])
    assert data["candidate"]["email"] == AN[1]
    assert [c["id"] for c in data["candidacies"]] == [story.an_sec, story.an_ret]
    timeline = data["timeline"]
    assert [(e["candidacy"], e["seq"]) for e in timeline] == [
        (story.an_sec, 1),
        (story.an_sec, 2),
        (story.an_sec, 3),
        (story.an_sec, 4),
        (story.an_ret, 1),
        (story.an_ret, 2),
    ]
    assert [e["role"] for e in timeline] == [
        "candidate",
        "recruiter",
        "recruiter",
        "selor",
        "candidate",
        "recruiter",
    ]
    assert all("actor" not in e for e in timeline)
    dump = json.dumps(data, ensure_ascii=False)
    for actor in [*STAFF, "els.claes", "jan.wouters", "marc.dubois"]:
        assert actor not in dump

    applied = queries.candidacy(app, story.an_ret)
    assert applied["candidate"]["language"] == "fr"
    first = timeline[0]
    assert first["from"] is None
    assert first["to"] == "Votre candidature a été reçue"
    assert first["to_state"] == "applied"
    assert first["vacancy_title"] == "Accompagnateur de sécurité à l'Office des Étrangers"
    assert first["at"] == "2021-06-28 09:00:00 CEST"
    assert timeline[-1]["to"] == "Votre candidature est clôturée"
    assert data["candidacies"][1]["status"] == "Votre candidature est clôturée"


def test_extract_by_key_equals_extract_by_email_and_covers_only_that_person(
    app: App, story: Story
) -> None:
    """The pseudonymous key finds the same person; Bo's extract holds only Bo's candidacy."""
    key = queries.candidacy(app, story.an_sec)["candidate"]["key"]
    assert audit_reports.extract(app, key) == audit_reports.extract(app, AN[1])
    bo = audit_reports.extract(app, BO[1])
    assert [c["id"] for c in bo["candidacies"]] == [story.bo_prot]
    assert [e["to"] for e in bo["timeline"]] == [
        "Uw sollicitatie is ontvangen",
        "Uw sollicitatie wordt niet verder behandeld",
    ]
    assert bo["timeline"][1]["reason"] == "application incomplete"


def test_extract_of_an_unknown_candidate_is_not_found(app: App, story: Story) -> None:
    """Neither an unknown email nor an unknown key finds anyone."""
    with pytest.raises(NotFound, match="no candidate"):
        audit_reports.extract(app, "nobody@example.org")
    with pytest.raises(NotFound, match="no candidate"):
        audit_reports.extract(app, "0123456789abcdef")


def test_audit_entries_carry_no_candidate_name_or_email(app: App, story: Story) -> None:
    """Every column of every audit entry is free of the candidates' names and emails."""
    with app.engine.connect() as connection:
        entries = connection.execute(select(AuditEntryRow.__table__)).mappings().all()
    assert len(entries) == 8
    personal = [value.lower() for person in (AN, BO) for value in person]
    for entry in entries:
        for column, value in entry.items():
            text = (json.dumps(value) if isinstance(value, dict) else str(value)).lower()
            for needle in personal:
                assert needle not in text, f"audit_entries.{column} holds {needle!r}"
