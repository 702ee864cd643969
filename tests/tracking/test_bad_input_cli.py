"""Bad input to the ask and mentor commands: one ``maild: error:`` line and exit 2.

Dates far from today (9999-12-31, 0001-01-01, as MAILD_NOW too) used to overflow the
engine's date arithmetic into a traceback; ranks beyond SQLite's integers likewise.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest
from click.testing import Result

from tests.tracking.conftest import Run, as_json


def one_error_line(result: Result) -> str:
    """The single line a refused command prints (stdout and stderr together)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maild: error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "now", "said"),
    [
        (("ask", "letter", "Rivera", "--deadline", "9999-12-31"), None, "--deadline: 9999"),
        (("ask", "letter", "Rivera", "--deadline", "0001-01-01", "--force"), None,
         "--deadline: 0001"),
        (("ask", "meeting", "Rivera", "--at", "9999-12-31T23:00+00:00"), None, "--at: 9999"),
        (("ask", "cold", "Rivera"), "9999-12-30T09:00:00+00:00", "MAILD_NOW: 9999"),
        (("ask", "cold", "Rivera"), "0001-01-02T09:00:00+00:00", "MAILD_NOW: 0001"),
        (("application", "add", "ERAS", "--deadline", "9999-12-31"), None, "--deadline: 9999"),
    ],
)
def test_dates_maild_cannot_plan_around_are_refused(run: Run, rivera: int,
                                                    args: tuple[str, ...], now: str | None,
                                                    said: str) -> None:
    extra = {"now": now} if now else {}
    line = one_error_line(run(*args, ok=False, **extra))
    assert said in line and "2000-2100" in line
    assert as_json(run("ask", "list", "--all", "--json")) == []


def test_moving_a_deadline_out_of_range_is_refused(run: Run, rivera: int) -> None:
    run("ask", "letter", "Rivera", "--deadline", "2027-03-01")
    line = one_error_line(run("ask", "deadline", "1", "9999-12-31", ok=False))
    assert "9999-12-31" in line
    assert as_json(run("ask", "show", "1", "--json"))["deadline"] == "2027-03-01"


def test_a_letter_deadline_in_the_past_is_refused_even_with_force(run: Run,
                                                                  rivera: int) -> None:
    line = one_error_line(run("ask", "letter", "Rivera", "--deadline", "2026-11-01",
                              "--force", ok=False))
    assert "the deadline 2026-11-01 has passed" in line
    run("application", "add", "ERAS 2026", "--deadline", "2026-11-15")
    line = one_error_line(run("ask", "letter", "Rivera", "--application", "ERAS 2026",
                              "--force", ok=False))
    assert "the deadline 2026-11-15 has passed" in line
    assert as_json(run("ask", "list", "--all", "--json")) == []


def test_rank_out_of_range_is_refused(run: Run, rivera: int) -> None:
    line = one_error_line(run("mentor", "add", "Sam Okafor", "--email", "s@example.org",
                              "--rank", "99999999999999999999", ok=False))
    assert "rank 99999999999999999999" in line
    one_error_line(run("mentor", "edit", "Rivera", "--rank", "-1", ok=False))
    run("mentor", "edit", "Rivera", "--rank", "100000")


def test_last_publication_must_be_a_date(run: Run, rivera: int) -> None:
    line = one_error_line(run("mentor", "add", "Sam Okafor", "--email", "s@example.org",
                              "--last-publication", "notadate", ok=False))
    assert "--last-publication: 'notadate' is not a date" in line
    one_error_line(run("mentor", "edit", "Rivera", "--last-publication", "soon", ok=False))
    run("mentor", "edit", "Rivera", "--last-publication", "March 2025")
    assert as_json(run("mentor", "show", "Rivera", "--json"))["last_publication"] == "2025-03"
    run("mentor", "edit", "Rivera", "--last-publication", "03/14/2025")
    assert as_json(run("mentor", "show", "Rivera", "--json"))["last_publication"] == (
        "2025-03-14")


@pytest.fixture
def far_away_local_zone() -> Iterator[None]:
    """The machine's own zone 19 hours ahead of the configured America/New_York."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_ask_list_shows_the_configured_time_zone(run: Run, rivera: int,
                                                 far_away_local_zone: None) -> None:
    # Monday 10:00 in New York is already Tuesday 05:00 on the machine's clock.
    run("ask", "cold", "Rivera")
    listed = run("ask", "list").output
    assert "Mon 2026-11-16 10:00" in listed
    assert "2026-11-17" not in listed


def test_a_tracker_notice_is_printed_once(run: Run, rivera: int) -> None:
    level = logging.getLogger("maild.app.tracker").level
    result = run("ask", "letter", "Rivera", "--deadline", "2026-12-20")
    assert result.output.count("Only 34 days until the deadline") == 1, result.output
    # It names the mentor and the ask (read on its own, it must say whose).
    assert "warning: Dana Rivera (letter ask 1): Only 34 days" in result.output
    # The quieting lasts for the command only (a daemon in the same process still logs).
    assert logging.getLogger("maild.app.tracker").level == level
