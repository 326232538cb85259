"""`ats audit log | export | extract` as a subprocess: output, files and exit codes."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from tests.e2e.conftest import Ats

EMAIL = "an.peeters@example.org"
ACTOR = "recruiter:els.claes"
FORMULA = '=HYPERLINK("http://evil","x")'


def test_audit_log_export_and_extract_through_the_cli(cli: Ats, tmp_path: Path) -> None:
    """The log lists both entries as JSON; the CSV export is inert and checkable; the
    extract shows the candidate's timeline with the staff member's role, not their name."""
    applied = cli.json(
        *("apply", "--vacancy", "DVZ-SEC-W1", "--name", "An Peeters"),
        *("--email", EMAIL, "--language", "nl"),
    )
    candidacy = str(applied["id"])
    cli("fire", candidacy, "reject", "--actor", ACTOR, "--role", "recruiter", "--reason", FORMULA)

    entries = cli.json("audit", "log", "--candidacy", candidacy)
    assert [(e["seq"], e["trigger"], e["from"], e["to"]) for e in entries] == [
        (1, "apply", None, "applied"),
        (2, "reject", "applied", "rejected"),
    ]
    assert (entries[1]["actor"], entries[1]["reason"]) == (ACTOR, FORMULA)
    assert entries[1]["workflow"] == "security-escort"
    assert entries[1]["prev_hash"] == entries[0]["hash"]

    out = tmp_path / "audit.csv"
    manifest = cli.json("audit", "export", "--format", "csv", "--out", str(out))
    data = out.read_bytes()
    assert manifest["rows"] == 2
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["exporter"] == "cli"
    stored = json.loads(out.with_name("audit.csv.manifest.json").read_text(encoding="utf-8"))
    assert stored == manifest
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["reason"] for r in rows] == ["", "'" + FORMULA]

    extract = cli("audit", "extract", EMAIL)
    assert "Uw sollicitatie is ontvangen" in extract.stdout
    assert "recruiter" in extract.stdout
    assert "els.claes" not in extract.stdout


def test_a_bad_since_date_exits_1_with_a_message(bare_cli: Ats) -> None:
    """A date the CLI cannot read is refused (exit 1) before any database work."""
    result = bare_cli("audit", "log", "--since", "28/06/2021", expect=1)
    assert "since '28/06/2021': give a date as YYYY-MM-DD" in result.stderr
    assert result.stdout == ""
