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

MAX_EXPONENT = 64  # enough for any rule about scores; stops 10 ** 10 ** 10 from eating the CPU


class _GuardEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``**`` checked at run time instead of folded at compile time."""

    intercepted_binops = frozenset({"**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and (not isinstance(right, int | float) or abs(right) > MAX_EXPONENT):
            raise SecurityError(f"exponent {right!r} is larger than {MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)


_ENVIRONMENT = _GuardEnvironment(undefined=StrictUndefined, autoescape=False)


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
        except Exception as exc:  # a guard is data: any failure refuses, never crashes
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
    except (ValueError, ArithmeticError, RecursionError) as exc:
        # Constant folding at compile time can fail on absurd constants (10 ** 5000 digits).
        raise GuardSyntaxError(f"does not compile: {exc}") from exc
    # find_all() searches below a node, so the root is looked at on its own.
    everything = [tree, *tree.find_all(nodes.Node)]
    for power in (n for n in everything if isinstance(n, nodes.Pow)):
        exponent = power.right
        if (
            isinstance(exponent, nodes.Const)
            and isinstance(exponent.value, int | float)
            and abs(exponent.value) > MAX_EXPONENT
        ):
            raise GuardSyntaxError(f"exponent {exponent.value} is larger than {MAX_EXPONENT}")
    names = {node.name for node in everything if isinstance(node, nodes.Name)}
    strangers = sorted(names - {"facts"})
    if strangers:
        raise GuardSyntaxError(
            f"names {', '.join(strangers)}; a guard may only read facts (e.g. facts.selor_score)"
        )
    read: set[str] = set()
    # facts.get('x') reads x; the attribute 'get' itself is a method, not a fact.
    methods = set()
    for call in (n for n in everything if isinstance(n, nodes.Call)):
        if isinstance(call.node, nodes.Getattr) and _is_facts(call.node.node):
            methods.add(id(call.node))
            if call.args and isinstance(call.args[0], nodes.Const):
                read.add(str(call.args[0].value))
    for node in everything:
        if id(node) in methods:
            continue
        if not (isinstance(node, nodes.Getattr | nodes.Getitem) and _is_facts(node.node)):
            continue
        if isinstance(node, nodes.Getattr):
            read.add(node.attr)
        elif isinstance(node.arg, nodes.Const):
            read.add(str(node.arg.value))
    return CompiledGuard(expr, description, frozenset(read), function)


def _is_facts(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "facts"
