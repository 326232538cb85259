"""Deadlines on the working calendar: plain days, working days and Selor days in Brussels.

Pure arithmetic, no database. Every case runs on ``WorkingCalendar(belgian_holiday,
Europe/Brussels)``, the calendar the application is built with. Times in the tables are
written as local Brussels times with their UTC offset, so each case states both the wall
time it expects and which side of a DST change it lands on.

The 2027 dates used: New Year Fri 1 Jan, spring forward Sun 28 Mar (Easter Sunday),
Easter Monday 29 Mar, Labour Day Sat 1 May, Ascension Thu 6 May, Whit Monday 17 May,
National Day Wed 21 Jul, Assumption Sun 15 Aug, fall back Sun 31 Oct, All Saints Mon
1 Nov, Armistice Thu 11 Nov, Christmas Sat 25 Dec; New Year 2028 is a Saturday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.adapters.holidays_be import belgian_holiday
from ats.domain.calendar import WorkingCalendar
from ats.domain.workflow import Duration, parse_duration

BRUSSELS = ZoneInfo("Europe/Brussels")
CALENDAR = WorkingCalendar(belgian_holiday, BRUSSELS)
UNITS = ("days", "working days", "selor days")
COUNTED_UNITS = ("working days", "selor days")

# An oracle that does not go through the adapter: the `holidays` package's Belgian list,
# read directly, for the years the property tests roam over (and one either side).
BELGIAN_HOLIDAYS = frozenset(holidays.country_holidays("BE", years=range(2025, 2032)))


def counts_by_oracle(day: date, unit: str) -> bool:
    """Independent statement of the rule: which days count towards ``unit``."""
    if unit == "days":
        return True
    if day in BELGIAN_HOLIDAYS or day.weekday() == 6:
        return False
    return day.weekday() != 5 or unit == "selor days"


def at(text: str) -> datetime:
    """An aware datetime from ISO text with an offset, e.g. '2027-03-26T09:00+01:00'."""
    instant = datetime.fromisoformat(text)
    assert instant.tzinfo is not None, text
    return instant


def local(instant: datetime) -> datetime:
    return instant.astimezone(BRUSSELS)


def wall(instant: datetime) -> tuple[int, int, int, int]:
    """The local wall-clock time of an instant (fold ignored)."""
    t = local(instant).time()
    return (t.hour, t.minute, t.second, t.microsecond)


def assert_utc(instant: datetime) -> None:
    assert instant.tzinfo is UTC, f"{instant!r} is not handed back in UTC"


# -- which days count ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2027, 3, 26), (True, True, True), id="friday-26-march"),
        pytest.param(date(2027, 3, 27), (True, False, True), id="saturday"),
        pytest.param(date(2027, 3, 28), (True, False, False), id="easter-sunday"),
        pytest.param(date(2027, 3, 29), (True, False, False), id="easter-monday"),
        pytest.param(date(2027, 3, 30), (True, True, True), id="tuesday-after-easter"),
        pytest.param(date(2027, 5, 1), (True, False, False), id="labour-day-on-a-saturday"),
        pytest.param(date(2027, 5, 6), (True, False, False), id="ascension"),
        pytest.param(date(2027, 5, 17), (True, False, False), id="whit-monday"),
        pytest.param(date(2027, 7, 21), (True, False, False), id="national-day"),
        pytest.param(date(2027, 8, 15), (True, False, False), id="assumption-on-a-sunday"),
        pytest.param(date(2026, 8, 15), (True, False, False), id="assumption-on-a-saturday"),
        pytest.param(date(2028, 8, 15), (True, False, False), id="assumption-on-a-tuesday"),
        pytest.param(date(2027, 11, 1), (True, False, False), id="all-saints"),
        pytest.param(date(2027, 11, 11), (True, False, False), id="armistice"),
        pytest.param(date(2027, 12, 25), (True, False, False), id="christmas-on-a-saturday"),
        pytest.param(date(2027, 12, 26), (True, False, False), id="sunday-26-december"),
        pytest.param(date(2027, 12, 27), (True, True, True), id="monday-27-december"),
        pytest.param(date(2028, 1, 1), (True, False, False), id="new-year-on-a-saturday"),
        pytest.param(date(2027, 1, 1), (True, False, False), id="new-year-on-a-friday"),
    ],
)
def test_counts_every_day_as_a_day_weekdays_as_working_days_and_saturdays_as_selor_days(
    day: date, expected: tuple[bool, bool, bool]
) -> None:
    """Every day counts as a day; Saturdays count only as Selor days; Sundays and public
    holidays (also when they fall on a Saturday) count only as plain days."""
    assert tuple(CALENDAR.counts(day, unit) for unit in UNITS) == expected


def test_the_holidays_off_on_weekdays_and_saturdays_of_2027_are_the_nine_legal_ones() -> None:
    """Of the ten legal holidays of 2027, Assumption falls on a Sunday; the other nine are
    the only Monday-to-Saturday dates of 2027 the adapter calls holidays."""
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(365)]
    off = [day for day in days if day.weekday() != 6 and belgian_holiday(day)]
    assert off == [
        date(2027, 1, 1),
        date(2027, 3, 29),
        date(2027, 5, 1),
        date(2027, 5, 6),
        date(2027, 5, 17),
        date(2027, 7, 21),
        date(2027, 11, 1),
        date(2027, 11, 11),
        date(2027, 12, 25),
    ]


# -- adding and subtracting across holidays and DST ------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "unit", "due"),
    [
        # Easter Monday, and the spring-forward Sunday before it.
        pytest.param(
            "2027-03-26T09:00+01:00",
            1,
            "working days",
            "2027-03-30T09:00+02:00",
            id="working-day-skips-weekend-and-easter-monday-across-spring-forward",
        ),
        pytest.param(
            "2027-03-26T09:00+01:00",
            1,
            "selor days",
            "2027-03-27T09:00+01:00",
            id="selor-day-lands-on-the-saturday",
        ),
        pytest.param(
            "2027-03-26T09:00+01:00",
            2,
            "selor days",
            "2027-03-30T09:00+02:00",
            id="selor-days-skip-easter-sunday-and-easter-monday",
        ),
        pytest.param(
            "2027-03-24T09:00+01:00",
            10,
            "working days",
            "2027-04-08T09:00+02:00",
            id="ten-working-days-over-easter",
        ),
        # Labour Day on a Saturday: off for Selor days too.
        pytest.param(
            "2027-04-30T10:00+02:00",
            1,
            "selor days",
            "2027-05-03T10:00+02:00",
            id="selor-day-skips-labour-day-saturday",
        ),
        pytest.param(
            "2027-04-30T10:00+02:00",
            1,
            "working days",
            "2027-05-03T10:00+02:00",
            id="working-day-skips-the-weekend",
        ),
        # Ascension (Thursday) and Whit Monday.
        pytest.param(
            "2027-05-05T10:00+02:00",
            1,
            "working days",
            "2027-05-07T10:00+02:00",
            id="working-day-skips-ascension",
        ),
        pytest.param(
            "2027-05-05T10:00+02:00",
            1,
            "selor days",
            "2027-05-07T10:00+02:00",
            id="selor-day-skips-ascension",
        ),
        pytest.param(
            "2027-05-05T10:00+02:00",
            10,
            "working days",
            "2027-05-21T10:00+02:00",
            id="ten-working-days-over-ascension-and-whit-monday",
        ),
        pytest.param(
            "2027-05-14T10:00+02:00",
            1,
            "working days",
            "2027-05-18T10:00+02:00",
            id="working-day-skips-whit-monday",
        ),
        pytest.param(
            "2027-05-14T10:00+02:00",
            2,
            "selor days",
            "2027-05-18T10:00+02:00",
            id="selor-days-count-the-saturday-but-not-whit-monday",
        ),
        # 21 July and 15 August.
        pytest.param(
            "2027-07-20T14:30+02:00",
            1,
            "working days",
            "2027-07-22T14:30+02:00",
            id="working-day-skips-national-day",
        ),
        pytest.param(
            "2028-08-14T14:30+02:00",
            1,
            "working days",
            "2028-08-16T14:30+02:00",
            id="working-day-skips-assumption-on-a-tuesday",
        ),
        pytest.param(
            "2026-08-14T14:30+02:00",
            1,
            "selor days",
            "2026-08-17T14:30+02:00",
            id="selor-day-skips-assumption-on-a-saturday",
        ),
        # Fall back on Sunday 31 October, then All Saints on the Monday; Armistice.
        pytest.param(
            "2027-10-29T09:00+02:00",
            1,
            "working days",
            "2027-11-02T09:00+01:00",
            id="working-day-skips-all-saints-across-fall-back",
        ),
        pytest.param(
            "2027-10-29T09:00+02:00",
            2,
            "selor days",
            "2027-11-02T09:00+01:00",
            id="selor-days-count-the-saturday-skip-all-saints-across-fall-back",
        ),
        pytest.param(
            "2027-11-10T16:00+01:00",
            1,
            "working days",
            "2027-11-12T16:00+01:00",
            id="working-day-skips-armistice",
        ),
        # Christmas and New Year.
        pytest.param(
            "2026-12-24T11:00+01:00",
            1,
            "working days",
            "2026-12-28T11:00+01:00",
            id="working-day-skips-christmas-on-a-friday",
        ),
        pytest.param(
            "2027-12-24T11:00+01:00",
            1,
            "selor days",
            "2027-12-27T11:00+01:00",
            id="selor-day-skips-christmas-on-a-saturday",
        ),
        pytest.param(
            "2028-12-22T11:00+01:00",
            1,
            "working days",
            "2028-12-26T11:00+01:00",
            id="working-day-skips-christmas-on-a-monday",
        ),
        pytest.param(
            "2026-12-31T11:00+01:00",
            1,
            "working days",
            "2027-01-04T11:00+01:00",
            id="working-day-skips-new-year-on-a-friday",
        ),
        pytest.param(
            "2026-12-31T11:00+01:00",
            1,
            "selor days",
            "2027-01-02T11:00+01:00",
            id="selor-day-after-new-year-is-the-saturday",
        ),
        pytest.param(
            "2027-12-31T11:00+01:00",
            1,
            "selor days",
            "2028-01-03T11:00+01:00",
            id="selor-day-skips-new-year-on-a-saturday",
        ),
        pytest.param(
            "2026-12-23T11:00+01:00",
            6,
            "working days",
            "2027-01-04T11:00+01:00",
            id="working-days-skip-christmas-and-new-year-on-fridays",
        ),
        pytest.param(
            "2026-12-23T11:00+01:00",
            7,
            "selor days",
            "2027-01-02T11:00+01:00",
            id="selor-days-skip-christmas-and-new-year-count-saturdays",
        ),
        pytest.param(
            "2027-12-23T11:00+01:00",
            5,
            "working days",
            "2027-12-30T11:00+01:00",
            id="working-days-unaffected-by-christmas-on-a-saturday",
        ),
        # Plain days count every day, holiday or not, and keep the wall time across DST.
        pytest.param(
            "2027-03-25T09:00+01:00",
            7,
            "days",
            "2027-04-01T09:00+02:00",
            id="seven-days-across-spring-forward-keep-nine-oclock",
        ),
        pytest.param(
            "2027-10-28T09:00+02:00",
            7,
            "days",
            "2027-11-04T09:00+01:00",
            id="seven-days-across-fall-back-keep-nine-oclock",
        ),
        pytest.param(
            "2027-12-20T09:00+01:00",
            30,
            "days",
            "2028-01-19T09:00+01:00",
            id="thirty-days-count-christmas-and-new-year",
        ),
        # The local date decides, not the UTC date: 23:30 UTC on Friday is Saturday 00:30.
        pytest.param(
            "2027-03-26T23:30+00:00",
            1,
            "working days",
            "2027-03-30T00:30+02:00",
            id="working-days-count-from-the-brussels-date-not-the-utc-date",
        ),
    ],
)
def test_add_lands_on_the_expected_local_day_and_wall_time(
    start: str, amount: int, unit: str, due: str
) -> None:
    """add() counts the days of its unit after the start's Brussels date, keeps the
    Brussels wall time, and hands back that instant in UTC; subtract() undoes it when
    the start's own day counts."""
    duration = Duration(amount, unit)
    result = CALENDAR.add(at(start), duration)
    assert_utc(result)
    assert result == at(due), f"{start} + {duration}: {local(result)}, expected {due}"
    assert local(result).utcoffset() == at(due).utcoffset()
    if counts_by_oracle(local(at(start)).date(), unit):
        back = CALENDAR.subtract(result, duration)
        assert_utc(back)
        assert back == at(start)


@pytest.mark.parametrize(
    ("start", "change"),
    [
        pytest.param("2027-03-25T09:00+01:00", timedelta(hours=-1), id="spring-forward"),
        pytest.param("2027-10-28T09:00+02:00", timedelta(hours=+1), id="fall-back"),
    ],
)
def test_seven_days_across_a_dst_change_keep_the_wall_time_and_change_the_utc_offset(
    start: str, change: timedelta
) -> None:
    """'7 days' from 09:00 before a 2027 DST change is 09:00 after it: the UTC offset
    differs, so the elapsed time is seven days minus (spring) or plus (autumn) an hour."""
    begin = at(start)
    due = CALENDAR.add(begin, Duration(7, "days"))
    assert local(due).replace(tzinfo=None) == datetime.combine(
        local(begin).date() + timedelta(days=7), time(9, 0)
    )
    assert local(due).utcoffset() - local(begin).utcoffset() == -change
    assert due - begin == timedelta(days=7) + change


@pytest.mark.parametrize(
    ("due", "before", "reminder"),
    [
        pytest.param(
            "2027-04-01T09:00+02:00",
            Duration(7, "days"),
            "2027-03-25T09:00+01:00",
            id="seven-days-before-across-spring-forward",
        ),
        pytest.param(
            "2027-11-04T09:00+01:00",
            Duration(7, "days"),
            "2027-10-28T09:00+02:00",
            id="seven-days-before-across-fall-back",
        ),
        pytest.param(
            "2027-05-21T10:00+02:00",
            Duration(3, "working days"),
            "2027-05-18T10:00+02:00",
            id="three-working-days-before-an-offer-deadline",
        ),
        pytest.param(
            "2027-03-30T09:00+02:00",
            Duration(1, "working days"),
            "2027-03-26T09:00+01:00",
            id="working-day-before-skips-easter-monday-and-spring-forward",
        ),
        pytest.param(
            "2027-11-02T09:00+01:00",
            Duration(3, "working days"),
            "2027-10-27T09:00+02:00",
            id="working-days-before-skip-all-saints-and-fall-back",
        ),
        pytest.param(
            "2027-05-18T10:00+02:00",
            Duration(2, "selor days"),
            "2027-05-14T10:00+02:00",
            id="selor-days-before-skip-whit-monday-count-saturday",
        ),
        pytest.param(
            "2028-01-03T11:00+01:00",
            Duration(1, "selor days"),
            "2027-12-31T11:00+01:00",
            id="selor-day-before-skips-new-year-on-a-saturday",
        ),
        pytest.param(
            "2027-12-27T11:00+01:00",
            Duration(1, "selor days"),
            "2027-12-24T11:00+01:00",
            id="selor-day-before-skips-christmas-on-a-saturday",
        ),
    ],
)
def test_subtract_for_reminders_mirrors_add(due: str, before: Duration, reminder: str) -> None:
    """A reminder N days before a deadline counts backwards the way add() counts forwards:
    same skipped days, same wall time, UTC out."""
    result = CALENDAR.subtract(at(due), before)
    assert_utc(result)
    assert result == at(reminder), f"{due} - {before}: {local(result)}, expected {reminder}"
    assert CALENDAR.add(result, before) == at(due)


def test_an_offer_made_before_ascension_lapses_after_ten_working_days_reminded_three_before() -> (
    None
):
    """The offer state (10 working days, reminder 3 working days before) made on Wednesday
    5 May 2027: Ascension and Whit Monday are skipped, so it lapses on Friday 21 May and the
    reminder goes on Tuesday 18 May, both at the hour the offer was made."""
    made = at("2027-05-05T15:45:30+02:00")
    due = CALENDAR.add(made, parse_duration("10 working days"))
    assert due == at("2027-05-21T15:45:30+02:00")
    assert CALENDAR.subtract(due, parse_duration("3 working days")) == at(
        "2027-05-18T15:45:30+02:00"
    )


@pytest.mark.parametrize("direction", ["add", "subtract"])
@pytest.mark.parametrize("unit", UNITS)
def test_a_naive_datetime_is_refused(direction: str, unit: str) -> None:
    """Without a timezone the instant is unknown; the calendar refuses to guess."""
    with pytest.raises(ValueError, match="aware"):
        getattr(CALENDAR, direction)(datetime(2027, 3, 26, 9, 0), Duration(1, unit))


def test_any_aware_zone_is_accepted_and_read_as_the_same_instant() -> None:
    """The start's own zone does not matter, only the instant: the same instant written in
    UTC, in Brussels and at +05:30 gives the same deadline."""
    instant = at("2027-10-29T09:00+02:00")
    written = [
        instant.astimezone(UTC),
        instant.astimezone(BRUSSELS),
        instant.astimezone(timezone(timedelta(hours=5, minutes=30))),
    ]
    for unit in UNITS:
        results = {CALENDAR.add(start, Duration(3, unit)) for start in written}
        assert len(results) == 1, unit


# -- properties ------------------------------------------------------------------------------

ZONES = st.sampled_from([UTC, BRUSSELS, timezone(timedelta(hours=-5)), ZoneInfo("Asia/Tokyo")])
STARTS = st.builds(
    lambda instant, zone: instant.astimezone(zone),
    st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2030, 12, 31, 23, 59),
        timezones=st.just(UTC),
    ),
    ZONES,
)
AMOUNTS = st.integers(min_value=1, max_value=40)


def counted_between(first: date, last: date, unit: str) -> int:
    """How many days in [first, last] count towards ``unit``, by the oracle."""
    return sum(
        counts_by_oracle(first + timedelta(days=n), unit) for n in range((last - first).days + 1)
    )


@settings(max_examples=300, deadline=None)
@given(start=STARTS, amount=AMOUNTS, unit=st.sampled_from(COUNTED_UNITS))
def test_add_of_working_or_selor_days_lands_on_the_amount_th_counting_day_at_the_same_wall_time(
    start: datetime, amount: int, unit: str
) -> None:
    """For working and Selor days the deadline is the amount-th counting day after the
    start's Brussels date, at the start's Brussels wall time, strictly later, in UTC.

    No start needs avoiding here: DST changes fall on Sundays, which never count, so the
    landing day always has the wall time, exactly once."""
    result = CALENDAR.add(start, Duration(amount, unit))
    assert_utc(result)
    begin, landed = local(start).date(), local(result).date()
    assert counts_by_oracle(landed, unit)
    assert CALENDAR.counts(landed, unit)
    assert counted_between(begin + timedelta(days=1), landed, unit) == amount
    assert wall(result) == wall(start)
    assert result > start


@settings(max_examples=300, deadline=None)
@given(start=STARTS, amount=AMOUNTS, unit=st.sampled_from(COUNTED_UNITS))
def test_subtract_of_working_or_selor_days_lands_on_the_amount_th_counting_day_before(
    start: datetime, amount: int, unit: str
) -> None:
    """subtract() is add() backwards: the amount-th counting day before the start's
    Brussels date, at the same wall time, strictly earlier."""
    result = CALENDAR.subtract(start, Duration(amount, unit))
    assert_utc(result)
    begin, landed = local(start).date(), local(result).date()
    assert counts_by_oracle(landed, unit)
    assert counted_between(landed, begin - timedelta(days=1), unit) == amount
    assert wall(result) == wall(start)
    assert result < start


@settings(max_examples=300, deadline=None)
@given(start=STARTS, amount=AMOUNTS, unit=st.sampled_from(COUNTED_UNITS))
def test_subtract_after_add_returns_to_the_last_counting_day_on_or_before_the_start(
    start: datetime, amount: int, unit: str
) -> None:
    """subtract(add(x, d), d) is x itself when x's Brussels date counts; otherwise the same
    wall time on the last counting day before it (a start on a Sunday comes back to the
    Friday or Saturday). It is never later than x."""
    duration = Duration(amount, unit)
    back = CALENDAR.subtract(CALENDAR.add(start, duration), duration)
    begin = local(start).date()
    expected_day = begin
    while not counts_by_oracle(expected_day, unit):
        expected_day -= timedelta(days=1)
    assert local(back).date() == expected_day
    assert wall(back) == wall(start)
    assert back <= start
    if expected_day == begin:
        assert back == start


def not_in_the_two_oclock_hour(instant: datetime) -> bool:
    """The hour a DST change removes or repeats in Brussels is 02:00-03:00 local."""
    return local(instant).hour != 2


@settings(max_examples=300, deadline=None)
@given(start=STARTS.filter(not_in_the_two_oclock_hour), amount=AMOUNTS)
def test_add_then_subtract_of_plain_days_is_the_identity(start: datetime, amount: int) -> None:
    """Plain days land amount calendar days later at the same wall time, and subtracting
    the same days gives back the very instant (outside the 02:00 hour, which a DST change
    may remove or repeat)."""
    duration = Duration(amount, "days")
    result = CALENDAR.add(start, duration)
    assert_utc(result)
    assert local(result).date() == local(start).date() + timedelta(days=amount)
    assert wall(result) == wall(start)
    assert abs(result - start - timedelta(days=amount)) <= timedelta(hours=1)
    assert CALENDAR.subtract(result, duration) == start


# -- parse_duration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 selor days", Duration(3, "selor days")),
        ("1 selor day", Duration(1, "selor days")),
        ("1 working day", Duration(1, "working days")),
        ("10 working days", Duration(10, "working days")),
        ("30 days", Duration(30, "days")),
        ("1 day", Duration(1, "days")),
    ],
)
def test_parse_duration_reads_days_working_days_and_selor_days(
    text: str, expected: Duration
) -> None:
    """The three units, singular or plural; the unit is stored in its plural form."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (Duration(1, "working days"), "1 working day"),
        (Duration(3, "selor days"), "3 selor days"),
        (Duration(7, "days"), "7 days"),
    ],
)
def test_a_duration_prints_as_it_is_written(duration: Duration, text: str) -> None:
    """str() gives back the text parse_duration reads, singular for one."""
    assert str(duration) == text
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["2 weeks", "1 month", "days", "three days", "-2 days", ""])
def test_parse_duration_refuses_other_units_and_shapes(text: str) -> None:
    """Weeks, months, a missing or spelled-out number: refused, naming what is accepted."""
    with pytest.raises(ValueError, match="'N days', 'N working days' or 'N selor days'"):
        parse_duration(text)


def test_parse_duration_refuses_a_number() -> None:
    """A bare YAML number (after: 7) is not a duration: the unit must be written."""
    with pytest.raises(ValueError, match="got 7"):
        parse_duration(7)
