"""Four eyes on an offer: a second person approves it, never who asked nor a panel member.

No shipped workflow uses ``approves`` yet, so these tests run on a copy of the
repository's home whose protection-officer workflow asks for an offer
(``request_offer``), waits in ``offer_pending_approval`` and lets an approver
approve or refuse it (``approves: request_offer``), with the interview block of
tests/unit/test_interview.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ats.adapters.db.models import AuditEntryRow
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.workflow import WorkflowInvalid
from ats.errors import TransitionRefused
from ats.service import interviews, queries
from ats.service.app import App
from ats.service.audit import verify
from ats.service.commands import Apply, FireTrigger
from ats.service.setup import initialise
from ats.service.users import create_user, principal_of
from ats.settings import Settings
from tests.conftest import REPO, walk
from tests.unit.test_interview import with_interview

VACANCY = "CGVS-PROT-W1"
MAKE_OFFER = """\
  - trigger: make_offer
    from: selected
    to: offer
    roles: [hiring_manager]
"""
FOUR_EYES = """\
  - trigger: request_offer
    from: selected
    to: offer_pending_approval
    roles: [hiring_manager]
  - trigger: approve_offer
    from: offer_pending_approval
    to: offer
    roles: [approver]
    approves: request_offer
    notify: offer
  - trigger: refuse_offer
    from: offer_pending_approval
    to: selected
    roles: [approver]
    approves: request_offer
    reason: required
"""
PENDING_STATE = """\
  offer_pending_approval:
    label:  {nl: "Aanbod wacht op goedkeuring", fr: "Offre en attente d'approbation", de: "Angebot wartet auf Freigabe", en: "Offer pending approval"}
    public: {nl: "U bent geslaagd voor het selectiegesprek", fr: "Vous avez réussi l'entretien de sélection", de: "Sie haben das Auswahlgespräch bestanden", en: "You passed the selection interview"}
"""


def four_eyes_workflow(text: str) -> str:
    """protection-officer.yaml with the interview block and an offer that needs approval."""
    start = text.index(MAKE_OFFER)
    end = text.index("    notify: offer\n", start) + len("    notify: offer\n")
    text = text[:start] + FOUR_EYES + text[end:]
    text = text.replace("  offer:\n    label:", PENDING_STATE + "  offer:\n    label:", 1)
    text = text.replace(
        "from: [applied, screened, selor_test, language_test, awaiting_interview, interview, selected, offer]",
        "from: [applied, screened, selor_test, language_test, awaiting_interview, interview, selected, offer_pending_approval, offer]",
    )
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
