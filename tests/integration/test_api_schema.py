"""schemathesis against the served OpenAPI document: no server errors, answers as documented.

The operations are driven through schemathesis's hypothesis strategies directly
(its pytest plugin does not load under this pytest), a bounded number of
examples each, on a real SQLite file with an admin token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from ats.api.app import create_api
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.service.commands import Apply
from ats.service.setup import initialise
from ats.service.users import create_token, create_user
from ats.settings import Settings
from tests.conftest import REPO, START


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """The API schema on a real SQLite file with a few candidacies, and an admin's token."""
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    app = bootstrap(
        Settings(
            home=REPO, database_url=f"sqlite:///{folder / 'ats.sqlite3'}", mail_dir=str(folder)
        ),
        clock=ManualClock(START),
    )
    initialise(app)
    for number in range(3):
        app.handle(
            Apply(
                vacancy="DVZ-SEC-W1",
                name=f"P {number}",
                email=f"p{number}@example.org",
                language="nl",
            )
        )
    create_user(
        app, username="root", display_name="Root", roles=["admin", "recruiter"], services=["DVZ"]
    )
    headers = {"Authorization": "Bearer " + create_token(app, "root", "schemathesis")[0]}
    try:
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_api(app)), headers
    finally:
        app.close()


def test_every_operation_survives_generated_requests(served: tuple[Any, dict[str, str]]) -> None:
    """For each operation, generated requests never cause a 5xx and answers match the document."""
    schema, headers = served
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        _exercise(operation, headers)


def _exercise(operation: Any, headers: dict[str, str]) -> None:
    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        # Filters name codes and dates the schema cannot enumerate, so a schema-valid
        # request may rightly be refused (400); what must never happen is a 5xx or an
        # answer the document does not describe.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()
