"""`ats audit log | export | extract`: being written; registers nothing yet."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the report commands to the `ats audit` group."""
