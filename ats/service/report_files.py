"""A report as a file: CSV, JSON or an .xlsx workbook (the CLI and the staff pages share these).

- csv: each section as a block (its header row, its rows), blocks separated by
  an empty line; text cells that a spreadsheet would run as a formula get a
  leading ``'`` (see ``ats.service.audit_reports.neutralise``);
- json: one document with the filters, parameters, sections and notes;
- xlsx: one worksheet per section and an "about" sheet. Text is always written
  as text, never as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ats.service.audit_reports import neutralise
from ats.service.queries import local_time
from ats.service.reports import Report, Section

EMPTY = "–"  # what a table shows for "nothing here" (a vacancy without a target, ...)


def cell_text(row: Mapping[str, Any], column: str, section: Section) -> str:
    value = row.get(column)
    if value is None:
        return section.blank(row, column) or EMPTY
    if column in section.percent and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def as_of(made: Report) -> str:
    return local_time(made.as_of, made.zone)


def render_json(made: Report) -> str:
    return json.dumps(made.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n"


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def render_csv(made: Report) -> str:
    """Each section as a CSV block (header and rows), blocks separated by an empty line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for number, section in enumerate(made.sections):
        if number:
            writer.writerow([])
        writer.writerow(section.columns)
        for row in section.rows:
            writer.writerow([_csv_cell(row.get(c)) for c in section.columns])
    return buffer.getvalue()


def write_xlsx(made: Report, path: Path) -> None:
    """One worksheet per section, and an "about" sheet with filters, parameters and notes."""
    # XlsxWriter ships no type information (no py.typed, no stubs package).
    import xlsxwriter  # type: ignore[import-untyped]

    workbook = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False}
    )
    try:
        bold = workbook.add_format({"bold": True})
        percent = workbook.add_format({"num_format": "0.0%"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        for section in made.sections:
            sheet = workbook.add_worksheet(section.name[:31])
            sheet.write_row(0, 0, section.columns, bold)
            sheet.freeze_panes(1, 0)
            widths = [len(c) for c in section.columns]
            for r, row in enumerate(section.rows, start=1):
                for c, column in enumerate(section.columns):
                    value = row.get(column)
                    if value is None:
                        sheet.write_blank(r, c, None)
                    elif isinstance(value, bool):
                        sheet.write_boolean(r, c, value)
                    elif isinstance(value, int | float):
                        sheet.write_number(
                            r, c, value, percent if column in section.percent else None
                        )
                    elif isinstance(value, date):
                        sheet.write_datetime(r, c, value, day)
                    else:
                        sheet.write_string(r, c, str(value))
                    widths[c] = max(widths[c], len(cell_text(row, column, section)))
            for c, width in enumerate(widths):
                sheet.set_column(c, c, min(width + 2, 60))
        about = workbook.add_worksheet("about")
        lines: list[tuple[str, str]] = [
            ("report", made.name),
            ("as of", as_of(made)),
            *((f"filter {k}", v) for k, v in made.filters.items()),
            *((k.replace("_", " "), str(v)) for k, v in made.parameters.items()),
            *(("note", note) for note in made.notes),
        ]
        for r, (key, value) in enumerate(lines):
            about.write_string(r, 0, key, bold)
            about.write_string(r, 1, value)
        about.set_column(0, 0, 22)
        about.set_column(1, 1, 100)
    finally:
        workbook.close()
