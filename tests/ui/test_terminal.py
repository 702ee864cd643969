"""The page's truth in the terminal: `maild status`, `maild timeline`, the calendar, and
the hit-list import preview, on a season built against the real servers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from icalendar import Calendar

from maild.app.hitlist_csv import parse_csv
from maild.app.hitlist_import import apply_import, plan_import
from maild.cli import cli
from maild.core import events as ev
from tests.mail.conftest import PW_ENV, World
from tests.ui.season import APPLICATION, QUESTION_REPLY, build_season

# Keys `maild status --json` had before the page; scripts rely on them.
STATUS_KEYS = {"now", "asks_by_state", "open_asks", "drafts_waiting", "next_steps",
               "applications", "risks"}


def run(world: World, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--home", str(world.home), *args],
                                env={"MAILD_NOW": world.clock().isoformat(),
                                     PW_ENV: world.server.password})
    assert result.exit_code == 0, result.output
    return result


def test_status_is_today_in_text(season_world: World) -> None:
    world = season_world
    season = build_season(world)
    text = run(world, "status").output
    lines = text.splitlines()
    assert lines[0].startswith("Today, Tue 2026-11-17 (America/New_York): the daemon is NOT "
                               "running")
    assert "Folders last read: school/INBOX Tue 2026-11-17" in text
    # Overdue first, marked, naming the mentor.
    needs = lines.index(next(x for x in lines if x.startswith("Needs you")))
    assert lines[needs] == "Needs you (1 overdue)"
    assert lines[needs + 1].lstrip().startswith("OVERDUE  Fri 2026-11-13 10:00  complete and "
                                                "approve the cold first email to Priya Shah")
    assert f"#{season.shah_draft} Priya Shah: cold initial" in text
    assert "needs: paper_question" in text
    # The reply to read names the mentor and quotes her.
    assert "Dana Rivera (cold ask 2, question): the mentor asked a question" in text
    assert QUESTION_REPLY[:50] in text
    assert "read as human, question" in text
    assert (f"{APPLICATION}: deadline 2026-12-01 (in 14 days): 1 of 3 in, 2 committed, "
            "1 hesitant, 2 missing at risk") in text
    assert "Sam Okafor: committed; Lee Park: hesitant; Mia Chen: submitted" in text
    # What maild does next: 10 at most, all with --all.
    assert "What maild does next" in text
    everything = run(world, "status", "--all").output
    assert everything.count("\n  ") >= text.count("\n  ")


def test_status_json_keeps_its_shape_and_adds_today(season_world: World) -> None:
    world = season_world
    build_season(world)
    data: dict[str, Any] = json.loads(run(world, "status", "--json").output)
    assert set(data) >= STATUS_KEYS
    assert {"due", "ask_id", "step", "kind", "mentor"} <= set(data["next_steps"][0])
    [eras] = data["applications"]
    assert {"id", "name", "deadline", "letters_required", "asked", "committed",
            "submitted"} <= set(eras)
    # A hesitant yes is not a committed letter (issue 11.6): counted apart, as the text
    # above says ("2 committed, 1 hesitant").
    assert (eras["asked"], eras["committed"], eras["hesitant"], eras["submitted"]) == \
        (3, 2, 1, 1)
    assert data["daemon"] == {"running": False, "pid": None}
    assert data["overdue"] == 1 and data["attention"][0]["urgency"] == "overdue"
    [review] = [r for r in data["review"] if r["mentor"] == "Dana Rivera"]
    assert review["message"]["intent"] == "question"
    assert QUESTION_REPLY[:30] in review["message"]["text"]


def test_an_outcome_does_not_make_letters_disappear(season_world: World) -> None:
    """'submitted 0' after the outcome: the asks close, the letter that is in stays in."""
    world = season_world
    build_season(world)
    app_id = world.store.read.mentors.find_application(APPLICATION).id
    for ask_id in (3, 4, 5):
        world.tracker.handle(ask_id, ev.OutcomeRecorded("matched at Example University"),
                             world.clock())
    [eras] = json.loads(run(world, "status", "--json").output)["applications"]
    assert eras["id"] == app_id
    assert eras["submitted"] == 1


def test_timeline_tells_the_story_in_words(season_world: World) -> None:
    world = season_world
    build_season(world)
    text = run(world, "timeline", "Rivera").output
    assert "Timeline of Dana Rivera" in text
    assert "you wrote to drivera@med.example.edu: Question about your 2025 paper" in text
    assert "reply from drivera@med.example.edu, read as question" in text
    assert "│ Thanks for reaching out. Before we set a time" in text
    assert "read as question, because:" in text
    assert "now question: " in text
    # No raw event anywhere: no "Name key=value" reprs, no message ids.
    assert "HumanReply" not in text and "MessageSent" not in text
    assert "message_id=" not in text and "by_user=" not in text
    items = json.loads(run(world, "timeline", "Rivera", "--json").output)
    assert items[0]["type"] == "mentor_added"
    [reply] = [i for i in items if i["type"] == "message_in"]
    assert reply["intent"] == "question" and QUESTION_REPLY[:20] in reply["text"]
    assert reply["evidence"]
    planned = [i for i in items if i["planned"]]
    assert all(i["reason"] for i in planned)


def test_calendar_export_links_every_event_to_its_ask(season_world: World,
                                                      tmp_path: Path) -> None:
    world = season_world
    build_season(world)
    out = tmp_path / "season.ics"
    result = run(world, "calendar", "export", str(out))
    cal = Calendar.from_ical(out.read_bytes())
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert f"Wrote {len(events)} event(s)" in result.output
    deadline = events["application-1-deadline@maild.localhost"]
    assert deadline.decoded("dtstart") == date(2026, 12, 1)
    summaries = sorted(str(e["summary"]) for e in events.values())
    assert "Call Lee Park's office about the letter" in summaries
    assert "Final reminder (−5 days) to Sam Okafor" in summaries
    for uid, event in events.items():
        if uid.startswith("ask-"):
            ask_id = uid.split("-")[1]
            # [ui] port = 0 here and no page is served: no address to link, but the
            # command that shows the ask (the page's /calendar.ics links: test_page).
            assert "url" not in event
            assert f"maild ask show {ask_id}" in str(event["description"]) or \
                "maild timeline" in str(event["description"])
    # Standard output without FILE; the same calendar.
    again = run(world, "calendar", "export").stdout_bytes
    assert Calendar.from_ical(again).walk("VEVENT")


def test_a_csv_import_is_previewed_then_applied_without_erasing(season_world: World) -> None:
    world = season_world
    rows = parse_csv(
        "name,email,institution,outreach status,specialty\n"
        "Dana Rivera,drivera@med.example.edu,Example Heart Institute,,\n"
        "Noor Haddad,nhaddad@uni.example.edu,Example University,,nephrology\n", "csv")
    world.tracker.create_ask(1, "cold", world.clock())  # her status becomes "cold outreach"
    plan = plan_import(world.store, rows)
    assert [e.name for e in plan.added] == ["Noor Haddad"]
    [update] = plan.updated
    changes = {c.field: (c.old, c.new) for c in update.changes}
    assert changes == {"institution": ("", "Example Heart Institute")}
    assert plan.problems == ()
    before = world.store.read.mentors.get(1).entry
    assert apply_import(world.store, plan, world.clock()) == (1, 1)
    after = world.store.read.mentors.get(1).entry
    assert after.institution == "Example Heart Institute"
    # Empty cells erase nothing; the status maild keeps is not reset.
    assert after.connection_point == before.connection_point
    assert after.outreach_status == "cold outreach"


@pytest.mark.parametrize("csv_text, problem", [
    ("name,email\nSomeone,drivera@med.example.edu; m2@med.example.edu\n", "several mentors"),
])
def test_an_import_that_would_merge_two_mentors_is_a_problem(
        season_world: World, csv_text: str, problem: str) -> None:
    from tests.mail.worlds import add_mentor

    add_mentor(season_world, 2)
    plan = plan_import(season_world.store, parse_csv(csv_text, "csv"))
    assert plan.problems and problem in plan.problems[0]
    assert plan.empty
