"""What every `ats` command shares: the lazily built app, the request id, --json."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ats.service.app import App

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


class Context:
    """Built lazily: `ats --help` and `ats workflow validate` never touch a database."""

    def __init__(self) -> None:
        self._app: App | None = None
        self.as_json = False
        self.request_id = uuid.uuid4().hex
        self.exit_code = 0  # a command that reports and then fails (verify) sets 1
        self.fields: dict[str, object] = {}  # ids for the command's canonical log line

    @property
    def app(self) -> App:
        if self._app is None:
            from ats.bootstrap import bootstrap
            from ats.settings import load_settings

            self._app = bootstrap(load_settings())
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_context = click.make_pass_decorator(Context, ensure=True)
