"""The Selor cooldown: who failed a module waits before applying where that module is needed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ats.clock import ManualClock
from ats.errors import CooldownActive
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.handlers import add_months
from tests.conftest import satisfying_facts

EMAIL = "an.peeters@example.org"


def _apply(app: App, vacancy: str) -> int:
    return int(app.handle(Apply(vacancy=vacancy, name="An Peeters", email=EMAIL, language="nl")))


def _fail_selor(app: App, candidacy_id: int) -> None:
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        assert found is not None
        definition = app.registry.definition(uow, found[0].workflow_version_id)
    screen = definition.transition("screen", "applied")
    assert screen is not None
    screening = satisfying_facts(definition, screen, {})
    assert screening is not None
    steps = [
        ("screen", "recruiter", screening, None),
        (
            "invite_to_selor",
            "selor",
            {"selor_session_at": "2026-12-05T09:00", "selor_session_place": "Selor"},
            None,
        ),
        ("fail_selor", "selor", {"selor_score": 41}, "Selor session S1"),
    ]
    for trigger, role, facts, reason in steps:
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger=trigger,
                actor=f"{role}:tests",
                role=role,
                facts=facts,
                reason=reason,
            )
        )
    assert queries.candidacy(app, candidacy_id)["state"] == "rejected"


def test_a_failed_module_blocks_vacancies_needing_it_until_the_cooldown_ends(
    app: App, clock: ManualClock
) -> None:
    """DVZ-MIG-DUB-W1 and DVZ-RET-W1 both need selor_b: failing one shuts the other for 6 months."""
    failed_at = clock.now()
    _fail_selor(app, _apply(app, "DVZ-MIG-DUB-W1"))
    with pytest.raises(CooldownActive) as refused:
        _apply(app, "DVZ-RET-W1")
    until = add_months(failed_at.astimezone(app.settings.zone).date(), 6)
    assert until.isoformat() in refused.value.message
    assert "selor_b" in refused.value.message

    clock.set(failed_at + timedelta(days=100))
    with pytest.raises(CooldownActive):
        _apply(app, "DVZ-RET-W1")

    clock.set(failed_at + timedelta(days=200))  # past six months
    assert queries.candidacy(app, _apply(app, "DVZ-RET-W1"))["state"] == "applied"


def test_a_failed_module_does_not_block_a_vacancy_needing_another(app: App) -> None:
    """Failing selor_b leaves selor_a vacancies (CGVS protection officers) open."""
    _fail_selor(app, _apply(app, "DVZ-MIG-DUB-W1"))
    assert queries.candidacy(app, _apply(app, "CGVS-PROT-W1"))["state"] == "applied"


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=60),
)
def test_adding_months_keeps_the_day_or_the_month_end(day: date, months: int) -> None:
    """add_months lands in the right month, never past its last day, never before ``day``."""
    later = add_months(day, months)
    assert (later.year - day.year) * 12 + later.month - day.month == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)
    assert later >= day
