"""`ats audit verify | checkpoint | keygen` as an auditor runs them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.conftest import Ats


def _open_and_screen(cli: Ats) -> int:
    opened = cli.json(
        "apply",
        "--vacancy",
        "DVZ-SEC-W1",
        "--name",
        "An",
        "--email",
        "an@example.org",
        "--language",
        "nl",
    )
    cli(
        "fire",
        str(opened["id"]),
        "screen",
        "--actor",
        "recruiter:els",
        "--role",
        "recruiter",
        "--fact",
        "diploma_level=master",
    )
    return int(opened["id"])


def test_verify_passes_then_names_a_state_set_behind_its_back_and_exits_1(cli: Ats) -> None:
    """A clean log exits 0; a state changed directly in the table exits 1 naming the candidacy."""
    candidacy_id = _open_and_screen(cli)
    clean = cli("audit", "verify")
    assert "audit log verified" in clean.stdout
    assert "2 entries in 1 candidacy chains" in clean.stdout
    engine = create_engine(cli.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE candidacies SET state = 'hired' WHERE id = :c"), {"c": candidacy_id}
        )
    engine.dispose()
    broken = cli("audit", "verify", expect=1)
    assert f"BROKEN candidacy {candidacy_id}, entry 2" in broken.stderr
    assert "state 'hired'" in broken.stderr
    report = cli("audit", "verify", "--json", expect=1).json()
    assert report["ok"] is False
    assert report["damage"][0]["chain"] == f"candidacy {candidacy_id}"


def test_an_exported_checkpoint_is_checked_and_a_garbled_one_is_refused(
    cli: Ats, tmp_path: Path
) -> None:
    _open_and_screen(cli)
    exported = tmp_path / "checkpoint.json"
    made = cli("audit", "checkpoint", "--out", str(exported))
    assert "checkpoint 1 recorded" in made.stdout
    assert json.loads(exported.read_text())["checkpoint"] == 1
    checked = cli("audit", "verify", "--checkpoint", str(exported))
    assert "checked against exported checkpoint 1" in checked.stdout
    exported.write_text('{"hash": "x"}')
    refused = cli("audit", "verify", "--checkpoint", str(exported), expect=1)
    assert "not a checkpoint export" in refused.stderr


def test_keygen_writes_a_private_key_that_signs_checkpoints(cli: Ats, tmp_path: Path) -> None:
    key = tmp_path / "audit.pem"
    made = cli("audit", "keygen", str(key))
    assert "BEGIN PUBLIC KEY" in made.stdout
    assert key.stat().st_mode & 0o077 == 0, "the private key must be readable by its owner only"
    cli("audit", "keygen", str(key), expect=2)  # never overwrites a key
    signing = Ats(cli.database_url)
    signing.env["ATS_AUDIT_SIGNING_KEY"] = str(key)
    _open_and_screen(signing)
    assert signing.json("audit", "checkpoint")["signed"] is True
    assert signing.json("audit", "verify")["last_checkpoint"]["signed"] is True
