"""Time arithmetic of the engine: calendar days and the sending window, DST-correct.

Everything here is pure: times come in as timezone-aware datetimes and go out as
timezone-aware datetimes in UTC. Days are calendar days counted in the mentor's
timezone, so "day 5 at the same wall-clock time" survives a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The years maild plans in. A date outside them is a typo or a placeholder (9999-12-31,
# 0001-01-01), and the engine's arithmetic on it would run past what datetime can hold;
# the edges (CLI, doctor) refuse such dates before they reach the engine.
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone reached the engine."""


def range_problem(value: date) -> str | None:
    """Why maild will not plan around ``value`` (a date or a datetime), or None."""
    if EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return None
    return f"is outside the years {EARLIEST_YEAR}-{LATEST_YEAR} that maild plans in"


def require_aware(value: datetime, what: str = "time") -> datetime:
    """Return ``value`` unchanged, or raise when it carries no timezone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{what} {value.isoformat()} has no timezone")
    return value


def to_utc(value: datetime) -> datetime:
    """``value`` (aware) expressed in UTC."""
    return require_aware(value).astimezone(UTC)


def at_local(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant at which the wall clock in ``tz`` shows ``day`` ``wall``, in UTC.

    A wall time that does not exist (inside a spring-forward gap) resolves to the
    moment just after the gap; an ambiguous one (fall-back) to its first occurrence.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None))
    local = naive.replace(tzinfo=tz, fold=0)
    return local.astimezone(UTC)


def local_date(value: datetime, tz: ZoneInfo) -> date:
    """The calendar date the wall clock shows in ``tz`` at ``value``."""
    return to_utc(value).astimezone(tz).date()


def add_days(value: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``value`` moved by ``days`` calendar days in ``tz``, keeping the wall-clock time."""
    local = to_utc(value).astimezone(tz)
    target = local.date() + timedelta(days=days)
    return at_local(target, local.time(), tz)


@dataclass(frozen=True)
class SendingWindow:
    """When mail may go out, in the mentor's timezone: weekdays and a daily interval.

    ``days`` are weekday numbers (Monday is 0); ``start`` is inclusive, ``end`` exclusive.
    """

    days: frozenset[int] = frozenset(range(5))
    start: time = time(8, 0)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("a sending window needs at least one weekday")
        if not all(0 <= d <= 6 for d in self.days):
            raise ValueError("weekday numbers run from 0 (Monday) to 6 (Sunday)")
        if self.start >= self.end:
            raise ValueError("the sending window must start before it ends")

    def is_open_day(self, day: date) -> bool:
        """Whether mail may go out at all on ``day``."""
        return day.weekday() in self.days

    def contains(self, value: datetime, tz: ZoneInfo) -> bool:
        """Whether ``value`` lies inside the window in ``tz``."""
        local = to_utc(value).astimezone(tz)
        return self.is_open_day(local.date()) and self.start <= local.time() < self.end

    def next_allowed(self, value: datetime, tz: ZoneInfo) -> datetime:
        """The first moment at or after ``value`` inside the window, in UTC."""
        utc = to_utc(value)
        if self.contains(utc, tz):
            return utc
        local = utc.astimezone(tz)
        day = local.date()
        if not (self.is_open_day(day) and local.time() < self.start):
            day = self.next_open_day(day)
        return at_local(day, self.start, tz)

    def next_open_day(self, day: date) -> date:
        """The first open weekday strictly after ``day``."""
        candidate = day + timedelta(days=1)
        while not self.is_open_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def first_working_moment_after(self, day: date, tz: ZoneInfo) -> datetime:
        """The start of the first open day strictly after ``day`` (e.g. a return date)."""
        return at_local(self.next_open_day(day), self.start, tz)


def months_before(value: datetime, months: int) -> datetime:
    """``value`` moved back by whole calendar months, clamping the day (Aug 31 -> Feb 28)."""
    total = value.year * 12 + (value.month - 1) - months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    day = min(value.day, _days_in_month(year, month))
    return value.replace(year=year, month=month, day=day)


def _days_in_month(year: int, month: int) -> int:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return (first_next - timedelta(days=1)).day
