"""`ats report ...` as a subprocess on the demo data: every format, and bad filters."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from ats.adapters.drive_file import read_hiring_drive
from tests.conftest import REPO
from tests.e2e.conftest import Ats


def test_targets_on_the_demo_data_show_every_vacancy_of_the_seed_with_its_target(
    cli: Ats, tmp_path: Path
) -> None:
    """The Done-when point: after `ats demo`, `ats report targets` lists every vacancy of
    config/hiring-drive.yaml with its target ("–" where none is announced), as a table,
    JSON, CSV and an .xlsx workbook."""
    cli("demo", "--applicants", "60")
    seed = {
        v.code: v.target for v in read_hiring_drive(REPO / "config/hiring-drive.yaml").vacancies
    }

    lines = cli("report", "targets").stdout.splitlines()
    for code, target in seed.items():
        line = next(line for line in lines if line.startswith(code + " "))
        assert line.split()[4] == (str(target) if target is not None else "–"), line
    assert any(line.startswith("TOTAL (drive)") and " 700 " in line for line in lines)

    document = cli("report", "targets", "--format", "json").json()
    rows = document["targets"]
    assert {r["vacancy"]: r["target"] for r in rows[:-1]} == seed
    assert sum(r["applications"] for r in rows[:-1]) == 60
    assert rows[-1]["target"] == 700

    table = list(csv.DictReader(io.StringIO(cli("report", "targets", "--format", "csv").stdout)))
    assert {r["vacancy"]: r["target"] for r in table[:-1]} == {
        code: "" if target is None else str(target) for code, target in seed.items()
    }

    workbook = tmp_path / "targets.xlsx"
    result = cli("report", "targets", "--format", "xlsx", "--out", str(workbook))
    assert str(workbook) in result.stdout
    with zipfile.ZipFile(workbook) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= names
        strings = archive.read("xl/sharedStrings.xml").decode("utf-8")
    assert all(code in strings for code in seed)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Ats:
    """Refusing input is no database's business: one SQLite file is enough."""
    ats = Ats(f"sqlite:///{tmp_path / 'ats.sqlite3'}")
    ats("init")
    return ats


def test_bad_filters_exit_1_naming_the_bad_value_and_xlsx_needs_a_file(sqlite_cli: Ats) -> None:
    """Unknown codes, impossible dates and out-of-range options exit 1 with a message that
    names the value (as JSON with --json); xlsx without --out is a usage error (exit 2)."""
    unknown = sqlite_cli("report", "funnel", "--service", "XYZ", expect=1)
    assert "no service 'XYZ' (known: CGVS, DVZ, FEDASIL, RVV)" in unknown.stderr
    assert unknown.stdout == ""
    as_json = sqlite_cli("report", "delays", "--vacancy", "NOPE", "--json", expect=1).json()
    assert as_json["error"] == "InvalidInput"
    assert "no vacancy 'NOPE'" in as_json["message"]
    date = sqlite_cli("report", "targets", "--since", "2021-13-01", expect=1)
    assert "since '2021-13-01': give a date as YYYY-MM-DD" in date.stderr
    runs = sqlite_cli("report", "forecast", "--runs", "0", expect=1)
    assert "runs 0: give 1 to 100000" in runs.stderr
    usage = sqlite_cli("report", "targets", "--format", "xlsx", expect=2)
    assert "give --out FILE.xlsx" in usage.stderr
