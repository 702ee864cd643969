"""The current time, from the real clock or from ``MAILD_NOW``.

Only the edges of maild (CLI, daemon) read the clock, through a ``Clock``; the domain
core receives ``now`` as an argument. ``MAILD_NOW`` fixes the starting instant so that
"what happens on date X" can be scripted (see DESIGN.md, contracts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from maild.errors import UsageError

NOW_ENV = "MAILD_NOW"


def parse_instant(text: str, what: str = NOW_ENV) -> datetime:
    """Parse an ISO 8601 instant that must carry an offset (a naive time is ambiguous)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-11-23T09:00:00-05:00)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"{what}: {text!r} has no UTC offset (add e.g. +00:00 or -05:00)")
    return value


@dataclass(frozen=True)
class Clock:
    """A clock that starts at ``start`` (or the real time) and then runs at ``speed``.

    A fixed ``MAILD_NOW`` with speed 1 makes the daemon start at that instant and then
    advance normally; the demo uses a higher speed so days pass in seconds.
    """

    start: datetime | None = None
    speed: float = 1.0
    _mono0: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], speed: float = 0.0) -> Clock:
        """The real clock, or ``MAILD_NOW``: fixed for one-shot commands (speed 0), the
        starting instant of a clock that runs on for the daemon (speed 1)."""
        text = env.get(NOW_ENV)
        if not text:
            return cls()
        return cls(start=parse_instant(text), speed=speed, _mono0=time.monotonic())

    @classmethod
    def starting_at(cls, start: datetime, speed: float = 1.0) -> Clock:
        return cls(start=start, speed=speed, _mono0=time.monotonic())

    def now(self) -> datetime:
        if self.start is None:
            return datetime.now(UTC)
        if not self.speed:
            return self.start
        elapsed = (time.monotonic() - self._mono0) * self.speed
        return self.start + timedelta(seconds=elapsed)

    @property
    def is_virtual(self) -> bool:
        return self.start is not None
