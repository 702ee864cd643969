"""Calendar-day arithmetic and the sending window, including DST and property checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.core.timing import SendingWindow, add_days, at_local, months_before

NY = ZoneInfo("America/New_York")
WINDOW = SendingWindow()
ZONES = st.sampled_from(
    [ZoneInfo(z) for z in ("America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC",
                           "Asia/Kolkata", "America/Los_Angeles")]
)
MOMENTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                       timezones=st.just(UTC))


def test_add_days_across_fall_back_keeps_wall_clock() -> None:
    start = datetime(2026, 10, 30, 9, tzinfo=NY)
    later = add_days(start, 3, NY)
    assert later.astimezone(NY).replace(tzinfo=None) == datetime(2026, 11, 2, 9)
    assert later - start == timedelta(days=3, hours=1)


def test_nonexistent_wall_time_resolves_after_the_gap() -> None:
    moment = at_local(date(2026, 3, 8), time(2, 30), NY)
    assert moment.astimezone(NY).hour == 3


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        (datetime(2026, 6, 1, 10), datetime(2026, 6, 1, 10)),  # Monday in the window
        (datetime(2026, 6, 1, 7, 59), datetime(2026, 6, 1, 8)),  # before opening
        (datetime(2026, 6, 1, 17), datetime(2026, 6, 2, 8)),  # end is exclusive
        (datetime(2026, 6, 5, 18), datetime(2026, 6, 8, 8)),  # Friday evening
        (datetime(2026, 6, 6, 10), datetime(2026, 6, 8, 8)),  # Saturday
        (datetime(2026, 3, 8, 12), datetime(2026, 3, 9, 8)),  # DST Sunday
        (datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 2, 8)),  # ambiguous hour
    ],
)
def test_next_allowed(given_: datetime, expected: datetime) -> None:
    got = WINDOW.next_allowed(given_.replace(tzinfo=NY), NY)
    assert got.astimezone(NY).replace(tzinfo=None) == expected
    assert got.tzinfo is UTC


def test_custom_window_includes_saturday_mornings() -> None:
    window = SendingWindow(days=frozenset({5}), start=time(9), end=time(12))
    got = window.next_allowed(datetime(2026, 6, 1, 10, tzinfo=NY), NY)
    assert got.astimezone(NY).replace(tzinfo=None) == datetime(2026, 6, 6, 9)


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="start before"):
        SendingWindow(start=time(17), end=time(8))
    with pytest.raises(ValueError, match="weekday"):
        SendingWindow(days=frozenset())


@given(MOMENTS, ZONES)
def test_next_allowed_is_inside_not_earlier_and_idempotent(moment: datetime,
                                                          tz: ZoneInfo) -> None:
    got = WINDOW.next_allowed(moment, tz)
    assert got >= moment
    assert WINDOW.contains(got, tz)
    assert WINDOW.next_allowed(got, tz) == got
    # Never more than a weekend plus a night away.
    assert got - moment < timedelta(days=4)


@given(MOMENTS, ZONES, st.integers(min_value=0, max_value=400))
def test_add_days_moves_the_calendar_date_exactly(moment: datetime, tz: ZoneInfo,
                                                  n: int) -> None:
    later = add_days(moment, n, tz)
    assert later.astimezone(tz).date() - moment.astimezone(tz).date() == timedelta(days=n)


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28,
                                                                         tzinfo=UTC)
    assert months_before(datetime(2026, 3, 15, tzinfo=UTC), 6) == datetime(2025, 9, 15,
                                                                         tzinfo=UTC)
