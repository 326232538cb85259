"""Workflow diagrams as Mermaid or Graphviz dot text, for docs and `ats workflow diagram`."""

from __future__ import annotations

from ats.domain.workflow import WorkflowDefinition

FORMATS = ("mermaid", "dot")


def diagram(definition: WorkflowDefinition, fmt: str = "mermaid") -> str:
    if fmt == "mermaid":
        return _mermaid(definition)
    if fmt == "dot":
        return _dot(definition)
    raise ValueError(f"unknown diagram format {fmt!r}; choose {' or '.join(FORMATS)}")


def _edge_label(definition: WorkflowDefinition, trigger: str, roles: frozenset[str]) -> str:
    return f"{trigger} [{', '.join(sorted(roles))}]"


def _mermaid(definition: WorkflowDefinition) -> str:
    lines = ["stateDiagram-v2"]
    lines.append(f"    [*] --> {definition.initial_state}")
    for spec in definition.transitions:
        for source in spec.sources:
            label = _edge_label(definition, spec.trigger, spec.roles)
            lines.append(f"    {source} --> {spec.dest}: {label}")
    for state in definition.states.values():
        if state.final:
            lines.append(f"    {state.name} --> [*]")
        if state.timeout:
            lines.append(
                f"    note right of {state.name} : after {state.timeout.after} -> {state.timeout.trigger}"
            )
    return "\n".join(lines) + "\n"


def _dot(definition: WorkflowDefinition) -> str:
    lines = [
        f'digraph "{definition.name}" {{',
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
    ]
    for state in definition.states.values():
        shape = "doublecircle" if state.final else ("circle" if state.initial else "box")
        label = _quote(state.label.get("en", state.name))
        if state.timeout:
            label += f"\\n(after {state.timeout.after} -> {state.timeout.trigger})"
        lines.append(f'    "{state.name}" [shape={shape}, label="{label}"];')
    for spec in definition.transitions:
        for source in spec.sources:
            label = _edge_label(definition, spec.trigger, spec.roles)
            lines.append(f'    "{source}" -> "{spec.dest}" [label="{_quote(label)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """Text safe inside a dot double-quoted string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
