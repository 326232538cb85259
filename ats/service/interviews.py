"""Interview panels, blind scorecards and the chair's consensus decision.

A vacancy's panel is 2–4 (the workflow's ``interview.panel``) staff members
with the ``panel`` role, one of them the chair. While a candidacy is in the
workflow's interview state, each member submits their own scorecard: a score
per criterion of the competency model. A member sees the others' cards only
once their own is in (blind scoring); staff outside the panel see only how many
are in until the decision. A submitted card is never changed: a member may
supersede it with a reason. The chair then records the consensus scores and a
motivation; the pass rule decides, and the decision fires the workflow's pass
or fail transition in the same transaction. Every submission, supersession and
decision is an audit event (its comment or reason sealed), so ``ats audit
verify`` proves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ats.adapters.db.models import PanelMemberRow, ScorecardRow, UserRow, VacancyRow
from ats.adapters.db.store import AUDIT, CANDIDACY, CANDIDATE
from ats.domain.access import Principal
from ats.domain.audit import seal_texts
from ats.domain.events import CandidacyAdvanced
from ats.domain.interview import InterviewSpec, checked_scores, verdict
from ats.errors import ConflictError, Forbidden, InvalidInput, NotFound
from ats.service.app import App
from ats.service.audit import record_event
from ats.service.commands import FireTrigger
from ats.service.handlers import advance, invitation_uid, tell_panel
from ats.service.unit_of_work import UnitOfWork

PANEL = cast(Table, PanelMemberRow.__table__)
SCORECARD = cast(Table, ScorecardRow.__table__)
USER = cast(Table, UserRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)
MAX_TEXT = 2000
SUBMITTED, SUPERSEDED, DECIDED, PANEL_SET = (
    "scorecard.submitted",
    "scorecard.superseded",
    "interview.decided",
    "panel.set",
)


# -- the panel -----------------------------------------------------------------------------


def set_panel(
    app: App, vacancy: str, members: Sequence[str], chair: str, *, actor: str, role: str
) -> list[dict[str, Any]]:
    """Make ``members`` (usernames) the vacancy's panel, ``chair`` chairing it; audited."""
    members = list(dict.fromkeys(m.strip().lower() for m in members if m.strip()))
    chair = chair.strip().lower()
    with app.unit_of_work() as uow:
        row = uow.catalogue.vacancy(vacancy)
        if row is None:
            raise NotFound(f"no vacancy {vacancy!r}; `ats vacancy list` shows them")
        spec = _spec(app, uow, row["workflow"])
        problems = []
        if not spec.panel_min <= len(members) <= spec.panel_max:
            problems.append(
                f"a panel of {len(members)}: the workflow asks {spec.panel_min} to "
                f"{spec.panel_max} members"
            )
        if chair not in members:
            problems.append(f"the chair {chair!r} must be one of the members")
        found = {
            r["username"]: r
            for r in uow.connection.execute(
                select(USER.c.id, USER.c.username, USER.c.roles, USER.c.disabled).where(
                    USER.c.username.in_(members)
                )
            ).mappings()
        }
        for name in members:
            user = found.get(name)
            if user is None:
                problems.append(f"no user {name!r}")
                continue
            roles = user["roles"] or {}
            services = roles.get("services") or []
            if user["disabled"] or "panel" not in (roles.get("roles") or []):
                problems.append(f"{name!r} is not an active user with the panel role")
            elif services and row["service"] not in services:
                problems.append(f"{name!r} does not work for {row['service']}")
        if problems:
            raise InvalidInput(f"panel for {vacancy}: " + "; ".join(problems))
        now = app.clock.now()
        before = set(
            uow.connection.execute(
                select(PANEL.c.user_id).where(PANEL.c.vacancy == vacancy)
            ).scalars()
        )
        uow.connection.execute(delete(PANEL).where(PANEL.c.vacancy == vacancy))
        for name in members:
            uow.connection.execute(
                insert(PANEL).values(
                    vacancy=vacancy, user_id=found[name]["id"], chair=name == chair, added_at=now
                )
            )
        event = record_event(
            uow,
            app,
            kind=PANEL_SET,
            actor=actor,
            role=role,
            subject=f"vacancy:{vacancy}",
            details={"members": members, "chair": chair},
        )
        after = {found[name]["id"] for name in members}
        _retell_planned(
            uow, app, vacancy, spec, sorted(after - before), sorted(before - after), event.seq
        )
        uow.commit()
    return panel(app, vacancy)


def _retell_planned(
    uow: UnitOfWork,
    app: App,
    vacancy: str,
    spec: InterviewSpec,
    joined: list[int],
    left: list[int],
    panel_event: int,
) -> None:
    """Interviews of the vacancy still to come: the calendar entry to members who joined the
    panel, its cancellation to members who left it."""
    if not joined and not left:
        return
    now = app.clock.now()
    waiting = uow.connection.execute(
        select(CANDIDACY.c.id, CANDIDACY.c.version).where(
            CANDIDACY.c.vacancy == vacancy, CANDIDACY.c.state == spec.state
        )
    ).all()
    for candidacy_id, version in waiting:
        planned = uow.outbox.latest_invitation(
            candidacy_id, invitation_uid(app, candidacy_id, spec.state)
        )
        if planned is None or planned["method"] != "REQUEST":
            continue
        if datetime.fromisoformat(str(planned["end"])) <= now:
            continue  # it took place
        tag = f".panel{panel_event}"
        context = {"state": spec.state, "at": now.isoformat(), "invitation": planned}
        tell_panel(uow, app, candidacy_id, version, context, now, joined, tag)
        cancelled = {**context, "invitation": {**planned, "method": "CANCEL"}}
        tell_panel(uow, app, candidacy_id, version, cancelled, now, left, tag)


def panel(app: App, vacancy: str) -> list[dict[str, Any]]:
    """The vacancy's panel, chair first."""
    with app.engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(
                    USER.c.id.label("user_id"), USER.c.username, USER.c.display_name, PANEL.c.chair
                )
                .join(USER, USER.c.id == PANEL.c.user_id)
                .where(PANEL.c.vacancy == vacancy)
                .order_by(PANEL.c.chair.desc(), USER.c.username)
            ).mappings()
        ]


# -- scorecards ----------------------------------------------------------------------------


def submit(
    app: App,
    candidacy_id: int,
    who: Principal,
    scores: Mapping[str, object],
    comment: str | None = None,
    *,
    supersede_reason: str | None = None,
) -> int:
    """File ``who``'s scorecard (or replace theirs, with a reason); returns its id."""
    comment = _text(comment, "comment", required=False)
    reason = _text(supersede_reason, "reason", required=supersede_reason is not None)
    with app.unit_of_work() as uow:
        context = _context(app, uow, candidacy_id)
        spec, member = context["spec"], _member(context, who)
        _in_interview(context)
        checked = checked_scores(spec, scores)
        result = verdict(spec, checked)
        now = app.clock.now()
        live = _live(uow, candidacy_id, member["user_id"], "member")
        if reason is None and live is not None:
            raise ConflictError(
                f"{who.username} already submitted a scorecard for candidacy {candidacy_id}; "
                "a submitted card is not changed: supersede it with a reason"
            )
        if reason is not None and live is None:
            raise ConflictError(f"{who.username} has no scorecard to supersede yet")
        if _decided(uow, candidacy_id):
            raise ConflictError(f"the panel has decided on candidacy {candidacy_id} already")
        # Events keep one sealed text: a submission's comment, or a supersession's reason
        # (with the new card's comment after it). The card row keeps the comment to show.
        said = comment if reason is None else "\n\n".join(t for t in (reason, comment) if t)
        sealed, _, texts = seal_texts(said, {}, ())
        details: dict[str, object] = {
            "candidacy": candidacy_id,
            "candidate": context["candidate_key"],
            "scores": checked,
            "total": result.total,
            "passed": result.passed,
        }
        if sealed is not None:
            details["reason"] = sealed
        event = record_event(
            uow,
            app,
            kind=SUPERSEDED if reason is not None else SUBMITTED,
            actor=who.actor,
            role="panel",
            subject=f"candidacy:{candidacy_id}",
            details=details,
            texts=texts,
            candidate_id=context["candidate_id"],
        )
        if live is not None:
            uow.connection.execute(
                update(SCORECARD).where(SCORECARD.c.id == live["id"]).values(superseded_at=now)
            )
        try:
            card = uow.connection.execute(
                insert(SCORECARD)
                .values(
                    candidacy_id=candidacy_id,
                    user_id=member["user_id"],
                    kind="member",
                    scores=checked,
                    total=result.total,
                    passed=result.passed,
                    comment=comment,
                    submitted_at=now,
                    event_seq=event.seq,
                )
                .returning(SCORECARD.c.id)
            ).scalar_one()
            uow.commit()
        except IntegrityError:  # the same member's other submission got in first
            raise ConflictError(
                f"{who.username} filed a scorecard for candidacy {candidacy_id} just now"
            ) from None
    return int(card)


def scorecards(app: App, candidacy_id: int, who: Principal) -> dict[str, Any]:
    """The panel's cards as ``who`` may see them: blind until their own is in.

    A panel member who has not submitted sees only how many cards are in; so do
    staff outside the panel until the decision. Members who have submitted, and
    everyone once the panel has decided, see every live card side by side with
    what the pass rule says of it.
    """
    with app.unit_of_work() as uow:
        context = _context(app, uow, candidacy_id)
        spec = context["spec"]
        rows = [
            dict(r)
            for r in uow.connection.execute(
                select(SCORECARD, USER.c.username, USER.c.display_name)
                .join(USER, USER.c.id == SCORECARD.c.user_id)
                .where(
                    SCORECARD.c.candidacy_id == candidacy_id, SCORECARD.c.superseded_at.is_(None)
                )
                .order_by(SCORECARD.c.id)
            ).mappings()
        ]
    members = {m["username"]: m for m in context["panel"]}
    cards = [r for r in rows if r["kind"] == "member"]
    decision = next((r for r in rows if r["kind"] == "consensus"), None)
    mine = next((c for c in cards if c["username"] == who.username), None)
    open_view = decision is not None or (who.username in members and mine is not None)
    shown = cards if open_view else [c for c in cards if c["username"] == who.username]
    return {
        "candidacy": candidacy_id,
        "criteria": [
            {
                "name": c.name,
                "label": dict(c.label),
                "min": c.minimum,
                "max": c.maximum,
                "anchors": {str(k): dict(v) for k, v in sorted(c.anchors.items())},
            }
            for c in spec.criteria
        ],
        "rule": str(spec.rule),
        "panel": [
            {"username": m["username"], "name": m["display_name"], "chair": m["chair"]}
            for m in context["panel"]
        ],
        "submitted": len(cards),
        "needed": spec.panel_min,
        "blind": not open_view,
        "mine": _card(mine) if mine else None,
        "cards": [_card(c) for c in shown],
        "decision": _card(decision) if decision else None,
    }


def decide(
    app: App, candidacy_id: int, who: Principal, scores: Mapping[str, object], motivation: str
) -> CandidacyAdvanced:
    """The chair's consensus: the pass rule on the agreed scores fires pass or fail, audited."""
    motivation = _text(motivation, "motivation", required=True) or ""
    with app.unit_of_work() as uow:
        context = _context(app, uow, candidacy_id)
        spec, member = context["spec"], _member(context, who)
        if not member["chair"]:
            raise Forbidden(f"only the panel's chair decides; {who.username} is a member")
        _in_interview(context)
        if _decided(uow, candidacy_id):
            raise ConflictError(f"the panel has decided on candidacy {candidacy_id} already")
        cards = list(
            uow.connection.execute(
                select(SCORECARD.c.user_id).where(
                    SCORECARD.c.candidacy_id == candidacy_id,
                    SCORECARD.c.kind == "member",
                    SCORECARD.c.superseded_at.is_(None),
                )
            ).scalars()
        )
        current = {m["user_id"] for m in context["panel"]}
        cards = [user for user in cards if user in current]  # a replaced member's card is not
        if member["user_id"] not in cards:
            raise ConflictError("the chair scores first, like every member: submit your scorecard")
        if len(cards) < spec.panel_min:
            raise ConflictError(
                f"{len(cards)} of the panel's scorecards are in; the decision needs "
                f"{spec.panel_min}"
            )
        checked = checked_scores(spec, scores)
        result = verdict(spec, checked)
        sealed, _, texts = seal_texts(motivation, {}, ())
        event = record_event(
            uow,
            app,
            kind=DECIDED,
            actor=who.actor,
            role="panel",
            subject=f"candidacy:{candidacy_id}",
            details={
                "candidacy": candidacy_id,
                "candidate": context["candidate_key"],
                "scores": checked,
                "total": result.total,
                "passed": result.passed,
                "shortfalls": list(result.shortfalls),
                "scorecards": len(cards),
                "reason": sealed,
            },
            texts=texts,
            candidate_id=context["candidate_id"],
        )
        uow.connection.execute(
            insert(SCORECARD).values(
                candidacy_id=candidacy_id,
                user_id=member["user_id"],
                kind="consensus",
                scores=checked,
                total=result.total,
                passed=result.passed,
                comment=motivation,
                submitted_at=app.clock.now(),
                event_seq=event.seq,
            )
        )
        facts: dict[str, object] = {spec.total_fact: result.total} if spec.total_fact else {}
        advanced = advance(
            uow,
            app,
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger=spec.passed if result.passed else spec.failed,
                actor=who.actor,
                role="panel",
                reason=motivation,
                facts=facts,
                panel_decision=True,
            ),
        )
        uow.commit()
    return advanced


# -- helpers -------------------------------------------------------------------------------


def _spec(app: App, uow: UnitOfWork, workflow: str) -> InterviewSpec:
    current = uow.workflows.current(workflow)
    definition = app.registry.definition(uow, current["id"]) if current else None
    if definition is None or definition.interview is None:
        raise InvalidInput(f"workflow {workflow!r} has no interview block: no panel scores it")
    return definition.interview


def _context(app: App, uow: UnitOfWork, candidacy_id: int) -> dict[str, Any]:
    found = uow.candidacies.get(candidacy_id)
    if found is None:
        raise NotFound(f"no candidacy {candidacy_id}")
    candidacy = found[0]
    definition = app.registry.definition(uow, candidacy.workflow_version_id)
    if definition.interview is None:
        raise InvalidInput(
            f"candidacy {candidacy_id}'s workflow {definition.name} has no interview block"
        )
    members = [
        dict(r)
        for r in uow.connection.execute(
            select(USER.c.id.label("user_id"), USER.c.username, USER.c.display_name, PANEL.c.chair)
            .join(USER, USER.c.id == PANEL.c.user_id)
            .where(PANEL.c.vacancy == candidacy.vacancy)
            .order_by(PANEL.c.chair.desc(), USER.c.username)
        ).mappings()
    ]
    candidate_id = uow.connection.execute(
        select(CANDIDATE.c.id).where(CANDIDATE.c.key == candidacy.candidate_key)
    ).scalar_one()
    return {
        "spec": definition.interview,
        "state": candidacy.state,
        "vacancy": candidacy.vacancy,
        "panel": members,
        "candidate_key": candidacy.candidate_key,
        "candidate_id": candidate_id,
    }


def _member(context: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    member = next((m for m in context["panel"] if m["username"] == who.username), None)
    if member is None:
        raise Forbidden(f"{who.username} is not on the panel of vacancy {context['vacancy']}")
    return dict(member)


def _in_interview(context: Mapping[str, Any]) -> None:
    state = context["spec"].state
    if context["state"] != state:
        raise ConflictError(
            f"the candidacy is in {context['state']!r}; the panel scores in {state!r}"
        )


def _live(uow: UnitOfWork, candidacy_id: int, user_id: int, kind: str) -> Mapping[str, Any] | None:
    row = (
        uow.connection.execute(
            select(SCORECARD).where(
                SCORECARD.c.candidacy_id == candidacy_id,
                SCORECARD.c.user_id == user_id,
                SCORECARD.c.kind == kind,
                SCORECARD.c.superseded_at.is_(None),
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _decided(uow: UnitOfWork, candidacy_id: int) -> bool:
    return (
        uow.connection.execute(
            select(SCORECARD.c.id).where(
                SCORECARD.c.candidacy_id == candidacy_id, SCORECARD.c.kind == "consensus"
            )
        ).first()
        is not None
    )


def _card(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "member": row["username"],
        "name": row["display_name"],
        "scores": dict(row["scores"]),
        "total": row["total"],
        "passed": row["passed"],
        "comment": row["comment"],
        "submitted_at": row["submitted_at"],
    }


def _text(value: str | None, name: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{name}: say why, in at most {MAX_TEXT} characters")
        return None
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{name}: at most {MAX_TEXT} characters, got {len(text)}")
    return text


# -- approvals -----------------------------------------------------------------------------


def waiting_for_approval(app: App) -> list[dict[str, Any]]:
    """Candidacies in a state some transition with ``approves`` leaves: who asked, and when."""

    found: list[dict[str, Any]] = []
    with app.unit_of_work() as uow:
        versions = uow.connection.execute(
            select(CANDIDACY.c.workflow_version_id).distinct()
        ).scalars()
        for version in list(versions):
            definition = app.registry.definition(uow, version)
            approvals = [t for t in definition.transitions if t.approves]
            states = {s for t in approvals for s in t.sources}
            if not states:
                continue
            rows = uow.connection.execute(
                select(
                    CANDIDACY.c.id,
                    CANDIDACY.c.state,
                    CANDIDACY.c.version,
                    CANDIDACY.c.vacancy,
                    CANDIDACY.c.state_entered_at,
                    CANDIDATE.c.name,
                    VACANCY.c.service,
                )
                .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
                .join(VACANCY, VACANCY.c.code == CANDIDACY.c.vacancy)
                .where(CANDIDACY.c.workflow_version_id == version, CANDIDACY.c.state.in_(states))
                .order_by(CANDIDACY.c.state_entered_at, CANDIDACY.c.id)
            ).mappings()
            for row in rows:
                leaving = [t for t in approvals if row["state"] in t.sources]
                asked = uow.connection.execute(
                    select(AUDIT.c.actor, AUDIT.c.occurred_at, AUDIT.c.reason)
                    .where(
                        AUDIT.c.candidacy_id == row["id"],
                        AUDIT.c.trigger.in_({t.approves for t in leaving}),
                    )
                    .order_by(AUDIT.c.seq.desc())
                    .limit(1)
                ).first()
                state = definition.states[row["state"]]
                found.append(
                    {
                        **row,
                        "state_label": dict(state.label),
                        "requested_by": asked.actor if asked else None,
                        "requested_at": asked.occurred_at if asked else None,
                        "actions": [
                            {"trigger": t.trigger, "reason": t.reason_required, "to": t.dest}
                            for t in leaving
                        ],
                    }
                )
    return found
