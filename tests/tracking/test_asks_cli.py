"""Asks through the CLI with MAILD_NOW: the ladders land on the guides' days."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.rawdb import raw
from tests.tracking.conftest import Run, as_json


def steps_of(run: Run, ask_id: int) -> dict[str, dict[str, str]]:
    data = as_json(run("ask", "show", str(ask_id), "--json"))
    return {s["name"]: s for s in data["steps"]}


def local(iso: str) -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(iso).astimezone(ZoneInfo("America/New_York")).strftime(
        "%a %Y-%m-%d %H:%M")


def test_cold_ladder_days_0_5_12_20_off_weekends(run: Run, rivera: int) -> None:
    # Monday 2026-11-16: day 5 is Saturday 21st -> Monday 23rd 08:00 in the mentor's zone.
    run("ask", "cold", "Rivera")
    steps = steps_of(run, 1)
    assert local(steps["initial"]["due"]) == "Mon 2026-11-16 10:00"
    assert local(steps["nudge"]["due"]) == "Mon 2026-11-23 08:00"
    assert local(steps["final_nudge"]["due"]) == "Mon 2026-11-30 08:00"  # day 12 = Saturday 28th
    assert local(steps["stop"]["due"]) == "Mon 2026-12-07 08:00"  # day 20 = Sunday 6th
    assert steps["initial"]["status"] == "drafted"
    assert steps["stop"]["kind"] == "stop"


def test_letter_reminders_at_minus_14_5_and_call_at_minus_2(run: Run, rivera: int) -> None:
    run("application", "add", "ERAS 2027 IM", "--deadline", "2027-02-10", "--system", "ERAS")
    run("ask", "letter", "Rivera", "--application", "ERAS 2027 IM")
    steps = steps_of(run, 1)
    assert local(steps["reminder"]["due"]).startswith("Wed 2027-01-27")       # -14 days
    assert local(steps["final_reminder"]["due"]).startswith("Fri 2027-02-05")  # -5 days
    assert local(steps["call_office"]["due"]).startswith("Mon 2027-02-08")     # -2 days
    assert steps["call_office"]["kind"] == "task"
    assert steps["request"]["status"] == "drafted"


def test_letter_runway_warns_and_refuses(run: Run, rivera: int) -> None:
    short = run("ask", "letter", "Rivera", "--deadline", "2026-11-25", ok=False)
    assert short.exit_code == 2 and "--force" in short.output
    warned = run("ask", "letter", "Rivera", "--deadline", "2026-12-20")
    assert "weeks" in warned.output  # the runway warning reaches the user


def test_never_twice_across_accounts_and_addresses(run: Run, rivera: int) -> None:
    run("ask", "cold", "drivera@med.example.edu")
    # Nothing went out yet: the open ask is named, not a contact that never happened.
    again = run("ask", "cold", "dana.rivera@example.org", "--account", "personal", ok=False)
    assert again.exit_code == 2
    assert "ask 1 to this person is still open (waiting_for_you)" in again.output
    forced = run("ask", "cold", "Rivera", "--account", "personal", "--again")
    assert "Created cold ask 2" in forced.output


def test_an_ask_that_never_sent_anything_is_not_contact(run: Run, rivera: int) -> None:
    # Issue 11.1: a first draft left unapproved, then the ask given up on: the mentor
    # never received anything, so a new cold ask is not "already contacted".
    run("ask", "cold", "Rivera")
    run("ask", "mark", "1", "cancel")
    later = run("ask", "cold", "Rivera", now="2026-12-15T10:00:00-05:00")
    assert "Created cold ask 2" in later.output


def test_approve_needs_the_users_fields(run: Run, rivera: int) -> None:
    run("ask", "cold", "Rivera")
    drafts = as_json(run("drafts", "--json"))
    assert [d["missing_fields"] for d in drafts] == [["user.paper_question"]]
    assert "[[paper_question]]" in drafts[0]["body"]
    refused = run("approve", "1", ok=False)
    assert refused.exit_code == 2 and "--field paper_question" in refused.output
    run("approve", "1", "--field", "paper_question=How were outcomes adjudicated?")
    shown = as_json(run("draft", "show", "1", "--json"))
    assert shown["status"] == "approved"
    assert "How were outcomes adjudicated?" in shown["body"]
    assert shown["to"] == ["drivera@med.example.edu"]
    assert steps_of(run, 1)["initial"]["status"] == "approved"


def test_reject_and_snooze(run: Run, rivera: int) -> None:
    run("ask", "cold", "Rivera")
    snoozed = run("snooze", "1", "2d")
    assert "Wed 2026-11-18 10:00" in snoozed.output
    assert as_json(run("draft", "show", "1", "--json"))["send_after"].startswith("2026-11-18")
    bad = run("snooze", "1", "soon", ok=False)
    assert bad.exit_code == 2 and "duration" in bad.output
    run("reject", "1")
    assert as_json(run("draft", "show", "1", "--json"))["status"] == "rejected"
    assert steps_of(run, 1)["initial"]["status"] == "cancelled"


def test_mark_and_timeline_and_status(run: Run, rivera: int) -> None:
    run("mentor", "add", "Sam Okafor", "--email", "sokafor@hosp.example.org", "--rank", "2",
        "--connection-point", "trauma registry", "--specialty", "surgery")
    run("ask", "cold", "Rivera")
    status = as_json(run("status", "--json"))
    assert status["asks_by_state"] == {"waiting_for_you": 1}
    assert status["drafts_waiting"] == 1
    assert status["next_steps"][0]["step"] == "initial"
    marked = run("ask", "mark", "1", "declined")
    assert "declined" in marked.output
    # A decline suggests the next candidate on the hit list.
    timeline = as_json(run("timeline", "Rivera", "--json"))
    types = [t["type"] for t in timeline]
    assert types[0] == "mentor_added" and "ask_created" in types
    assert any("Okafor" in t["summary"] for t in timeline) or \
        any(t["type"] == "suggestion" for t in timeline)
    text = run("timeline", "Rivera").output
    assert "cold ask started" in text


def test_unknown_ask_and_mentor_are_one_line_errors(run: Run) -> None:
    result = run("ask", "show", "99", ok=False)
    assert result.exit_code == 2 and result.output.strip() == "maild: error: no ask 99"
    result = run("ask", "cold", "Nobody", ok=False)
    assert result.exit_code == 2 and "no mentor 'Nobody'" in result.output


def test_outcome_thanks_every_letter_writer(run: Run, rivera: int) -> None:
    run("mentor", "add", "Sam Okafor", "--email", "sokafor@hosp.example.org",
        "--connection-point", "trauma registry", "--specialty", "surgery")
    run("mentor", "add", "Lee Park", "--email", "lpark@uni.example.edu",
        "--connection-point", "sepsis trial", "--specialty", "critical care")
    run("application", "add", "ERAS 2027 IM", "--deadline", "2027-02-10")
    for name in ("Rivera", "Okafor", "Park"):
        run("ask", "letter", name, "--application", "ERAS 2027 IM")
    run("ask", "mark", "1", "agreed")
    run("ask", "mark", "2", "submitted")
    run("ask", "mark", "3", "declined")
    result = run("application", "outcome", "ERAS 2027 IM", "matched at Example University",
                 now="2027-03-19T12:00:00-04:00")  # a Friday, inside the window
    assert "2 thank-you draft(s)" in result.output
    asks = as_json(run("ask", "list", "--all", "--json"))
    thanks = [a for a in asks if a["playbook"] == "thanks"]
    assert sorted(a["mentor"]["name"] for a in thanks) == ["Dana Rivera", "Sam Okafor"]
    drafts = [d for d in as_json(run("drafts", "--json")) if d["template"] == "outcome_thanks"]
    assert len(drafts) == 2


def test_needs_review_is_shown_and_cleared(run: Run, rivera: int, home: Path) -> None:
    from maild.store import Store

    run("ask", "cold", "Rivera")
    with Store.open(home / "maild.db") as store:
        raw(store).execute("UPDATE asks SET needs_review = 1 WHERE id = 1")
    status = as_json(run("status", "--json"))
    assert [r["kind"] for r in status["risks"]] == ["needs_review"]
    assert as_json(run("ask", "show", "1", "--json"))["needs_review"] is True
    run("ask", "reviewed", "1")
    assert as_json(run("ask", "show", "1", "--json"))["needs_review"] is False
    assert as_json(run("status", "--json"))["risks"] == []
    again = run("ask", "reviewed", "1", ok=False)
    assert again.exit_code == 2 and "does not need review" in again.output
