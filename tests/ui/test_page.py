"""The page in a real browser: a season on Today, a draft completed and approved until the
SMTP server has it, reject and snooze, and the doors that must stay shut.

Each test runs a real server process (`maild ui`, or the daemon `maild run`) on a free
port of 127.0.0.1 and drives it with headless Chromium. Screenshots of Today, a draft
and an application are taken on the way; with MAILD_SCREENSHOTS=DIR they are kept there
(that is how docs/screenshots/ is made).
"""

from __future__ import annotations

import http.client
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, Page, expect

from maild.store.mentors import MentorRecord
from tests.mail.conftest import MENTOR, World
from tests.mail.worlds import pending_draft
from tests.ui.conftest import Start, cookie_header
from tests.ui.season import QUESTION_REPLY, build_season
from tests.ui.season import send as send_in_thread

NOW = "2026-11-17T10:00:00-05:00"  # the worlds' clock: a Tuesday morning in New York


def shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    keep = os.environ.get("MAILD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(keep) / f"{name}.png"), full_page=True)


def open_page(browser: Browser, url: str) -> Page:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    response = page.goto(url)
    assert response is not None and response.ok, response
    return page


def test_todays_season_is_shown_as_it_stands(browser: Browser, season_world: World,
                                             start_ui: Start, tmp_path: Path) -> None:
    world = season_world
    season = build_season(world)
    served = start_ui(world.home, world.clock().isoformat())
    page = open_page(browser, served.login_url())
    assert urlsplit(page.url).path == "/"  # the token is gone from the address bar
    expect(page.locator("h1")).to_have_text("Today, Tue 2026-11-17")
    # The daemon is not running: the page says so (this is `maild ui` alone).
    expect(page.locator("#health")).to_contain_text("The daemon is not running")

    # Overdue first: Dr. Shah's first email, drafted three days ago, never approved.
    first = page.locator("#attention li").first
    expect(first).to_have_class("item overdue")
    expect(first).to_contain_text("Priya Shah")
    expect(first).to_contain_text("complete and approve")
    # The drafts waiting: Shah's (needs the question) and Okafor's materials packet.
    drafts = page.locator("#drafts")
    expect(drafts).to_contain_text(f"#{season.shah_draft}")
    expect(drafts).to_contain_text("paper_question")
    expect(drafts).to_contain_text(f"#{season.packet_draft}")
    expect(drafts).to_contain_text("Sam Okafor")
    # Rivera's question, in her own words, and maild's reading of it.
    review = page.locator("#review")
    expect(review).to_contain_text("Dana Rivera")
    expect(review).to_contain_text("which datasets have you worked with")
    expect(review.locator(".reading")).to_contain_text("question")
    expect(review).to_contain_text("answer it yourself")
    # Letters: 1 of 3 in, each writer's standing, at risk 14 days out.
    letters = page.locator("#letters")
    expect(letters).to_contain_text("1 of 3 letters in")
    expect(letters).to_contain_text("in 14 days")
    expect(letters.locator(".standing.committed")).to_have_text("Sam Okafor: committed")
    expect(letters.locator(".standing.hesitant")).to_have_text("Lee Park: hesitant")
    expect(letters.locator(".standing.submitted")).to_have_text("Mia Chen: submitted")
    expect(letters.locator(".app.risk")).to_have_count(1)
    # What the season made of the replies: a clarifying note to the hesitant writer, a
    # thank-you for the letter that is in; the −5 reminder and the −2 call are planned.
    expect(drafts.locator("tr", has_text="Lee Park")).to_contain_text("clarify")
    expect(drafts.locator("tr", has_text="Mia Chen")).to_contain_text("thank-you")
    expect(page.locator("#upcoming")).to_contain_text("final reminder (−5 days) (letter "
                                                      "ask to Sam Okafor)")
    expect(page.locator("#upcoming")).to_contain_text("task for you: call their office "
                                                      "(−2 days) (letter ask to Lee Park)")
    shot(page, tmp_path, "today")

    # The application's timeline with the −14/−5/−2 marks and each writer's state.
    page.click("text=Applications")
    app = page.locator("section.app").first
    expect(app.locator("svg.timeline text.label")).to_contain_text(["−14", "−5", "−2"])
    expect(app.locator("table")).to_contain_text("Lee Park")
    expect(app.locator("tr.standing.submitted")).to_contain_text("Mia Chen")
    shot(page, tmp_path, "application")

    # The mentor timeline: both directions, her words, and the planned steps with reasons.
    page.goto(served.base() + f"/mentors/1#ask-{season.rivera_ask}")
    history = page.locator("#history")
    expect(history).to_contain_text("you wrote to")
    expect(history.locator("blockquote").first).to_contain_text(QUESTION_REPLY[:40])
    expect(history.locator(".reading").first).to_contain_text("question")
    shot(page, tmp_path, "mentor")

    # The calendar of the page: every event of an ask links back to it on this page.
    ics = page.request.get(served.base() + "/calendar.ics")
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(ics.body()).walk("VEVENT")
    linked = [e for e in events if str(e["uid"]).startswith("ask-")]
    assert len(linked) >= 4
    for event in linked:
        ask_id = str(event["uid"]).split("-")[1]
        assert str(event["url"]) == f"{served.base()}/asks/{ask_id}"
    page.goto(str(linked[0]["url"]))
    assert urlsplit(page.url).path.startswith("/mentors/")
    assert "Traceback" not in served.stop()


def test_a_draft_completed_and_approved_in_the_page_is_sent(
        browser: Browser, season_world: World, start_ui: Start, tmp_path: Path) -> None:
    world = season_world
    draft_id = pending_draft(world, 1)
    # The daemon serves the page, and sends what is approved in it.
    served = start_ui(world.home, NOW, daemon=True, password=world.server.password)
    page = open_page(browser, served.login_url())
    expect(page.locator("#health")).to_contain_text("The daemon is running")
    page.click(f"#drafts a[href='/drafts/{draft_id}']")
    expect(page.locator("h1")).to_contain_text("Dana Rivera")
    # Exactly as it will be sent: headers and body, with the missing field marked.
    expect(page.locator("#message table.headers")).to_contain_text(f"Dana Rivera <{MENTOR}>")
    expect(page.locator("#draft-body")).to_contain_text("[[paper_question]]")
    expect(page.locator("#help-paper_question")).to_contain_text("genuine question")
    shot(page, tmp_path, "draft")
    # Approving without the field is not possible: the browser requires it first.
    page.fill("#field-paper_question", "Did the benefit hold for patients over 75?")
    page.click("#approve-fields")
    expect(page.locator(".flash.ok")).to_contain_text("Approved")
    expect(page.locator("#draft-status")).to_have_text("approved")

    [received] = world.smtp.wait_for(1, timeout=30)
    body = received.message.get_body().get_content()
    assert "Did the benefit hold for patients over 75?" in body
    assert "[[" not in body
    assert received.rcpt_tos == (MENTOR,)
    deadline = time.monotonic() + 20
    while world.store.read.drafts.get(draft_id).status != "sent":
        assert time.monotonic() < deadline, "the draft was never marked sent"
        time.sleep(0.2)
    errors = served.stop()
    assert not (world.home / "ui.json").exists()  # the daemon took its URL file along
    assert world.server.password not in errors


def test_reject_and_snooze_in_the_page(browser: Browser, season_world: World,
                                       start_ui: Start) -> None:
    world = season_world
    from tests.mail.worlds import add_mentor

    first = pending_draft(world, 1)
    second = pending_draft(world, add_mentor(world, 2, "Sam Okafor"))
    served = start_ui(world.home, NOW)
    page = open_page(browser, served.login_url())

    page.goto(served.base() + f"/drafts/{first}")
    page.click("#reject")
    expect(page.locator(".flash.ok")).to_contain_text("Rejected")
    expect(page.locator("#draft-status")).to_have_text("rejected")
    assert world.store.read.drafts.get(first).status == "rejected"
    assert world.steps(world.store.read.drafts.get(first).ask_id)["initial"] \
        == "cancelled"

    page.goto(served.base() + f"/drafts/{second}")
    page.fill("#until", "2026-11-20")
    page.click("#snooze")
    expect(page.locator(".flash.ok")).to_contain_text("Snoozed until Fri 2026-11-20 08:00")
    snoozed = world.store.read.drafts.get(second)
    assert snoozed.status == "pending"
    assert snoozed.send_after is not None and snoozed.send_after.isoformat().startswith(
        "2026-11-20T13:00")
    page.goto(served.base() + "/")
    expect(page.locator("#drafts")).to_contain_text("snoozed to Fri 2026-11-20 08:00")
    expect(page.locator("#drafts")).not_to_contain_text(f"#{first}")
    # A day that is not after today is one clear line from the server, and changes nothing
    # (the form's own date limit aside).
    page.goto(served.base() + f"/drafts/{second}")
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(served.base() + f"/drafts/{second}/snooze",
                               form={"csrf": token or "", "until": "2026-11-17"})
    assert answer.ok and "snooze until a day after today" in answer.text()
    assert world.store.read.drafts.get(second).send_after == snoozed.send_after


def _request(base: str, method: str, path: str, headers: dict[str, str],
             body: str | None = None) -> tuple[int, str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_the_doors_stay_shut(browser: Browser, season_world: World, start_ui: Start) -> None:
    world = season_world
    draft_id = pending_draft(world, 1)
    served = start_ui(world.home, NOW)
    base = served.base()
    url = served.login_url()

    # No cookie: nothing but a page saying how to open maild.
    stranger = browser.new_context().new_page()
    response = stranger.goto(base + "/")
    assert response is not None and response.status == 401
    expect(stranger.locator("h1")).to_contain_text("maild ui")
    assert "Dana Rivera" not in stranger.content()

    page = open_page(browser, url)
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # The link works once.
    again = browser.new_context().new_page().goto(url)
    assert again is not None and again.status == 403
    # Every answer forbids scripts and anything not the page's own.
    response = page.goto(base + "/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'none'" in csp
    # No secret on any page: not the password, not the token, not the session.
    html = page.content()
    for path in ("/", f"/drafts/{draft_id}", "/mentors", "/applications", "/mentors/1"):
        page.goto(base + path)
        html = page.content()
        assert world.server.password not in html
        assert cookie["value"] not in html
        assert url.split("token=")[1] not in html

    cookies = cookie_header(page.context)
    host = urlsplit(base).netloc
    # A foreign Host (DNS rebinding) is refused even with the cookie.
    status, _ = _request(base, "GET", "/", {"Host": f"attacker.example:{urlsplit(base).port}",
                                            "Cookie": cookies})
    assert status == 421
    # A POST without the CSRF token (or with a wrong one) changes nothing.
    form = {"Host": host, "Cookie": cookies,
            "Content-Type": "application/x-www-form-urlencoded"}
    status, _ = _request(base, "POST", f"/drafts/{draft_id}/reject", form, body="")
    assert status == 403
    status, _ = _request(base, "POST", f"/drafts/{draft_id}/reject", form, body="csrf=x")
    assert status == 403
    # A form posted from another site is refused by its Origin before anything else.
    status, _ = _request(base, "POST", f"/drafts/{draft_id}/reject",
                         {**form, "Origin": "http://attacker.example"}, body="csrf=x")
    assert status == 403
    assert world.store.read.drafts.get(draft_id).status == "pending"
    # The page's own form, with its token, does work (the refusals were not a fluke).
    page.goto(base + f"/drafts/{draft_id}")
    page.click("#reject")
    expect(page.locator("#draft-status")).to_have_text("rejected")


@pytest.mark.parametrize("path", ["/login?token=", "/login?token=forged"])
def test_a_wrong_token_gets_no_session(browser: Browser, season_world: World,
                                       start_ui: Start, path: str) -> None:
    served = start_ui(season_world.home, NOW)
    page = browser.new_context().new_page()
    response = page.goto(served.base() + path)
    assert response is not None and response.status == 403
    assert page.context.cookies() == []


def test_the_hit_list_add_edit_and_import_with_a_preview(browser: Browser, season_world: World,
                                                         start_ui: Start,
                                                         tmp_path: Path) -> None:
    world = season_world
    served = start_ui(world.home, NOW)
    page = open_page(browser, served.login_url())
    page.click("text=Mentors")
    expect(page.locator("table.hitlist")).to_contain_text("Dana Rivera")

    # Add: the guide's columns; a bad address is one clear line and adds nothing.
    form = page.locator("#add form")
    form.locator("[name=name]").fill("Noor Haddad")
    form.locator("[name=emails]").fill("not-an-address")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.bad")).to_contain_text("is not an email address")
    form = page.locator("#add form")
    form.locator("[name=name]").fill("Noor Haddad")
    form.locator("[name=emails]").fill("nhaddad@uni.example.edu")
    form.locator("[name=title]").fill("Dr.")
    form.locator("[name=specialty]").fill("nephrology")
    form.locator("[name=last_publication]").fill("March 2025")
    form.locator("[name=rank]").fill("2")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text("Added Noor Haddad")
    row = page.locator("table.hitlist tr", has_text="Noor Haddad")
    expect(row).to_contain_text("2025-03")
    expect(row).to_contain_text("not contacted")

    # Edit.
    row.locator("text=edit").click()
    page.fill("#m-institution", "Example University")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash.ok")).to_contain_text("Saved Noor Haddad")
    record = next(m for m in mentors(world) if m.name == "Noor Haddad")
    assert record.entry.institution == "Example University"

    # Import: a preview of what changes, then the change.
    csv_file = tmp_path / "hit-list.csv"
    csv_file.write_text("Name,E-mail,Dept.,Specialty\n"
                        "Dana Rivera,drivera@med.example.edu,Cardiology,\n"
                        "Omar Said,osaid@hosp.example.org,Surgery,trauma\n")
    page.goto(served.base() + "/mentors")
    page.set_input_files("#csv-file", str(csv_file))
    page.click("#preview")
    expect(page.locator("h1")).to_have_text("Import preview")
    expect(page.locator("#added")).to_contain_text("Omar Said")
    expect(page.locator("#updated")).to_contain_text("Dana Rivera")
    expect(page.locator("#updated td.new")).to_have_text("Cardiology")
    assert "Omar Said" not in [m.name for m in mentors(world)]  # nothing saved yet
    page.click("#confirm-import")
    expect(page.locator(".flash.ok")).to_contain_text("1 added, 1 updated")
    names = {m.name: m for m in mentors(world)}
    assert "Omar Said" in names
    assert names["Dana Rivera"].entry.department == "Cardiology"
    assert names["Dana Rivera"].entry.specialty == "cardiology"  # an empty cell erased nothing


def mentors(world: World) -> list[MentorRecord]:
    return world.store.read.mentors.all()


UNCLEAR_REPLY = "I forwarded your note to our program coordinator."


def test_a_reply_to_review_is_marked_reviewed_in_the_page(browser: Browser, season_world: World,
                                                          start_ui: Start) -> None:
    # Session 2's gap: only `maild ask reviewed` could clear the flag.
    world = season_world
    draft_id = pending_draft(world, 1)
    world.approve(draft_id, paper_question="How did you handle missing data?")
    assert send_in_thread(world, draft_id) == "sent"
    ask_id = world.store.read.drafts.get(draft_id).ask_id
    world.clock.advance(hours=2)
    world.deliver(world.mentor_writes(UNCLEAR_REPLY, subject="Re: Question about your 2025 "
                                      "paper on HFpEF registries",
                                      in_reply_to=world.store.read.drafts.get(draft_id)
                                      .spec.message_id))
    world.sync()
    assert world.store.read.asks.get(ask_id).needs_review
    served = start_ui(world.home, world.clock().isoformat())
    page = open_page(browser, served.login_url())
    review = page.locator("#review article", has_text="Dana Rivera")
    expect(review).to_contain_text(UNCLEAR_REPLY)
    expect(page.locator("#attention")).to_contain_text("read Dana Rivera's reply")
    # A plain form: no script on the page, and the session's CSRF token goes with it.
    assert page.locator("script").count() == 0
    form = review.locator("form.reviewed")
    assert form.get_attribute("method") == "post"
    token = form.locator("input[name=csrf]").get_attribute("value")
    assert token
    review.locator(f"#reviewed-{ask_id}").click()
    expect(page.locator(".flash.ok")).to_have_text(f"Ask {ask_id}: review done.")
    assert urlsplit(page.url).path == "/"
    expect(page.locator("#review")).to_contain_text("No reply waits for your reading")
    expect(page.locator("#attention")).not_to_contain_text("Dana Rivera")
    assert not world.store.read.asks.get(ask_id).needs_review
    assert events_of(world, "reviewed") == [ask_id]
    # Once done, a second post (an old tab) is one clear line, and changes nothing.
    again = page.request.post(served.base() + f"/asks/{ask_id}/reviewed",
                              form={"csrf": token})
    assert again.ok and f"ask {ask_id} does not need review" in again.text()
    assert events_of(world, "reviewed") == [ask_id]
    # Without the token the page refuses it.
    stale = page.request.post(served.base() + f"/asks/{ask_id}/reviewed",
                              form={"csrf": "stale"})
    assert stale.status == 403
    assert "Traceback" not in served.stop()


def events_of(world: World, kind: str) -> list[int]:
    from tests.rawdb import raw

    return [int(r[0]) for r in raw(world.store).execute(
        "SELECT ask_id FROM events WHERE type = ? ORDER BY id", (kind,))]
