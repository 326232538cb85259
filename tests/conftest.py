"""Shared fixtures: real SQLite files always, real PostgreSQL when ATS_TEST_DATABASE_URL is set.

Each PostgreSQL test gets a throw-away schema, so runs never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.workflow import FactSpec, TransitionSpec, WorkflowDefinition
from ats.service.app import App
from ats.service.setup import initialise
from ats.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("ATS_TEST_DATABASE_URL")
START = datetime(2021, 6, 28, 7, 0, tzinfo=UTC)


def pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(autouse=True)
def _fresh_vobject_timezones() -> None:
    """vobject caches each VTIMEZONE by TZID for the whole process; every test reads its own."""
    import vobject.icalendar

    vars(vobject.icalendar)["__tzidMap"].clear()


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database: an SQLite file in ``folder``, or a throw-away schema.

    PostgreSQL skips the test when ATS_TEST_DATABASE_URL is not set.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'ats.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL: set ATS_TEST_DATABASE_URL to run (`.ci/run` does)")
    schema = f"ats_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(home=REPO, database_url=database_url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[App]:
    """The application on a migrated database with the real drive and workflows loaded."""
    application = bootstrap(settings, clock=clock)
    initialise(application)
    try:
        yield application
    finally:
        application.close()


def satisfying_facts(
    definition: WorkflowDefinition, spec: TransitionSpec, known: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Values for the facts ``spec``'s guards read that make every guard hold, if any exist."""
    names = sorted(
        {name for guard in spec.guards for name in guard.facts} | _invitation_facts(spec)
    )
    domains = [_domain(definition.facts[name]) for name in names]
    for values in itertools.product(*domains):
        drawn = dict(zip(names, values, strict=True))
        merged = {**known, **drawn}
        if all(guard.failure(merged) is None for guard in spec.guards):
            return drawn
    return None


def _invitation_facts(spec: TransitionSpec) -> set[str]:
    return {spec.invitation.start, spec.invitation.location} if spec.invitation else set()


def _domain(fact: FactSpec) -> list[Any]:
    if fact.type == "integer":
        low = fact.minimum if fact.minimum is not None else 0
        high = fact.maximum if fact.maximum is not None else 100
        return sorted({high, low, (low + high) // 2})
    if fact.type == "boolean":
        return [True, False]
    if fact.type == "choice":
        return list(fact.choices)
    if fact.type == "date":
        return ["2021-07-01"]
    if fact.type == "datetime":
        return ["2031-07-24T07:00:00+00:00"]  # as stored: UTC, ISO
    return ["yes"]


def path_to(
    definition: WorkflowDefinition, goal: str, start: str | None = None
) -> list[TransitionSpec]:
    """The shortest chain of transitions from ``start`` (the initial state by default) to
    ``goal``, not via timers."""
    start = start or definition.initial_state
    frontier: list[tuple[str, list[TransitionSpec]]] = [(start, [])]
    seen = {start}
    while frontier:
        state, path = frontier.pop(0)
        if state == goal:
            return path
        for spec in definition.transitions:
            if state in spec.sources and spec.dest not in seen and spec.roles - {"system"}:
                seen.add(spec.dest)
                frontier.append((spec.dest, [*path, spec]))
    raise AssertionError(f"{definition.name}: {goal} cannot be reached")


def role_for(spec: TransitionSpec) -> str:
    """A staff role that may fire ``spec`` (the candidate only when nobody else may)."""
    return sorted(spec.roles - {"candidate", "system"} or spec.roles)[0]


def walk(app: App, candidacy_id: int, goal: str, *, actor: str | None = None) -> WorkflowDefinition:
    """Move a candidacy from where it is along the shortest path to ``goal`` (each guard
    satisfied, a reason given); its workflow definition."""
    from ats.service.commands import FireTrigger

    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        assert found is not None, f"no candidacy {candidacy_id}"
        definition = app.registry.definition(uow, found[0].workflow_version_id)
    known: dict[str, Any] = dict(found[0].facts)
    for spec in path_to(definition, goal, found[0].state):
        if definition.interview and spec.trigger in (
            definition.interview.passed,
            definition.interview.failed,
        ):
            panel_decides(app, candidacy_id, spec.trigger == definition.interview.passed)
            continue
        facts = satisfying_facts(definition, spec, known)
        assert facts is not None, f"{definition.name}: no facts satisfy {spec.trigger}"
        known.update(facts)
        role = role_for(spec)
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                # Four eyes: an approval is never the requester's (nor a panel member's).
                actor=f"{role}:walk.second" if spec.approves else actor or f"{role}:walk",
                trigger=spec.trigger,
                role=role,
                reason=f"{spec.trigger} on the way to {goal}",
                facts=facts,
            )
        )
    return definition


WALK_PANEL = ("walk.chair", "walk.member")


def panel_decides(
    app: App, candidacy_id: int, passed: bool, remark: str = "Walked by the tests."
) -> None:
    """The interview panel scores the candidacy (every criterion at its top for a pass, at
    its bottom for a fail) and the chair decides. The vacancy's panel when it has one; else
    two walk users (created when missing) become it. ``remark`` is every card's comment and
    the chair's motivation."""
    from ats.errors import NotFound
    from ats.service import interviews, queries
    from ats.service.users import create_user, principal_of

    vacancy = str(queries.candidacy(app, candidacy_id)["vacancy"])
    members = interviews.panel(app, vacancy)
    if not members:
        for username in WALK_PANEL:
            try:
                principal_of(app, username)
            except NotFound:
                create_user(app, username=username, display_name=username, roles=["panel"])
        interviews.set_panel(
            app, vacancy, WALK_PANEL, WALK_PANEL[0], actor="recruiter:walk", role="recruiter"
        )
        members = interviews.panel(app, vacancy)
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        assert found is not None
        spec = app.registry.definition(uow, found[0].workflow_version_id).interview
    assert spec is not None
    scores = {c.name: c.maximum if passed else c.minimum for c in spec.criteria}
    for member in members:
        interviews.submit(app, candidacy_id, principal_of(app, member["username"]), scores, remark)
    chair = next(m["username"] for m in members if m["chair"])
    interviews.decide(app, candidacy_id, principal_of(app, chair), scores, remark)
