"""Reading YAML with line numbers, so errors can point at the line to fix."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ats.errors import Problem


class _Constructor(RoundTripConstructor):
    """Timestamps stay text: the readers parse dates themselves and name the line of a bad one.

    (Built by YAML, an impossible date such as 2021-02-30 raised a bare ValueError,
    and a time of day slipped through as a date.)
    """


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


class YamlUnreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_yaml(path: Path, *, display: str | None = None, content: bytes | None = None) -> object:
    """The document in ``path`` (or ``content`` already read from it), its mappings carrying
    line numbers (ruamel round-trip)."""
    name = display or str(path)
    try:
        text = (path.read_bytes() if content is None else content).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlUnreadable(Problem(name, None, "", f"cannot read the file: {exc}")) from exc
    try:
        yaml = YAML(typ="rt", pure=True)
        yaml.Constructor = _Constructor
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlUnreadable(Problem(name, line, "", f"not valid YAML: {message}")) from exc
    except YAMLError as exc:
        raise YamlUnreadable(Problem(name, None, "", f"not valid YAML: {exc}")) from exc
