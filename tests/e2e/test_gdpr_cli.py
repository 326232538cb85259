"""`ats gdpr` end to end: a real subprocess on a real database, exit codes, messages and files.

Each test runs on SQLite and, when ATS_TEST_DATABASE_URL is set, on PostgreSQL (the
``database_url`` fixture). The subprocesses run on the wall clock, so retention is
read ahead with ``--within`` rather than waited for. Mail goes to a maildir folder
of the test's own (erasure deletes mail files by Message-ID, and Message-IDs
repeat across databases).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from ats.service.handlers import add_months
from tests.e2e.conftest import Ats, Result

VACANCY = "DVZ-SEC-W1"
NAME = "Joris Vanderstraeten"
EMAIL = "joris.vdstraeten@example.org"
PHONE = "+32 470 55 66 77"
ADMIN = ("--actor", "admin:e2e")


@pytest.fixture
def cli(bare_cli: Ats, tmp_path: Path) -> Ats:
    """The CLI after `ats init`, mailing into ``tmp_path/mail``."""
    bare_cli.env["ATS_MAIL_TRANSPORT"] = "maildir"
    bare_cli.env["ATS_MAIL_DIR"] = str(tmp_path / "mail")
    bare_cli("init")
    return bare_cli


def apply(cli: Ats, name: str = NAME, email: str = EMAIL) -> tuple[int, str]:
    """A new candidacy; (its id, the candidate's key)."""
    opened = cli.json(
        *("apply", "--vacancy", VACANCY, "--name", name, "--email", email),
        *("--language", "nl", "--phone", PHONE),
    )
    return int(opened["id"]), str(opened["candidate"]["key"])


def reject(cli: Ats, candidacy: int) -> None:
    cli(
        *("fire", str(candidacy), "reject", "--actor", "recruiter:e2e", "--role", "recruiter"),
        *("--reason", f"{NAME} holds no diploma; called on {PHONE}"),
    )


def said(result: Result) -> str:
    """What the CLI told the person on stderr, without the JSON log lines."""
    return "\n".join(
        line for line in result.stderr.splitlines() if not line.lstrip().startswith("{")
    )


def mentions_him(folder: Path) -> list[str]:
    return [
        path.name
        for path in sorted(folder.glob("*.eml"))
        if EMAIL in path.read_text(encoding="utf-8", errors="replace")
    ]


def test_a_held_candidate_is_refused_erasure_then_erased_once_the_hold_is_lifted(
    cli: Ats, database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """due, hold on, erase refused (exit 1), export, hold off, erase, audit verify exits 0."""
    candidacy, key = apply(cli)
    reject(cli, candidacy)
    cli("worker", "--once")  # relays his two mails into the mail folder
    mail = tmp_path / "mail"
    assert len(mentions_him(mail)) == 2

    due = cli.json("gdpr", "due", "--within", "400")
    assert [(f["candidate"], f["held"]) for f in due] == [(key, [])]
    ended = re.fullmatch(rf"rejected {VACANCY} on (\S+) \+ 12 months", due[0]["grounds"])
    assert ended, due
    assert due[0]["due_on"] == add_months(date.fromisoformat(ended.group(1)), 12).isoformat()

    held = cli("gdpr", "hold", str(candidacy), "on", "--reason", f"appeal by {NAME}", *ADMIN)
    assert held.stdout.strip() == f"candidacy {candidacy} is now under legal hold"
    refused = cli("gdpr", "erase", key, "--reason", "request by letter", *ADMIN, expect=1)
    assert "under legal hold" in said(refused)
    assert "ats gdpr hold CANDIDACY off" in said(refused)
    assert refused.stdout == ""

    exported = cli("gdpr", "export", key, "--out", str(tmp_path / "export"))
    json_path = tmp_path / "export" / f"access-{key}.json"
    html_path = tmp_path / "export" / f"access-{key}.html"
    assert exported.stdout.strip() == f"written {json_path} and {html_path}"
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert (data["candidate"]["name"], data["candidate"]["email"]) == (NAME, EMAIL)
    assert data["candidacies"][0]["legal_hold"] is not None, "the refused erasure changed nothing"
    html = html_path.read_text(encoding="utf-8")
    assert NAME in html
    assert "recruiter:e2e" not in html
    assert "admin:e2e" not in html
    assert len(mentions_him(mail)) == 2, "the refused erasure removed no mail"

    lifted = cli("gdpr", "hold", str(candidacy), "off", "--reason", "appeal withdrawn", *ADMIN)
    assert lifted.stdout.strip() == f"candidacy {candidacy} is now no longer held"
    erased = cli("gdpr", "erase", EMAIL, "--reason", "request by letter", *ADMIN)
    assert re.fullmatch(
        rf"candidate {key} erased: 1 candidacies kept pseudonymously, \d+ audit texts and "
        r"\d+ mail files removed",
        erased.stdout.strip(),
    ), erased.stdout
    assert mentions_him(mail) == []
    assert cli.json("audit", "verify")["ok"] is True
    twice = cli("gdpr", "erase", key, "--reason", "again", *ADMIN, expect=1)
    assert "already erased" in said(twice)


def test_refusals_exit_non_zero_and_the_daily_run_and_consent_report_what_they_did(
    cli: Ats,
) -> None:
    """Open candidacy, unknown key, empty reason: exit 1, clear words; run and consent: exit 0."""
    candidacy, key = apply(cli)
    nothing = cli("gdpr", "due")  # an open candidacy is never due
    assert nothing.stdout.strip() == "nothing falls due by 30 days from today"

    still_open = cli("gdpr", "erase", key, "--reason", "request", *ADMIN, expect=1)
    assert f"candidacy {candidacy} of candidate {key} is still open" in said(still_open)
    assert "withdraw or reject it first" in said(still_open)
    unknown = cli("gdpr", "erase", "0123456789abcdef", "--reason", "request", *ADMIN, expect=1)
    assert "no candidate '0123456789abcdef'" in said(unknown)
    no_reason = cli("gdpr", "erase", key, "--reason", "  ", *ADMIN, expect=1)
    assert "--reason: say why" in said(no_reason)
    no_actor = cli("gdpr", "erase", key, "--reason", "request", expect=2)
    assert "--actor" in no_actor.stderr
    run = cli("gdpr", "run")
    assert run.stdout.strip() == "erased 0, held back by a legal hold 0, failed 0"

    reject(cli, candidacy)
    given = cli("gdpr", "consent", EMAIL, "given", *ADMIN)
    until = re.fullmatch(
        r"consent recorded: the file is kept at least until (\d{4}-\d{2}-\d{2})",
        given.stdout.strip(),
    )
    assert until, given.stdout
    due = cli.json("gdpr", "due", "--within", "1000")
    assert [(f["candidate"], f["due_on"]) for f in due] == [(key, until.group(1))]
    assert due[0]["grounds"].startswith("talent-pool consent of ")
    withdrawn = cli("gdpr", "consent", key, "withdrawn", *ADMIN)
    assert withdrawn.stdout.strip() == "consent withdrawn: the retention policy alone applies"
