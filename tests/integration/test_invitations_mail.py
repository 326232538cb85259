"""Selor and interview invitations travel with the mail: request, reschedule, cancel."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path

import icalendar
import pytest
import vobject

from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.interviews import set_panel
from ats.service.outbox import relay
from ats.service.setup import initialise
from ats.service.users import create_user
from ats.settings import Settings
from tests.conftest import REPO, walk


@pytest.fixture
def mail_app(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[App]:
    app = bootstrap(
        Settings(home=REPO, database_url=database_url, mail_dir=str(tmp_path / "mail")),
        clock=clock,
    )
    initialise(app)
    try:
        yield app
    finally:
        app.close()


def _calendars(app: App) -> list[tuple[str, icalendar.Calendar]]:
    """(Message-ID, calendar) of every mail written, in the order written."""
    found = []
    for path in sorted(app.settings.mail_folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.strict)
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                text = part.get_content()
                vobject.readOne(text).validate()  # a second, independent parser agrees
                found.append((message["Message-ID"], icalendar.Calendar.from_ical(text)))
    return found


def _fire(app: App, candidacy_id: int, trigger: str, role: str = "recruiter", **facts: str) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=trigger,
            actor=f"{role}:t",
            role=role,
            reason="no longer available",
            facts=facts,
        )
    )


def test_invitation_reschedule_and_cancellation_share_one_uid(mail_app: App) -> None:
    app = mail_app
    candidacy_id = int(
        app.handle(
            Apply(vacancy="DVZ-SEC-W1", name="Zoë Peeters", email="z@example.org", language="nl")
        )
    )
    _fire(app, candidacy_id, "screen", diploma_level="master")
    _fire(
        app,
        candidacy_id,
        "invite_to_selor",
        selor_session_at="2021-07-24T09:00",  # a Saturday session, Brussels time
        selor_session_place="Selor, Bischoffsheimlaan 15, Brussel",
    )
    _fire(app, candidacy_id, "reschedule_selor", selor_session_at="2021-07-31T13:30")
    _fire(app, candidacy_id, "withdraw", role="candidate")
    relay(app)

    calendars = _calendars(app)
    assert [c.get("METHOD") for _, c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    events = [next(iter(c.walk("VEVENT"))) for _, c in calendars]
    assert len({str(e["UID"]) for e in events}) == 1
    sequences = [int(e["SEQUENCE"]) for e in events]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3
    first, moved, cancelled = events
    assert first.decoded("DTSTART").isoformat() == "2021-07-24T09:00:00+02:00"
    assert moved.decoded("DTSTART").isoformat() == "2021-07-31T13:30:00+02:00"
    assert (moved.decoded("DTEND") - moved.decoded("DTSTART")).total_seconds() == 3 * 3600
    assert str(first["LOCATION"]) == "Selor, Bischoffsheimlaan 15, Brussel"
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(first["ATTENDEE"]) == "mailto:z@example.org"
    assert all(c.walk("VTIMEZONE") for _, c in calendars)


def test_a_session_that_took_place_is_not_cancelled(mail_app: App, clock: ManualClock) -> None:
    app = mail_app
    candidacy_id = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="Jo", email="jo@example.org", language="fr"))
    )
    _fire(app, candidacy_id, "screen", diploma_level="master")
    _fire(
        app,
        candidacy_id,
        "invite_to_selor",
        selor_session_at="2021-07-03T09:00",
        selor_session_place="Selor",
    )
    clock.set(clock.now().replace(month=7, day=10))
    _fire(app, candidacy_id, "fail_selor", role="selor", selor_score="20")
    relay(app)
    assert [c.get("METHOD") for _, c in _calendars(app)] == ["REQUEST"]


def _mails(app: App) -> list[email.message.EmailMessage]:
    paths = sorted(app.settings.mail_folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in paths
    ]


def test_the_panel_members_get_the_interview_its_move_and_its_cancellation(
    mail_app: App,
) -> None:
    """Each panel member with an address gets the interview's calendar entry (same UID as the
    candidate's, themselves as attendee) in their own language, with a link to the scorecard
    page and never the candidate's status link; a member without an address gets nothing."""
    app = mail_app
    create_user(
        app,
        username="wim",
        display_name="Wim Vermeulen",
        roles=["panel"],
        email="wim@ibz.example",
        language="fr",
    )
    create_user(
        app, username="ines", display_name="Ines Maes", roles=["panel"], email="ines@ibz.example"
    )
    create_user(app, username="karel", display_name="Karel Goossens", roles=["panel"])  # no address
    set_panel(
        app, "DVZ-SEC-W1", ["wim", "ines", "karel"], "wim", actor="recruiter:t", role="recruiter"
    )
    candidacy_id = int(
        app.handle(
            Apply(vacancy="DVZ-SEC-W1", name="Zoë Peeters", email="z@example.org", language="nl")
        )
    )
    walk(app, candidacy_id, "awaiting_interview")
    relay(app)
    before = len(_mails(app))
    _fire(
        app,
        candidacy_id,
        "invite_to_interview",
        interview_at="2031-07-24T10:00",
        interview_place="Noordgebouw, lokaal 2.14",
    )
    _fire(
        app,
        candidacy_id,
        "reschedule_interview",
        interview_at="2031-07-25T14:00",
        interview_place="Noordgebouw, lokaal 2.14",
    )
    _fire(app, candidacy_id, "withdraw", role="candidate")
    assert relay(app).dead == 0
    mails = _mails(app)[before:]
    to_staff = [m for m in mails if m["To"].addresses[0].addr_spec.endswith("@ibz.example")]
    assert sorted({m["To"].addresses[0].addr_spec for m in to_staff}) == [
        "ines@ibz.example",
        "wim@ibz.example",
    ]
    assert len(to_staff) == 6  # request, move, cancellation, for each of the two
    by_member = {
        addr: [m for m in to_staff if m["To"].addresses[0].addr_spec == addr]
        for addr in ("wim@ibz.example", "ines@ibz.example")
    }
    wim = by_member["wim@ibz.example"]
    assert (
        wim[0]["Subject"]
        == "Entretien de sélection avec Zoë Peeters – " + wim[0]["Subject"].split(" – ", 1)[1]
    )
    assert wim[2]["Subject"].startswith("Annulé : entretien de sélection avec Zoë Peeters")
    body = wim[0].get_body(("plain",)).get_content()
    assert f"/candidacies/{candidacy_id}/interview" in body
    assert "/status/" not in body
    assert "/status/" not in wim[0].get_body(("html",)).get_content()
    calendars = _calendars(app)
    candidate_uid = None
    for _message_id, calendar in calendars:
        event = next(iter(calendar.walk("VEVENT")))
        if str(event["ATTENDEE"]) == "mailto:z@example.org":
            candidate_uid = str(event["UID"])
    staff_events = [
        (str(calendar.get("METHOD")), next(iter(calendar.walk("VEVENT"))))
        for _, calendar in calendars
        if str(next(iter(calendar.walk("VEVENT")))["ATTENDEE"]) == "mailto:wim@ibz.example"
    ]
    assert [method for method, _ in staff_events] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {str(e["UID"]) for _, e in staff_events} == {candidate_uid}
    assert staff_events[1][1].decoded("DTSTART").isoformat() == "2031-07-25T14:00:00+02:00"


def test_a_panel_change_invites_who_joined_and_cancels_for_who_left(mail_app: App) -> None:
    """Seated after the invitation, a member still gets the interview; a member taken off the
    panel gets its cancellation; the candidate's own calendar entry is untouched and is still
    cancelled when the candidacy ends."""
    app = mail_app
    for username, address in (("wim", "wim@ibz.example"), ("ines", "ines@ibz.example")):
        create_user(
            app, username=username, display_name=username.title(), roles=["panel"], email=address
        )
    create_user(
        app, username="karel", display_name="Karel", roles=["panel"], email="karel@ibz.example"
    )
    set_panel(app, "DVZ-SEC-W1", ["wim", "ines"], "wim", actor="recruiter:t", role="recruiter")
    candidacy_id = int(
        app.handle(
            Apply(vacancy="DVZ-SEC-W1", name="Jo Smet", email="jo@example.org", language="nl")
        )
    )
    walk(app, candidacy_id, "awaiting_interview")
    _fire(
        app,
        candidacy_id,
        "invite_to_interview",
        interview_at="2031-07-24T10:00",
        interview_place="Noordgebouw, lokaal 2.14",
    )
    relay(app)
    seen = len(_calendars(app))
    set_panel(app, "DVZ-SEC-W1", ["wim", "karel"], "wim", actor="recruiter:t", role="recruiter")
    set_panel(app, "DVZ-SEC-W1", ["wim", "karel"], "wim", actor="recruiter:t", role="recruiter")
    relay(app)

    def attendee(calendar: icalendar.Calendar) -> str:
        return str(next(iter(calendar.walk("VEVENT")))["ATTENDEE"]).removeprefix("mailto:")

    changed = [(attendee(c), str(c.get("METHOD"))) for _, c in _calendars(app)[seen:]]
    assert sorted(changed) == [("ines@ibz.example", "CANCEL"), ("karel@ibz.example", "REQUEST")]
    _fire(app, candidacy_id, "withdraw", role="candidate")
    relay(app)
    ended = [(attendee(c), str(c.get("METHOD"))) for _, c in _calendars(app)[seen + 2 :]]
    assert sorted(ended) == [
        ("jo@example.org", "CANCEL"),
        ("karel@ibz.example", "CANCEL"),
        ("wim@ibz.example", "CANCEL"),
    ]
