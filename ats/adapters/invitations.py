"""Calendar invitations (RFC 5545 / RFC 5546 iTIP) for Selor test sessions and interviews.

A candidate's calendar client recognises an appointment by its UID and orders
updates by SEQUENCE, so the caller keeps the UID stable per candidacy and step
and raises the sequence on every reschedule; a cancellation is the same UID
sent with ``METHOD:CANCEL``. Times are written as Brussels wall time with a
VTIMEZONE generated from the tz database, so a session stays at 09:00 on the
candidate's screen whichever side of a daylight-saving change it falls. Line
folding, escaping and parameter quoting are left to ``icalendar``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import PARTSTAT, ROLE, STATUS, Calendar, Event, Timezone, vCalAddress

__all__ = ["PRODID", "TZID", "Invitation", "Method", "build_ics"]

PRODID = "-//ATS//Hiring drive//EN"
TZID = "Europe/Brussels"
BRUSSELS = ZoneInfo(TZID)

Method = Literal["REQUEST", "CANCEL"]
_METHODS: frozenset[str] = frozenset(("REQUEST", "CANCEL"))


@dataclass(frozen=True, kw_only=True)
class Invitation:
    """One appointment as sent to one candidate; invalid values are refused on construction.

    ``uid`` is supplied by the caller and must not change between the first
    invitation, its reschedules and its cancellation (e.g.
    ``f"candidacy-{id}-selor_test@ats"``). ``sequence`` starts at 0 and grows by
    one with every reschedule, and with the cancellation too, so clients apply
    each message over the previous one.
    """

    uid: str
    sequence: int
    method: Method
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str = ""
    organiser_name: str
    organiser_email: str
    attendee_name: str
    attendee_email: str
    stamp: datetime

    def __post_init__(self) -> None:
        if not self.uid or _has_control_character(self.uid):
            raise ValueError("uid must be non-empty and free of control characters (CR/LF)")
        if self.method not in _METHODS:
            raise ValueError(f"method must be REQUEST or CANCEL, not {self.method!r}")
        if self.sequence < 0:
            raise ValueError(f"sequence must be 0 or more, not {self.sequence}")
        for field in ("start", "end", "stamp"):
            _require_aware(field, getattr(self, field))
        if self.end <= self.start:
            raise ValueError(
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})"
            )
        for field in ("organiser_name", "attendee_name"):
            if _has_control_character(getattr(self, field)):
                raise ValueError(f"{field} must not contain control characters (CR/LF)")
        for field in ("organiser_email", "attendee_email"):
            _require_email(field, getattr(self, field))


def build_ics(invitation: Invitation) -> bytes:
    """Render the invitation as an iCalendar object (CRLF lines, UTF-8) for a text/calendar part.

    The same invitation always yields the same bytes, so a message resent
    after a crash carries an identical attachment.
    """
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", invitation.method)
    calendar.add_component(_brussels_timezone(invitation.start.date(), invitation.end.date()))

    # Calendar.new/Event.new would add a random UID or the current time; ours are explicit.
    event = Event()
    event.add("UID", invitation.uid)
    event.add("SEQUENCE", invitation.sequence)
    event.add("DTSTAMP", invitation.stamp.astimezone(UTC))
    event.add("DTSTART", invitation.start.astimezone(BRUSSELS))
    event.add("DTEND", invitation.end.astimezone(BRUSSELS))
    event.add("SUMMARY", invitation.summary)
    event.add("LOCATION", invitation.location)
    if invitation.description:
        event.add("DESCRIPTION", invitation.description)
    event.add(
        "ORGANIZER", vCalAddress.new(invitation.organiser_email, cn=invitation.organiser_name)
    )
    event.add(
        "ATTENDEE",
        vCalAddress.new(
            invitation.attendee_email,
            cn=invitation.attendee_name,
            role=ROLE.REQ_PARTICIPANT,
            partstat=PARTSTAT.NEEDS_ACTION,
            rsvp=True,
        ),
    )
    event.add("STATUS", STATUS.CANCELLED if invitation.method == "CANCEL" else STATUS.CONFIRMED)
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()  # icalendar leaves to_ical's return type unannotated
    return ics


def _brussels_timezone(first: date, last: date) -> Timezone:
    """The Europe/Brussels VTIMEZONE for the calendar years the event touches.

    A window of whole years keeps the component short (one DAYLIGHT and two
    STANDARD observances a year) while always holding both kinds.
    """
    return Timezone.from_tzid(
        TZID, first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1)
    )


def _require_aware(field: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware, not naive ({value.isoformat()})")


def _require_email(field: str, value: str) -> None:
    # The address becomes a mailto: URI inside a content line: whitespace or a
    # control character there would break the line or forge another property.
    local, at, domain = value.partition("@")
    if not at or not local or not domain:
        raise ValueError(f"{field} must be an email address with '@', not {value!r}")
    if any(character.isspace() for character in value) or _has_control_character(value):
        raise ValueError(f"{field} must not contain whitespace or control characters (CR/LF)")


def _has_control_character(value: str) -> bool:
    # RFC 5545 parameter values (CN) may not hold CONTROL characters, and CR/LF
    # in a name or address is the classic way to smuggle in a property.
    return any(unicodedata.category(character) == "Cc" for character in value)
