"""Small server-side SVG charts: horizontal bars, optionally stacked, with a marker or a whisker.

Plain SVG with presentation attributes (the pages' Content-Security-Policy
allows no inline styles), escaped labels, a <title> and an aria-label so a
screen reader gets the gist; every chart on a page sits beside the table with
the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

COLOURS = ("#1f4e8c", "#7fa7d9")  # the value, then the stacked extra
MARKER = "#a32020"
WIDTH, LABEL, ROW, GAP = 720, 210, 22, 6


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    extra: float = 0.0  # stacked after value (e.g. in offer after hired)
    marker: float | None = None  # a vertical tick (e.g. the target)
    whisker: float | None = None  # a line from the bar's end to here (e.g. p90)
    text: str = ""  # what is written after the bar


def bar_chart(bars: Sequence[Bar], *, title: str, legend: Sequence[str] = ()) -> Markup:
    """A horizontal bar chart of ``bars``, scaled to the largest value, marker or whisker."""
    top = max(
        [1.0]
        + [b.value + b.extra for b in bars]
        + [b.marker for b in bars if b.marker is not None]
        + [b.whisker for b in bars if b.whisker is not None]
    )
    span = WIDTH - LABEL - 160
    height = len(bars) * (ROW + GAP) + GAP + (20 if legend else 0)

    def x(value: float) -> float:
        return LABEL + span * max(0.0, value) / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for index, bar in enumerate(bars):
        y = GAP + index * (ROW + GAP)
        middle = y + ROW / 2
        parts.append(
            f'<text x="{LABEL - 6}" y="{middle + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#1b1b1b">{escape(bar.label[:34])}</text>'
        )
        parts.append(
            f'<rect x="{LABEL}" y="{y}" width="{x(bar.value) - LABEL:.1f}" height="{ROW}" '
            f'fill="{COLOURS[0]}"/>'
        )
        if bar.extra:
            parts.append(
                f'<rect x="{x(bar.value):.1f}" y="{y}" '
                f'width="{x(bar.value + bar.extra) - x(bar.value):.1f}" height="{ROW}" '
                f'fill="{COLOURS[1]}"/>'
            )
        if bar.whisker is not None and bar.whisker > bar.value:
            parts.append(
                f'<line x1="{x(bar.value):.1f}" x2="{x(bar.whisker):.1f}" y1="{middle}" '
                f'y2="{middle}" stroke="#5a5f66" stroke-width="2"/>'
                f'<line x1="{x(bar.whisker):.1f}" x2="{x(bar.whisker):.1f}" y1="{y + 5}" '
                f'y2="{y + ROW - 5}" stroke="#5a5f66" stroke-width="2"/>'
            )
        if bar.marker is not None:
            parts.append(
                f'<line x1="{x(bar.marker):.1f}" x2="{x(bar.marker):.1f}" y1="{y - 2}" '
                f'y2="{y + ROW + 2}" stroke="{MARKER}" stroke-width="3"/>'
            )
        end = max(x(bar.value + bar.extra), x(bar.whisker or 0), x(bar.marker or 0))
        if bar.text:
            parts.append(
                f'<text x="{end + 6:.1f}" y="{middle + 4:.1f}" font-size="12" '
                f'fill="#1b1b1b">{escape(bar.text)}</text>'
            )
    if legend:
        y = height - 8
        for index, name in enumerate(legend):
            colour = MARKER if index == 2 else COLOURS[min(index, 1)]
            parts.append(
                f'<rect x="{LABEL + index * 150}" y="{y - 10}" width="12" height="12" '
                f'fill="{colour}"/><text x="{LABEL + index * 150 + 16}" y="{y}" font-size="12" '
                f'fill="#1b1b1b">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part above is escaped
