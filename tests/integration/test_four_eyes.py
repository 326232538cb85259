"""Four eyes on an offer: a second person approves it, never who asked nor a panel member.

The shipped protection-officer workflow asks for an offer (``request_offer``,
only after a positive consensus), waits in ``offer_pending_approval`` and lets
an approver approve or refuse it (``approves: request_offer``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ats.adapters.db.models import AuditEntryRow, ScorecardRow, UserRow
from ats.adapters.db.store import OUTBOX
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.workflow import WorkflowInvalid
from ats.errors import TransitionRefused
from ats.service import interviews, queries
from ats.service.app import App
from ats.service.audit import verify
from ats.service.commands import Apply, FireTrigger
from ats.service.outbox import compose
from ats.service.setup import initialise
from ats.service.timers import sweep
from ats.service.users import create_user, principal_of, set_email
from ats.settings import Settings
from tests.conftest import REPO, walk
from tests.unit.test_interview import with_interview

VACANCY = "CGVS-PROT-W1"
USER = UserRow.__table__
SCORECARD = ScorecardRow.__table__


SHORTCUT = """\
  - trigger: shortcut            # only this copy has it: a way round the panel, to prove
    from: awaiting_interview    # that the offer still asks for the consensus
    to: selected
    roles: [recruiter]
"""


def four_eyes_workflow(text: str) -> str:
    """protection-officer.yaml as shipped (four eyes on the offer), with the marked interview
    block of tests/unit/test_interview.py and a shortcut round the panel."""
    text = text.replace("transitions:\n", "transitions:\n" + SHORTCUT, 1)
    return with_interview(text)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    for folder in ("config", "workflows", "notifications"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    workflow = tmp_path / "workflows" / "protection-officer.yaml"
    workflow.write_text(four_eyes_workflow(workflow.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path


@pytest.fixture
def app(home: Path, database_url: str, clock: ManualClock) -> Iterator[App]:
    application = bootstrap(Settings(home=home, database_url=database_url), clock=clock)
    initialise(application)
    for name, role in (
        ("pia", "panel"),
        ("paul", "panel"),
        ("hana", "hiring_manager"),
        ("anna", "approver"),
    ):
        create_user(
            application, username=name, display_name=name.title(), roles=[role], services=["CGVS"]
        )
    create_user(
        application,
        username="duo",
        display_name="Duo",
        roles=["panel", "approver"],
        services=["CGVS"],
    )
    try:
        yield application
    finally:
        application.close()


def selected(app: App) -> int:
    """A candidacy the panel passed: its scores in, the chair's consensus recorded."""
    candidacy = app.handle(
        Apply(vacancy=VACANCY, name="Jan Peeters", email="jan@example.be", language="nl")
    )
    definition = walk(app, candidacy, "interview", actor="user:rita")
    interviews.set_panel(
        app, VACANCY, ["pia", "paul", "duo"], "pia", actor="user:rita", role="recruiter"
    )
    names = [c.name for c in definition.interview.criteria] if definition.interview else []
    for member in ("pia", "paul", "duo"):
        interviews.submit(app, candidacy, principal_of(app, member), dict.fromkeys(names, 4))
    interviews.decide(
        app, candidacy, principal_of(app, "pia"), dict.fromkeys(names, 4), "Convincing."
    )
    assert state(app, candidacy) == "selected"
    return candidacy


def state(app: App, candidacy: int) -> str:
    return str(queries.candidacy(app, candidacy)["state"])


def fire(app: App, candidacy: int, trigger: str, actor: str, role: str, **extra: object) -> None:
    app.handle(
        FireTrigger(candidacy_id=candidacy, trigger=trigger, actor=actor, role=role, **extra)  # type: ignore[arg-type]
    )


def entries(app: App) -> int:
    with app.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(AuditEntryRow.__table__)
            ).scalar_one()
        )


def test_an_offer_waits_for_a_second_persons_approval(app: App) -> None:
    candidacy = selected(app)
    fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    assert state(app, candidacy) == "offer_pending_approval"
    fire(app, candidacy, "approve_offer", "user:anna", "approver")
    assert state(app, candidacy) == "offer"
    report = verify(app)
    assert report.ok, report.to_dict()


def test_the_requester_cannot_approve_their_own_offer(app: App) -> None:
    candidacy = selected(app)
    fire(app, candidacy, "request_offer", "user:anna", "hiring_manager")
    before = entries(app)
    with pytest.raises(TransitionRefused) as refused:
        fire(app, candidacy, "approve_offer", "user:anna", "approver")
    assert refused.value.http_status == 403
    assert any("user:anna asked for this (request_offer)" in r for r in refused.value.reasons)
    assert (state(app, candidacy), entries(app)) == ("offer_pending_approval", before)


def test_a_panel_member_cannot_approve_the_offer(app: App) -> None:
    candidacy = selected(app)
    fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    with pytest.raises(TransitionRefused) as refused:
        fire(app, candidacy, "approve_offer", "user:duo", "approver")
    assert any("sat on the interview panel" in r for r in refused.value.reasons)
    with pytest.raises(TransitionRefused):
        fire(app, candidacy, "refuse_offer", "user:duo", "approver", reason="no budget")
    assert state(app, candidacy) == "offer_pending_approval"


def test_a_refusal_returns_the_candidacy_with_a_reason_and_a_new_request_needs_new_eyes(
    app: App,
) -> None:
    candidacy = selected(app)
    fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    with pytest.raises(TransitionRefused):
        fire(app, candidacy, "refuse_offer", "user:anna", "approver")  # no reason
    fire(app, candidacy, "refuse_offer", "user:anna", "approver", reason="over the target")
    assert state(app, candidacy) == "selected"
    # Asked again, by the approver this time: they cannot approve their own request.
    fire(app, candidacy, "request_offer", "user:anna", "hiring_manager")
    with pytest.raises(TransitionRefused):
        fire(app, candidacy, "approve_offer", "user:anna", "approver")
    fire(app, candidacy, "approve_offer", "user:hana", "approver")
    assert state(app, candidacy) == "offer"
    assert verify(app).ok


def test_the_offer_cannot_be_made_without_the_panels_consensus(app: App) -> None:
    """pass_interview is the chair's decision only: no way round it to the offer."""
    candidacy = app.handle(
        Apply(vacancy=VACANCY, name="Eva Maes", email="eva@example.be", language="nl")
    )
    walk(app, candidacy, "interview", actor="user:rita")
    with pytest.raises(TransitionRefused) as refused:
        fire(app, candidacy, "pass_interview", "user:pia", "panel", facts={"interview_score": 20})
    assert any("consensus" in r for r in refused.value.reasons)
    with pytest.raises(TransitionRefused):
        fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    assert state(app, candidacy) == "interview"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (
                "    approves: request_offer\n    notify: offer\n",
                "    approves: approve_offer\n    notify: offer\n",
            ),
            "cannot approve itself",
        ),
        (
            (
                "    approves: request_offer\n    notify: offer\n",
                "    approves: nothing_here\n    notify: offer\n",
            ),
            "no trigger 'nothing_here' to approve",
        ),
        (
            (
                "    approves: request_offer\n    notify: offer\n",
                "    approves: withdraw\n    notify: offer\n",
            ),
            "must lead to a state this transition leaves",
        ),
    ],
)
def test_approves_is_validated_with_the_workflow(
    home: Path, change: tuple[str, str], message: str
) -> None:
    from ats.adapters.workflow_files import read_workflow_file
    from ats.service.setup import catalog

    path = home / "workflows" / "protection-officer.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(change[0]) == 1
    path.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    with pytest.raises(WorkflowInvalid) as invalid:
        read_workflow_file(path, catalog(Settings(home=home, database_url="sqlite://")))
    assert any(message in str(p) for p in invalid.value.problems), invalid.value.problems


def test_the_approvers_who_may_answer_are_reminded_and_an_unanswered_request_goes_back(
    app: App, clock: ManualClock
) -> None:
    """Two working days before the request lapses, each approver with an address who may
    approve it is reminded (not a panel member, not another service's, not the asker); after
    five working days without an answer the candidacy is back in 'selected'."""
    create_user(app, username="otto", display_name="Otto", roles=["approver"], services=["FEDASIL"])
    for name in ("anna", "duo", "otto", "hana"):
        set_email(app, name, f"{name}@ibz.example")
    set_email(app, "pia", None)
    candidacy = selected(app)
    fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    clock.advance(timedelta(days=2))  # not yet: Monday + 3 working days
    sweep(app, worker="test")
    assert reminded(app, candidacy) == []
    clock.advance(timedelta(days=2))
    assert sweep(app, worker="test").reminded == 1
    assert reminded(app, candidacy) == ["anna"]
    with app.unit_of_work() as uow:
        row = (
            uow.connection.execute(select(OUTBOX).where(OUTBOX.c.template == "approval_reminder"))
            .mappings()
            .one()
        )
        mail = compose(app, uow, row)
    assert (mail.to_address, mail.subject) == (
        "anna@ibz.example",
        "Aanbod wacht op uw goedkeuring – " + mail.subject.split(" – ", 1)[1],
    )
    assert f"/candidacies/{candidacy}" in mail.text
    assert "Jan Peeters" in mail.text
    assert "/status/" not in mail.text
    clock.advance(timedelta(days=7))
    assert sweep(app, worker="test").fired == 1
    assert state(app, candidacy) == "selected"
    assert queries.history(app, candidacy)[-1]["trigger"] == "approval_lapsed"
    assert verify(app).ok


def reminded(app: App, candidacy: int) -> list[str]:
    with app.engine.connect() as connection:
        return list(
            connection.execute(
                select(USER.c.username)
                .join(OUTBOX, OUTBOX.c.recipient_user_id == USER.c.id)
                .where(OUTBOX.c.candidacy_id == candidacy, OUTBOX.c.template == "approval_reminder")
                .order_by(USER.c.username)
            ).scalars()
        )


def test_no_offer_is_asked_for_without_the_panels_positive_consensus(app: App) -> None:
    """Round the panel (this copy's shortcut), 'selected' has no consensus: refused, nothing
    written; after a fail the consensus is not a pass either."""
    candidacy = app.handle(
        Apply(vacancy=VACANCY, name="Els Maes", email="els@example.be", language="nl")
    )
    walk(app, candidacy, "awaiting_interview")
    fire(app, candidacy, "shortcut", "user:rita", "recruiter")
    before = entries(app)
    with pytest.raises(TransitionRefused) as refused:
        fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    assert refused.value.reasons == [
        "the interview panel has not recorded a consensus on this candidacy"
    ]
    assert (state(app, candidacy), entries(app)) == ("selected", before)
    # A decision that failed the candidate is not a pass either (recorded here directly,
    # as the chair's fail moves the candidacy to 'rejected').
    with app.engine.begin() as connection:
        user = connection.execute(select(USER.c.id).where(USER.c.username == "pia")).scalar_one()
        connection.execute(
            SCORECARD.insert().values(
                candidacy_id=candidacy,
                user_id=user,
                kind="consensus",
                scores={},
                total=3,
                passed=False,
                comment="below the bar",
                submitted_at=app.clock.now(),
                event_seq=0,  # written behind the log: only the guard is under test
            )
        )
    with pytest.raises(TransitionRefused) as refused:
        fire(app, candidacy, "request_offer", "user:hana", "hiring_manager")
    assert refused.value.reasons == ["the interview panel's consensus was not a pass"]


def test_a_no_show_gets_one_second_chance(app: App) -> None:
    candidacy = app.handle(
        Apply(vacancy=VACANCY, name="Tom Claes", email="tom@example.be", language="fr")
    )
    walk(app, candidacy, "interview")
    fire(app, candidacy, "interview_no_show", "user:rita", "recruiter")
    assert state(app, candidacy) == "interview_missed"
    fire(
        app,
        candidacy,
        "reinvite_to_interview",
        "user:rita",
        "recruiter",
        facts={"interview_at": "2031-09-01T09:00:00+00:00", "interview_place": "Noord 2.14"},
    )
    before = entries(app)
    with pytest.raises(TransitionRefused) as refused:
        fire(app, candidacy, "interview_no_show", "user:rita", "recruiter")
    assert refused.value.http_status == 422
    assert refused.value.reasons[0].startswith(
        "'interview_no_show' happens once per candidacy and was fired already (entry "
    )
    assert (state(app, candidacy), entries(app)) == ("interview", before)


def test_the_interview_total_is_never_recorded_by_hand(app: App) -> None:
    candidacy = app.handle(
        Apply(vacancy=VACANCY, name="An Smets", email="an@example.be", language="nl")
    )
    walk(app, candidacy, "interview")
    before = entries(app)
    with pytest.raises(TransitionRefused) as refused:
        fire(
            app,
            candidacy,
            "reschedule_interview",
            "user:rita",
            "recruiter",
            facts={
                "interview_at": "2031-09-01T09:00:00+00:00",
                "interview_place": "Noord 2.14",
                "interview_score": 20,
            },
        )
    assert refused.value.reasons == [
        "'interview_score' is recorded by the interview panel's consensus, not by hand"
    ]
    assert entries(app) == before
    assert "interview_score" not in queries.candidacy(app, candidacy)["facts"]
