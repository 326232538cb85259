"""Guard expressions: Jinja2 compiled once in the immutable sandbox, never ``eval``.

A guard sees one read-only name, ``facts``. A fact that is not recorded yet is
strictly undefined, so the guard fails with a reason instead of passing by
accident on an empty value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class GuardSyntaxError(ValueError):
    """The expression does not compile or names something outside ``facts``."""


@dataclass(frozen=True)
class CompiledGuard:
    """A guard ready to check: its source, what it says in words, the facts it reads."""

    expr: str
    description: str
    facts: frozenset[str]
    _function: Any = field(repr=False, compare=False)

    def failure(self, facts: Mapping[str, object]) -> str | None:
        """Why the guard does not hold for these facts, or None when it does."""
        what = self.description or self.expr
        try:
            holds = bool(self._function(facts=MappingProxyType(dict(facts))))
        except UndefinedError:
            missing = sorted(name for name in self.facts if facts.get(name) is None)
            names = ", ".join(missing) or "a fact"
            return f"guard '{self.expr}' ({what}) needs {names}, not recorded yet"
        except (SecurityError, TypeError, ValueError) as exc:
            return f"guard '{self.expr}' ({what}) could not be evaluated: {exc}"
        if holds:
            return None
        return f"guard '{self.expr}' does not hold: {what}"


def compile_guard(expr: str, description: str = "") -> CompiledGuard:
    """Compile ``expr`` once; raise GuardSyntaxError naming what is wrong."""
    if not isinstance(expr, str) or not expr.strip():
        raise GuardSyntaxError("a guard must be a non-empty expression")
    try:
        parser = Parser(_ENVIRONMENT, expr, state="variable")
        tree = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", 1)
        function = _ENVIRONMENT.compile_expression(expr, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise GuardSyntaxError(f"does not compile: {exc.message}") from exc
    # find_all() searches below a node, so the root is looked at on its own.
    everything = [tree, *tree.find_all(nodes.Node)]
    names = {node.name for node in everything if isinstance(node, nodes.Name)}
    strangers = sorted(names - {"facts"})
    if strangers:
        raise GuardSyntaxError(
            f"names {', '.join(strangers)}; a guard may only read facts (e.g. facts.selor_score)"
        )
    read: set[str] = set()
    for node in everything:
        if not (isinstance(node, nodes.Getattr | nodes.Getitem) and _is_facts(node.node)):
            continue
        if isinstance(node, nodes.Getattr):
            read.add(node.attr)
        elif isinstance(node.arg, nodes.Const):
            read.add(str(node.arg.value))
    return CompiledGuard(expr, description, frozenset(read), function)


def _is_facts(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "facts"
