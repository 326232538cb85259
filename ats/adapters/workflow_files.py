"""Workflow files under ``workflows/`` and the template catalogue they refer to."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from ats.adapters.yaml_files import YamlUnreadable, load_yaml
from ats.domain.workflow import Catalog, WorkflowDefinition, parse_workflow
from ats.errors import Problem, WorkflowInvalid


def read_workflow_file(path: Path, catalog: Catalog) -> WorkflowDefinition:
    """Parse and validate one file; WorkflowInvalid lists every problem in it.

    The same content read again (every `ats init`, each test's fresh database) is
    not parsed again: round-trip YAML is most of the cost, and a definition is
    immutable. A refused file is never remembered.
    """
    display = _display(path)
    try:
        content = path.read_bytes()
    except OSError:
        content = None  # load_yaml says why, in its words
    if content is None:
        return _parse(path, display, catalog, None)
    return _parse_once(path, display, catalog, content)


@functools.lru_cache(maxsize=64)
def _parse_once(path: Path, display: str, catalog: Catalog, content: bytes) -> WorkflowDefinition:
    return _parse(path, display, catalog, content)


def _parse(path: Path, display: str, catalog: Catalog, content: bytes | None) -> WorkflowDefinition:
    try:
        document = load_yaml(path, display=display, content=content)
    except YamlUnreadable as exc:
        raise WorkflowInvalid([exc.problem]) from None
    return parse_workflow(document, file=display, catalog=catalog, expected_name=path.stem)


def read_workflow_files(paths: Iterable[Path], catalog: Catalog) -> list[WorkflowDefinition]:
    """Every file validated; one WorkflowInvalid with the problems of all of them."""
    definitions: list[WorkflowDefinition] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            definitions.append(read_workflow_file(path, catalog))
        except WorkflowInvalid as exc:
            problems.extend(exc.problems)
    names: dict[str, str] = {}
    for definition in definitions:
        if definition.name in names:
            problems.append(
                Problem(
                    definition.file,
                    definition.line,
                    "name",
                    f"also defined in {names[definition.name]}",
                )
            )
        names[definition.name] = definition.file
    if problems:
        raise WorkflowInvalid(problems)
    return definitions


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
