"""Calendar invitations parse with ``icalendar``, validate with ``vobject`` and keep Brussels wall time.

Every invitation is read back by two independent parsers: ``icalendar`` (which
built it) and ``vobject``. vobject resolves ``TZID=Europe/Brussels`` through the
VTIMEZONE inside the file rather than the tz database, so the UTC instants it
reports check the generated VTIMEZONE itself.

2027 dates used: spring forward Sun 28 Mar, fall back Sun 31 Oct; Sat 27 Mar and
Sat 30 Oct are the last days before each change.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from ats.adapters.invitations import Invitation, build_ics

BRUSSELS = ZoneInfo("Europe/Brussels")
UID = "candidacy-42-selor_test@ats"

BASE = Invitation(
    uid=UID,
    sequence=0,
    method="REQUEST",
    start=datetime(2027, 3, 27, 9, 0, tzinfo=BRUSSELS),
    end=datetime(2027, 3, 27, 12, 0, tzinfo=BRUSSELS),
    summary="Selor test: computer-based reasoning",
    location="Selor test centre, Bolwerklaan 21, 1210 Brussel",
    description="Bring your identity card.",
    organiser_name="Selor recruitment",
    organiser_email="selor@example.be",
    attendee_name="An Peeters",
    attendee_email="an.peeters@example.be",
    stamp=datetime(2027, 3, 1, 8, 30, tzinfo=UTC),
)


def invitation(**changes: Any) -> Invitation:
    return dataclasses.replace(BASE, **changes)


def parsed(ics: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(ics)


def event(ics: bytes) -> icalendar.Event:
    events = parsed(ics).events
    assert len(events) == 1
    return events[0]


def vcalendar(ics: bytes) -> Any:
    """Read with vobject and run its validation, which raises on a malformed component."""
    component = vobject.readOne(ics.decode("utf-8"))
    assert component.validate()
    return component


# -- structure ---------------------------------------------------------------------------------


def test_a_request_carries_prodid_version_method_uid_and_sequence() -> None:
    """The calendar says who made it and that it is a REQUEST; the event has the caller's UID."""
    calendar = parsed(build_ics(BASE))
    vevent = event(build_ics(BASE))

    assert calendar["PRODID"] == "-//ATS//Hiring drive//EN"
    assert calendar["VERSION"] == "2.0"
    assert calendar["METHOD"] == "REQUEST"
    assert vevent["UID"] == UID
    assert vevent["SEQUENCE"] == 0
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["SUMMARY"] == BASE.summary
    assert vevent["LOCATION"] == BASE.location
    assert vevent["DESCRIPTION"] == BASE.description


def test_an_invitation_validates_with_vobject_and_survives_its_serialisation() -> None:
    """vobject accepts the file, and its re-serialisation reads back to the same event."""
    component = vcalendar(build_ics(BASE))

    assert component.method.value == "REQUEST"
    assert component.vevent.uid.value == UID
    again = vcalendar(component.serialize().encode("utf-8"))
    assert again.vevent.uid.value == UID
    assert again.vevent.dtstart.value == component.vevent.dtstart.value
    assert again.vevent.summary.value == BASE.summary


def test_the_output_is_crlf_lines_folded_at_75_octets() -> None:
    """RFC 5545 lines: CRLF endings and no line over 75 octets, even with long non-ASCII text."""
    ics = build_ics(invitation(summary="Épreuve de sélection — Zoë Müller " * 10))

    assert ics.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in ics.replace(b"\r\n", b"")
    assert max(len(line) for line in ics.split(b"\r\n")) <= 75
    assert event(ics)["SUMMARY"] == "Épreuve de sélection — Zoë Müller " * 10


def test_the_same_invitation_always_yields_the_same_bytes() -> None:
    """No random UID or current time sneaks in, so a resend after a crash is byte-identical."""
    assert build_ics(BASE) == build_ics(dataclasses.replace(BASE))


def test_an_empty_description_is_left_out() -> None:
    """DESCRIPTION is optional; an empty one is not written."""
    assert "DESCRIPTION" not in event(build_ics(invitation(description="")))


# -- time zone ---------------------------------------------------------------------------------


def test_the_calendar_holds_a_brussels_vtimezone_with_standard_and_daylight_time() -> None:
    """A VTIMEZONE for Europe/Brussels precedes the event and has both observances."""
    ics = build_ics(BASE)
    calendar = parsed(ics)

    assert [tz["TZID"] for tz in calendar.timezones] == ["Europe/Brussels"]
    assert calendar.timezones[0].standard
    assert calendar.timezones[0].daylight
    assert calendar.get_missing_tzids() == set()
    assert ics.index(b"BEGIN:VTIMEZONE") < ics.index(b"BEGIN:VEVENT")
    vtimezone = vcalendar(ics).vtimezone
    assert vtimezone.tzid.value == "Europe/Brussels"
    assert "standard" in vtimezone.contents
    assert "daylight" in vtimezone.contents


def test_start_and_end_are_written_as_brussels_wall_time_with_tzid() -> None:
    """DTSTART and DTEND carry TZID=Europe/Brussels and the local time, not UTC."""
    ics = build_ics(BASE)

    assert b"DTSTART;TZID=Europe/Brussels:20270327T090000\r\n" in ics
    assert b"DTEND;TZID=Europe/Brussels:20270327T120000\r\n" in ics


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        pytest.param(datetime(2027, 3, 27, 9), datetime(2027, 3, 27, 8), id="sat-before-spring"),
        pytest.param(datetime(2027, 3, 29, 9), datetime(2027, 3, 29, 7), id="mon-after-spring"),
        pytest.param(datetime(2027, 7, 3, 9), datetime(2027, 7, 3, 7), id="summer"),
        pytest.param(datetime(2027, 10, 30, 9), datetime(2027, 10, 30, 7), id="sat-before-fall"),
        pytest.param(datetime(2027, 11, 2, 9), datetime(2027, 11, 2, 8), id="tue-after-fall"),
        pytest.param(datetime(2028, 3, 25, 9), datetime(2028, 3, 25, 8), id="next-year"),
    ],
)
def test_the_local_wall_time_maps_to_the_right_instant_in_both_parsers(
    local: datetime, utc: datetime
) -> None:
    """09:00 in Brussels reads back as 09:00 local and as the right UTC instant on either side of DST."""
    start = local.replace(tzinfo=BRUSSELS)
    ics = build_ics(invitation(start=start, end=start + timedelta(hours=2), stamp=start))
    expected = utc.replace(tzinfo=UTC)

    dtstart = event(ics).start
    assert dtstart.replace(tzinfo=None) == local
    assert dtstart.astimezone(UTC) == expected
    # vobject resolves the TZID through the file's own VTIMEZONE.
    vevent = vcalendar(ics).vevent
    assert vevent.dtstart.value.replace(tzinfo=None) == local
    assert vevent.dtstart.value.astimezone(UTC) == expected
    assert vevent.dtend.value.astimezone(UTC) == expected + timedelta(hours=2)


def test_times_given_in_another_zone_are_converted_to_brussels() -> None:
    """An aware start in UTC or a fixed offset is written as the Brussels wall time of that instant."""
    ics = build_ics(
        invitation(
            start=datetime(2027, 7, 3, 7, 0, tzinfo=UTC),
            end=datetime(2027, 7, 3, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        )
    )

    assert b"DTSTART;TZID=Europe/Brussels:20270703T090000\r\n" in ics
    assert b"DTEND;TZID=Europe/Brussels:20270703T110000\r\n" in ics


def test_the_stamp_is_written_in_utc() -> None:
    """DTSTAMP is a UTC date-time (Z suffix) whatever zone the caller gave."""
    ics = build_ics(invitation(stamp=datetime(2027, 3, 1, 10, 0, tzinfo=BRUSSELS)))

    assert b"DTSTAMP:20270301T090000Z\r\n" in ics
    assert event(ics).stamp == datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


# -- people ------------------------------------------------------------------------------------


def test_organiser_and_attendee_are_mailto_addresses_with_their_names() -> None:
    """ORGANIZER has CN; ATTENDEE has CN and asks the candidate to answer as a required participant."""
    vevent = event(build_ics(BASE))

    organizer = vevent["ORGANIZER"]
    assert organizer == "mailto:selor@example.be"
    assert organizer.params["CN"] == "Selor recruitment"
    attendee = vevent["ATTENDEE"]
    assert attendee == "mailto:an.peeters@example.be"
    assert attendee.params["CN"] == "An Peeters"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"
    component = vcalendar(build_ics(BASE)).vevent
    assert component.organizer.value == "mailto:selor@example.be"
    assert component.attendee.value == "mailto:an.peeters@example.be"
    assert component.attendee.params["CN"] == ["An Peeters"]


def test_names_with_commas_colons_and_semicolons_stay_one_parameter() -> None:
    """A name that looks like parameter syntax is quoted by icalendar and reads back whole."""
    name = "Dupont, Anne-Sophie; dite: Zoë"
    vevent = event(build_ics(invitation(attendee_name=name, organiser_name=name)))

    assert vevent["ATTENDEE"].params["CN"] == name
    assert vevent["ATTENDEE"] == "mailto:an.peeters@example.be"
    assert vevent["ORGANIZER"].params["CN"] == name
    assert vcalendar(build_ics(invitation(attendee_name=name))).vevent.attendee.params["CN"] == [
        name
    ]


# -- rescheduling and cancelling ---------------------------------------------------------------


def test_a_reschedule_keeps_the_uid_and_raises_the_sequence() -> None:
    """The same UID with SEQUENCE 1 and the new time replaces the first invitation in the client."""
    moved = datetime(2027, 4, 3, 13, 30, tzinfo=BRUSSELS)
    ics = build_ics(invitation(sequence=1, start=moved, end=moved + timedelta(hours=3)))
    vevent = event(ics)

    assert parsed(ics)["METHOD"] == "REQUEST"
    assert vevent["UID"] == UID
    assert vevent["SEQUENCE"] == 1
    assert vevent.start == moved
    assert vcalendar(ics).vevent.sequence.value == "1"


def test_a_cancellation_has_method_cancel_status_cancelled_and_the_same_uid() -> None:
    """METHOD:CANCEL with STATUS:CANCELLED on the original UID removes the appointment."""
    ics = build_ics(invitation(method="CANCEL", sequence=2))
    vevent = event(ics)

    assert parsed(ics)["METHOD"] == "CANCEL"
    assert vevent["STATUS"] == "CANCELLED"
    assert vevent["UID"] == UID
    assert vevent["SEQUENCE"] == 2
    component = vcalendar(ics)
    assert component.method.value == "CANCEL"
    assert component.vevent.status.value == "CANCELLED"


# -- text --------------------------------------------------------------------------------------


def test_non_ascii_text_survives_the_round_trip() -> None:
    """é, ë and ü in summary, location and names come back unchanged from both parsers."""
    ics = build_ics(
        invitation(
            summary="Épreuve Selor — Zoë",
            location="Gebäude Süd, Liège",
            attendee_name="Zoë Müller-Hélène",
        )
    )
    vevent = event(ics)

    assert vevent["SUMMARY"] == "Épreuve Selor — Zoë"
    assert vevent["LOCATION"] == "Gebäude Süd, Liège"
    assert vevent["ATTENDEE"].params["CN"] == "Zoë Müller-Hélène"
    component = vcalendar(ics).vevent
    assert component.summary.value == "Épreuve Selor — Zoë"
    assert component.location.value == "Gebäude Süd, Liège"


def test_a_description_with_newline_comma_semicolon_and_backslash_round_trips() -> None:
    """TEXT escaping is icalendar's: the raw line holds \\n, \\, and \\; and parsers undo it."""
    description = "Room 2.14, second floor;\nbring ID\\passport"
    ics = build_ics(invitation(description=description))

    assert b"DESCRIPTION:Room 2.14\\, second floor\\;\\nbring ID\\\\passport\r\n" in ics
    assert event(ics)["DESCRIPTION"] == description
    assert vcalendar(ics).vevent.description.value == description


def test_a_line_break_in_free_text_cannot_add_a_property() -> None:
    """CR/LF in summary or location is escaped, so a smuggled ATTENDEE stays text."""
    payload = "Interview\r\nATTENDEE:mailto:intruder@example.com"
    ics = build_ics(invitation(summary=payload, location=payload))
    vevent = event(ics)

    assert vevent["ATTENDEE"] == "mailto:an.peeters@example.be"
    assert b"intruder@example.com" not in b"".join(
        line for line in ics.split(b"\r\n") if line.startswith(b"ATTENDEE")
    )
    assert "ATTENDEE:mailto:intruder@example.com" in vevent["SUMMARY"]
    assert len(vcalendar(ics).vevent.contents["attendee"]) == 1


# -- refused input -----------------------------------------------------------------------------

NAIVE = datetime(2027, 3, 27, 9, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("uid", "", id="empty-uid"),
        pytest.param("uid", "candidacy-42\r\nSEQUENCE:99", id="uid-crlf"),
        pytest.param("sequence", -1, id="negative-sequence"),
        pytest.param("method", "PUBLISH", id="method-publish"),
        pytest.param("method", "request", id="method-lowercase"),
        pytest.param("start", NAIVE, id="naive-start"),
        pytest.param("end", NAIVE + timedelta(hours=3), id="naive-end"),
        pytest.param("stamp", NAIVE, id="naive-stamp"),
        pytest.param("end", BASE.start, id="end-equals-start"),
        pytest.param("end", BASE.start - timedelta(minutes=1), id="end-before-start"),
        pytest.param("organiser_email", "selor.example.be", id="organiser-email-no-at"),
        pytest.param("attendee_email", "an.peeters", id="attendee-email-no-at"),
        pytest.param("attendee_email", "@example.be", id="attendee-email-no-local-part"),
        pytest.param("attendee_email", "an@", id="attendee-email-no-domain"),
        pytest.param(
            "attendee_email", "an@example.be\r\nATTENDEE:mailto:x@y.z", id="attendee-email-crlf"
        ),
        pytest.param("organiser_email", "selor@example.be\n", id="organiser-email-lf"),
        pytest.param("attendee_email", "an peeters@example.be", id="attendee-email-space"),
        pytest.param(
            "attendee_name", "An\r\nATTENDEE:mailto:intruder@example.com", id="attendee-name-crlf"
        ),
        pytest.param("attendee_name", "An\nPeeters", id="attendee-name-lf"),
        pytest.param("organiser_name", "Selor\rrecruitment", id="organiser-name-cr"),
    ],
)
def test_bad_input_is_refused_with_a_value_error_naming_the_field(field: str, value: Any) -> None:
    """Constructing the invitation fails, and the message starts with the offending field."""
    with pytest.raises(ValueError, match=rf"^{field} "):
        invitation(**{field: value})


def test_an_aware_end_before_a_start_in_another_zone_is_refused() -> None:
    """Order is judged on instants: 09:30 Brussels in winter is before 09:00 UTC."""
    with pytest.raises(ValueError, match=r"^end "):
        invitation(
            start=datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
            end=datetime(2027, 3, 27, 9, 30, tzinfo=BRUSSELS),
        )
