"""`ats demo`: synthetic applicants moved through their workflows on a simulated clock.

The demo drives the real service layer (every step is an ordinary transition
with its audit entry) and knows nothing about particular workflows: it reads
each definition, draws facts that make guards pass most of the time, and
otherwise takes the refusal path a recruiter would take.
"""

from __future__ import annotations

import heapq
import random
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import func, select

from ats.adapters.db.models import CandidacyRow, CandidateRow
from ats.clock import ManualClock
from ats.domain.candidacy import decide
from ats.domain.interview import InterviewSpec
from ats.domain.workflow import FactSpec, TransitionSpec, WorkflowDefinition
from ats.errors import ConfigurationError
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.outbox import relay
from ats.service.timers import sweep

LANGUAGE_SHARE = (("nl", 0.55), ("fr", 0.38), ("de", 0.02), ("en", 0.05))
NEGATIVE = ("rejected", "withdrawn")
BRUSSELS = ZoneInfo("Europe/Brussels")
SESSION_PLACES = (
    "Selor, Bischoffsheimlaan 15, 1000 Brussel",
    "WTC II, Koning Albert II-laan 26A, 1000 Brussel",
    "Dienst Vreemdelingenzaken, Pachecolaan 44, 1000 Brussel",
)


@dataclass(order=True)
class _Step:
    at: datetime
    order: int
    candidacy_id: int = 0
    vacancy: str = ""


def run_demo(
    app: App,
    *,
    applicants: int = 300,
    seed: int = 2021,
    progress: Callable[[str], None] | None = None,
    live: bool = False,
) -> dict[str, Any]:
    """Apply ``applicants`` people over the vacancies and move them along; return totals.

    ``live`` moves the drive so its last applications arrive in the past weeks and
    stops at the present: what is still in progress stays there, with its deadlines
    ahead, as a recruiter would find it on a Monday morning.
    """
    say = progress or (lambda _message: None)
    rng = random.Random(seed)
    fakers = {
        "nl": Faker("nl_BE"),
        "fr": Faker("fr_BE"),
        "de": Faker("de_DE"),
        "en": Faker("en_GB"),
    }
    for index, faker in enumerate(fakers.values()):
        faker.seed_instance(seed + index)
    zone = app.settings.zone
    vacancy_rows = queries.vacancies(app)
    if not vacancy_rows:
        raise ConfigurationError("the database has no vacancies; run `ats init` first")
    with app.engine.connect() as connection:
        offset = connection.execute(select(func.count()).select_from(CandidateRow)).scalar_one()
    first_open = {
        row["code"]: queries.vacancy(app, row["code"])["opens_on"] for row in vacancy_rows
    }
    _seat_panels(app, vacancy_rows, say)
    present = app.clock.now()
    clock = ManualClock(present)
    sim = replace(app, clock=clock)
    shift = timedelta(0)
    if live:  # the last wave opened five weeks ago; everything else moves with it
        last_opening = max(
            datetime.combine(datetime.fromisoformat(d).date(), time(9), tzinfo=zone)
            for d in first_open.values()
        )
        shift = present - timedelta(days=35) - last_opening
    weights = [row["target"] or 20 for row in vacancy_rows]
    queue: list[_Step] = []
    order = 0
    for number in range(applicants):
        row = rng.choices(vacancy_rows, weights)[0]
        opens = datetime.combine(
            datetime.fromisoformat(first_open[row["code"]]).date(), time(9), tzinfo=zone
        )
        at = opens + shift + timedelta(minutes=rng.randrange(0, 21 * 24 * 60))
        order += 1
        heapq.heappush(queue, _Step(at, order, -(offset + number + 1), row["code"]))

    fired = refused = opened = 0
    say(f"demo: {applicants} synthetic applicants over {len(vacancy_rows)} vacancies (seed {seed})")
    timed_out = 0
    while queue:
        step = heapq.heappop(queue)
        if live and step.at > present:
            continue  # the future: this candidacy waits where it is
        clock.set(step.at)
        # Deadlines pass as simulated time does: the sweeper fires what fell due.
        timed_out += sweep(sim, worker="demo").fired
        if step.candidacy_id < 0:
            language = rng.choices(
                [lang for lang, _ in LANGUAGE_SHARE], [w for _, w in LANGUAGE_SHARE]
            )[0]
            faker = fakers[language]
            name = f"{faker.first_name()} {faker.last_name()}"
            email = f"{_slug(name)}.{-step.candidacy_id}@example.org"
            candidacy_id = sim.handle(
                Apply(
                    vacancy=step.vacancy,
                    name=name,
                    email=email,
                    language=language,
                    actor="demo:careers-site",
                    role="candidate",
                )
            )
            opened += 1
            if opened % 100 == 0:
                say(
                    f"  {opened} applications in, simulated time {step.at.astimezone(zone):%Y-%m-%d}"
                )
            order += 1
            heapq.heappush(queue, _Step(step.at + _pause(rng), order, candidacy_id, step.vacancy))
            continue
        outcome = _advance(sim, rng, step.candidacy_id)
        if outcome is None:
            continue
        fired += 1
        refused += outcome
        order += 1
        heapq.heappush(
            queue, _Step(clock.now() + _pause(rng), order, step.candidacy_id, step.vacancy)
        )
    if live:
        clock.set(present)
        timed_out += sweep(sim, worker="demo").fired
    mail = relay(sim)
    summary = {
        "mails": mail.sent,
        "applications": opened,
        "transitions": fired + timed_out,
        "timeouts": timed_out,
        "refusals_seen": refused,
    }
    say(
        f"demo: {opened} applications, {fired + timed_out} transitions "
        f"({timed_out} by timers, {refused} refusals turned into rejections); "
        f"{mail.sent} candidate emails sent"
        + (f" to {app.settings.mail_folder}" if app.settings.mail_transport == "maildir" else "")
    )
    return summary


def _advance(app: App, rng: random.Random, candidacy_id: int) -> int | None:
    """Take one step for a candidacy; None when it stays where it is for good."""
    detail = queries.candidacy(app, candidacy_id)
    if detail["final"] or rng.random() < 0.08:  # some files simply wait in their stage
        return None
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        assert found is not None  # noqa: S101 - the id came from this database
        definition = app.registry.definition(uow, found[0].workflow_version_id)
    state, facts = detail["state"], detail["facts"]
    leaving = [t for t in definition.transitions if state in t.sources and "system" not in t.roles]
    interview = definition.interview
    panel = (interview.passed, interview.failed) if interview else ()
    by_hand = [t for t in leaving if t.trigger not in panel]  # the panel's are its decision
    if rng.random() < 0.03:
        withdraw = [t for t in leaving if t.dest == "withdrawn"]
        if withdraw:
            _fire(app, candidacy_id, withdraw[0], {}, "changed my mind")
            return 0
    forward = [t for t in leaving if t.dest not in NEGATIVE]
    if forward:
        spec = rng.choice(forward)
        if interview and spec.trigger in panel:
            return _panel_decides(app, rng, candidacy_id, interview)
        if spec.once and any(
            h["trigger"] == spec.trigger for h in queries.history(app, candidacy_id)
        ):
            spec = next(t for t in by_hand if t.dest == "rejected")  # no second no-show
            _fire(app, candidacy_id, spec, {}, "did not come to the interview twice")
            return 1
        drawn = _draw_facts(
            definition, spec, facts, rng, hopeful=rng.random() < 0.8, now=app.clock.now()
        )
        role = sorted(spec.roles - {"candidate"} or spec.roles)[0]
        verdict = decide(definition, state, {**facts, **drawn}, spec.trigger, role, reason="demo")
        if verdict.allowed:
            _fire(app, candidacy_id, spec, drawn, "meets the requirements")
            return 0
        for negative in by_hand:
            if negative.dest == "rejected":
                role = sorted(negative.roles)[0]
                if decide(
                    definition, state, {**facts, **drawn}, negative.trigger, role, reason="x"
                ).allowed:
                    _fire(app, candidacy_id, negative, drawn, "; ".join(verdict.reasons)[:500])
                    return 1
    for spec in by_hand:
        if spec.dest == "rejected":
            _fire(app, candidacy_id, spec, {}, "profile does not match the vacancy")
            return 1
    return None


def _seat_panels(app: App, vacancy_rows: list[dict[str, Any]], say: Callable[[str], None]) -> None:
    """Every vacancy whose workflow has an interview gets a panel: the users with the panel
    role who may work on it, completed with demo panel members (who cannot log in)."""
    from ats.service import interviews
    from ats.service.users import create_user, users

    for row in vacancy_rows:
        if interviews.panel(app, row["code"]):
            continue
        with app.unit_of_work() as uow:
            found = uow.catalogue.vacancy(row["code"])
            current = uow.workflows.current(found["workflow"]) if found else None
            definition = app.registry.definition(uow, current["id"]) if current else None
        if definition is None or definition.interview is None:
            continue
        spec = definition.interview
        eligible = [
            u["username"]
            for u in users(app)
            if "panel" in u["roles"]
            and not u["disabled"]
            and (not u["services"] or row["service"] in u["services"])
        ]
        for number in range(1, spec.panel_min - len(eligible) + 1):
            username = f"demo.panel.{number}"
            if username not in {u["username"] for u in users(app)}:
                create_user(
                    app, username=username, display_name=f"Panel member {number}", roles=["panel"]
                )
            eligible.append(username)
        members = eligible[: min(spec.panel_max, 3)]
        interviews.set_panel(
            app, row["code"], members, members[0], actor="demo:recruiter", role="recruiter"
        )
    say("demo: every interview has its panel (`ats interview panel VACANCY` shows it)")


def _panel_decides(app: App, rng: random.Random, candidacy_id: int, spec: InterviewSpec) -> int:
    """Each panel member scores blind, the chair decides on the rounded mean: 1 on a fail."""
    from ats.service import interviews
    from ats.service.users import principal_of

    vacancy = str(queries.candidacy(app, candidacy_id)["vacancy"])
    members = interviews.panel(app, vacancy)
    strong = rng.random() < 0.7
    cards = []
    for member in members:
        scores = {
            c.name: rng.randint(
                c.minimum + (c.maximum - c.minimum) // 2 if strong else c.minimum, c.maximum
            )
            for c in spec.criteria
        }
        interviews.submit(app, candidacy_id, principal_of(app, member["username"]), scores)
        cards.append(scores)
    consensus = {
        c.name: round(sum(card[c.name] for card in cards) / len(cards)) for c in spec.criteria
    }
    chair = next(m["username"] for m in members if m["chair"])
    event = interviews.decide(
        app,
        candidacy_id,
        principal_of(app, chair),
        consensus,
        "The panel's scores, discussed and agreed." if strong else "Below the bar on the rule.",
    )
    return 0 if event.trigger == spec.passed else 1


def _fire(
    app: App,
    candidacy_id: int,
    spec: TransitionSpec,
    facts: dict[str, object],
    reason: str | None,
    *,
    role: str | None = None,
) -> None:
    role = role or sorted(spec.roles - {"candidate"} or spec.roles)[0]
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=spec.trigger,
            actor=f"demo:{role}",
            role=role,
            reason=reason,
            facts=dict(facts),
        )
    )


def _draw_facts(
    definition: WorkflowDefinition,
    spec: TransitionSpec,
    known: dict[str, object],
    rng: random.Random,
    *,
    hopeful: bool,
    now: datetime,
) -> dict[str, object]:
    """Values for the facts the guards read; hopeful draws retry until the guards hold."""
    names = sorted({name for guard in spec.guards for name in guard.facts})
    invited: dict[str, object] = {}
    if spec.invitation:  # a session at 09:00 Brussels, a week or two after now (simulated)
        day = (now + timedelta(days=rng.randrange(7, 15))).astimezone(BRUSSELS)
        at = day.replace(hour=9, minute=0, second=0, microsecond=0)
        invited = {
            spec.invitation.start: at.isoformat(),
            spec.invitation.location: rng.choice(SESSION_PLACES),
        }
    if not names:
        return invited
    drawn: dict[str, object] = {}
    for _attempt in range(40 if hopeful else 1):
        drawn = {name: _value(definition.facts[name], rng) for name in names}
        merged = {**known, **drawn}
        if all(guard.failure(merged) is None for guard in spec.guards):
            break
    return {**drawn, **invited}


def _value(fact: FactSpec, rng: random.Random) -> object:
    if fact.type == "integer":
        low = fact.minimum if fact.minimum is not None else 0
        high = fact.maximum if fact.maximum is not None else 100
        return rng.randint(low, high)
    if fact.type == "boolean":
        return rng.random() < 0.8
    if fact.type == "choice":
        return rng.choice(fact.choices)
    if fact.type == "date":
        return (datetime(2021, 1, 1) + timedelta(days=rng.randrange(0, 365))).date().isoformat()
    return "yes"


def _pause(rng: random.Random) -> timedelta:
    return timedelta(hours=rng.randrange(20, 24 * 12))


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(
        part for part in "".join(c if c.isalnum() else " " for c in ascii_name).lower().split()
    )


# -- the demo `make run` serves ----------------------------------------------------------

DEMO_USERS = (
    # username, display name, roles, services, interface language
    ("recruiter.dvz", "An Peeters (recruiter, DVZ)", ("recruiter",), ("DVZ",), "nl"),
    ("recruiter.cgvs", "Sophie Dubois (recruiter, CGVS)", ("recruiter",), ("CGVS",), "fr"),
    ("selor", "Selor selection officer", ("selection_officer",), (), "nl"),
    ("panel", "Interview panel chair and hiring manager", ("panel", "hiring_manager"), (), "en"),
    ("panel2", "Interview panel member", ("panel",), (), "nl"),
    ("approver", "Offer approver (four eyes)", ("approver",), (), "en"),
    ("taskforce", "Taskforce member", ("taskforce",), (), "en"),
    ("auditor", "Auditor", ("auditor",), (), "en"),
    ("admin", "Administrator", ("admin",), (), "en"),
)


def seed_demo(
    app: App, *, logins_file: Path, progress: Callable[[str], None] | None = None
) -> bool:
    """On an empty database: the live demo drive and one user per role; False when not empty.

    Passwords are random, written to ``logins_file`` (readable by its owner only)
    and printed each time the demo is served; nothing secret is in the repository.
    """
    from ats.service.users import create_user

    with app.engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(CandidacyRow)).scalar_one():
            return False
    lines = []
    for username, name, roles, services, language in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        create_user(
            app,
            username=username,
            display_name=name,
            roles=roles,
            services=services,
            language=language,
            password=password,
        )
        lines.append(f"{username:<16} {password:<18} {', '.join(roles)} {' '.join(services)}")
    run_demo(app, applicants=300, live=True, progress=progress)  # its panels are these users
    logins_file.parent.mkdir(parents=True, exist_ok=True)
    logins_file.touch(mode=0o600)
    logins_file.write_text(f"# {_database_name(app)}\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return True


def demo_logins(app: App, logins_file: Path) -> list[str] | None:
    """The demo users' lines, if ``logins_file`` was written for this database."""
    if not logins_file.exists():
        return None
    first, *rest = logins_file.read_text(encoding="utf-8").splitlines() or [""]
    return rest if first == f"# {_database_name(app)}" else None


def _database_name(app: App) -> str:
    from sqlalchemy.engine import make_url

    return make_url(app.settings.database_url).render_as_string(hide_password=True)
