"""Regenerate the Mermaid diagrams in docs/workflows.md from workflows/*.yaml.

Each ``<!-- diagram:NAME -->`` marker is followed by a generated block that
ends at ``<!-- /diagram:NAME -->``; running this again replaces the block, so
the documentation can be checked for drift (a test does).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ats.adapters.workflow_files import read_workflow_file
from ats.domain.workflow import Catalog
from ats.service.diagrams import diagram

_BLOCK = re.compile(
    r"<!-- diagram:(?P<name>[a-z0-9-]+) -->\n(?:.*?<!-- /diagram:(?P=name) -->\n)?", re.DOTALL
)


def render(document: str, workflows_dir: Path) -> str:
    """``document`` with every diagram block regenerated."""

    def block(match: re.Match[str]) -> str:
        name = match.group("name")
        definition = read_workflow_file(workflows_dir / f"{name}.yaml", Catalog())
        return (
            f"<!-- diagram:{name} -->\n"
            f"```mermaid\n{diagram(definition, 'mermaid')}```\n"
            f"<!-- /diagram:{name} -->\n"
        )

    return _BLOCK.sub(block, document)


def openapi_document() -> str:
    """The API's OpenAPI document as committed: sorted keys, two-space indent."""
    import json

    from ats.api.app import create_api
    from ats.bootstrap import bootstrap
    from ats.settings import Settings

    # The document depends on the code only; an in-memory database is never opened.
    app = bootstrap(Settings(home=Path.cwd(), database_url="sqlite://"))
    return json.dumps(create_api(app).openapi(), indent=2, sort_keys=True) + "\n"


def main(home: Path | None = None) -> int:
    root = home or Path.cwd()
    spec = root / "docs" / "openapi.json"
    document = openapi_document()
    if not spec.exists() or spec.read_text(encoding="utf-8") != document:
        spec.write_text(document, encoding="utf-8")
        print(f"{spec}: regenerated")
    path = root / "docs" / "workflows.md"
    before = path.read_text(encoding="utf-8")
    after = render(before, root / "workflows")
    if after != before:
        path.write_text(after, encoding="utf-8")
        print(f"{path}: diagrams regenerated")
    else:
        print(f"{path}: diagrams already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
