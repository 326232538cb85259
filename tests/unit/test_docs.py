"""The documentation's generated parts match the workflow files."""

from __future__ import annotations

from pathlib import Path

from ats.docs import render

REPO = Path(__file__).resolve().parents[2]


def test_workflow_diagrams_in_the_docs_are_current() -> None:
    """docs/workflows.md shows the diagrams of today's files; `make docs` regenerates them."""
    document = (REPO / "docs" / "workflows.md").read_text(encoding="utf-8")
    assert render(document, REPO / "workflows") == document, "run `make docs`"
    for stem in (p.stem for p in (REPO / "workflows").glob("*.yaml")):
        assert f"<!-- /diagram:{stem} -->" in document, (
            f"docs/workflows.md has no diagram of {stem}"
        )


def test_rendering_replaces_a_stale_block_and_keeps_the_rest() -> None:
    stale = "intro\n<!-- diagram:lawyer -->\nold\n<!-- /diagram:lawyer -->\noutro\n"
    rendered = render(stale, REPO / "workflows")
    assert rendered.startswith("intro\n<!-- diagram:lawyer -->\n```mermaid\nstateDiagram-v2\n")
    assert "old" not in rendered
    assert rendered.endswith("<!-- /diagram:lawyer -->\noutro\n")
