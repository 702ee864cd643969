"""Issue 11.5-11.7 through the real CLI: the user's words reach the drafts, spreadsheet
text reads well in them, drafts follow their inputs, and the state tells the truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.cli import cli
from maild.config import load
from maild.core import events as ev
from maild.core.model import Intent
from maild.store import Store
from tests.tracking.conftest import CONFIG

Run = Callable[..., Result]
NOW = "2026-11-16T10:00:00-05:00"  # a Monday


@pytest.fixture
def home(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    (files / "Alex_Kim_CV.pdf").write_bytes(b"%PDF-1.4 cv\n")
    (files / "personal_statement.pdf").write_bytes(b"%PDF-1.4 ps\n")
    extra = (f'\n[attachments]\ncv = "{files / "Alex_Kim_CV.pdf"}"\n'
             f'personal_statement = "{files / "personal_statement.pdf"}"\n')
    (tmp_path / "config.toml").write_text(CONFIG.format(extra=extra), encoding="utf-8")
    return tmp_path


@pytest.fixture
def run(home: Path) -> Run:
    def invoke(*args: str, now: str = NOW, ok: bool = True) -> Result:
        # A wide terminal, so a table cell is not wrapped in the middle of a word.
        result = CliRunner().invoke(cli, ["--home", str(home), *args],
                                    env={"MAILD_NOW": now, "COLUMNS": "240"})
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return invoke


def drafts(run: Run) -> list[dict[str, Any]]:
    return list(json.loads(run("drafts", "--json").output))


def draft_of(run: Run, ask_id: int, template: str | None = None) -> dict[str, Any]:
    [found] = [d for d in drafts(run) if d["ask_id"] == ask_id
               and (template is None or d["template"] == template)]
    return found


# Spreadsheet rows the way students really type them.
HIT_LIST = "\n".join([
    "Rank,Name,Title,Institution,Specialty,Email,Connection point",
    "1,Dr. Elena Marquez,,Lakeside University,Cardiology research,"
    "emarquez@lakeside.example.edu,your 2025 JAMA paper",
    '2,"Okafor, Samuel",Dr.,Example Hospital,Internal Medicine,sokafor@hosp.example.org,'
    "The 2024 NEJM trial of early mobility.",
    "3,Priya Patel MD,,Northbrook,HIV medicine,ppatel@northbrook.example.org,"
    "Dr. Patel's review on PrEP uptake",
    "4,JUAN DE LA CRUZ,Prof.,Example University,Global Health,jdlc@example.edu,"
    "Paper on cholera surveillance in Haiti",
    "5,Mei Chen,PhD,Example Institute,Alzheimer's disease,mchen@institute.example.org,"
    "her talk at AAIC 2025",
]) + "\n"


def import_list(run: Run, home: Path, text: str = HIT_LIST) -> Result:
    path = home / "hit.csv"
    path.write_text(text, encoding="utf-8")
    return run("mentor", "import", str(path))


def test_spreadsheet_rows_make_emails_a_professor_would_not_wince_at(run: Run,
                                                                     home: Path) -> None:
    import_list(run, home)
    expected = {
        1: ("Dear Dr. Marquez,", "Question about your 2025 JAMA paper",
            "in cardiology research"),
        2: ("Dear Dr. Okafor,", "Question about your 2024 NEJM trial of early mobility",
            "in internal medicine research"),
        3: ("Dear Dr. Patel,", "Question about your review on PrEP uptake",
            "in HIV medicine research"),
        4: ("Dear Prof. de la Cruz,", "Question about your paper on cholera surveillance "
            "in Haiti", "in global health research"),
        5: ("Dear Dr. Chen,", "Question about your talk at AAIC 2025",
            "in Alzheimer's disease research"),
    }
    for mentor_id in expected:
        run("ask", "cold", str(mentor_id), "--field", "paper_question=how did you choose "
            "the primary outcome")
    for d in drafts(run):
        greeting, subject, field = expected[d["ask_id"]]
        body = d["body"]
        assert d["subject"] == subject
        assert body.startswith(greeting + "\n"), body
        assert field in body
        assert "one question stayed with me: how did you choose the primary outcome?" in body
        lowered = (d["subject"] + body).lower()
        for bad in ("your your", "dr. dr.", "research research", "[[", "{{", "..", " .",
                    "the the"):
            assert bad not in lowered, (bad, d["subject"], body)
        assert d["missing_fields"] == []


def test_cli_words_reach_the_drafts(run: Run, home: Path) -> None:
    import_list(run, home)
    # Issue 11.5: --programs A --programs B kept only B.
    run("application", "add", "AHA Student Research Fellowship 2026", "--deadline",
        "2027-02-26", "--programs", "Lakeside University", "--programs", "Northbrook "
        "Medical Center", "--instructions", "Upload the letter to the AHA portal.")
    listed = json.loads(run("application", "list", "--json").output)
    assert listed[0]["programs"] == "Lakeside University; Northbrook Medical Center"
    run("ask", "letter", "Okafor", "--application", "AHA Student Research Fellowship 2026",
        "--field", "work_together=the early mobility project on 5 West")
    request = draft_of(run, 1)
    # Issue 11.7: "for AHA Student Research Fellowship 2026" had no article.
    assert ("my application for the AHA Student Research Fellowship 2026, and I learned a "
            "great deal working with you on the early mobility project on 5 West"
            in request["body"])
    assert request["missing_fields"] == []
    run("approve", str(request["id"]))
    run("ask", "mark", "1", "agreed")
    packet = draft_of(run, 1, "letter_packet")
    assert "- Lakeside University\n- Northbrook Medical Center" in packet["body"]
    assert [Path(p).name for p in packet["attachments"]] == ["Alex_Kim_CV.pdf",
                                                              "personal_statement.pdf"]
    # What the request promised and no file carries is the student's to write.
    assert packet["missing_fields"] == ["user.work_summary", "user.talking_points"]
    # Issue 11.5: the outcome the user types is the thank-you's sentence.
    result = run("application", "outcome", "AHA Student Research Fellowship 2026",
                 "I was awarded the AHA fellowship for next year")
    assert "1 thank-you draft(s) prepared" in result.output
    [thanks] = [d for d in drafts(run) if d["template"] == "outcome_thanks"]
    assert thanks["missing_fields"] == []
    assert "hear it from me: I was awarded the AHA fellowship for next year.\n" in thanks["body"]
    run("ask", "thanks", "Marquez", "--note", "matched at Lakeside University")
    [noted] = [d for d in drafts(run) if d["template"] == "outcome_thanks"
               and d["to"] == ["emarquez@lakeside.example.edu"]]
    assert noted["missing_fields"] == []
    assert "hear it from me: Matched at Lakeside University." in noted["body"]


def test_a_field_no_template_uses_is_refused(run: Run, home: Path) -> None:
    import_list(run, home)
    typo = run("ask", "cold", "Marquez", "--field", "paper_questoin=Why?", ok=False)
    assert typo.exit_code == 2
    assert "--field paper_questoin: no draft of a cold ask uses it" in typo.output
    assert "paper_question" in typo.output


def test_placeholders_show_as_typed_in_the_drafts_table(run: Run, home: Path) -> None:
    # Issue 11.7: [[introduced_by]] showed as [] (read as terminal markup).
    import_list(run, home)
    run("ask", "warm", "Chen")
    table = run("drafts").output
    assert "[[introduced_by]] suggested I reach out" in table
    assert "user.introduced_by" in table
    run("ask", "warm", "Patel", "--introduced-by", "Dr. Lee")
    draft = draft_of(run, 2)
    assert draft["subject"] == "Dr. Lee suggested I reach out"
    assert draft["missing_fields"] == []


def test_a_draft_follows_its_mentor_and_a_reimport_updates(run: Run, home: Path) -> None:
    import_list(run, home)
    run("ask", "cold", "Marquez")
    before = draft_of(run, 1)
    assert before["subject"] == "Question about your 2025 JAMA paper"
    # Issue 11.7: after `mentor edit` the draft showed the old text until approval.
    out = run("mentor", "edit", "Marquez", "--connection-point",
              "2026 Circulation paper on remote monitoring").output
    assert "1 waiting draft(s) rendered again" in out
    after = draft_of(run, 1)
    assert after["subject"] == "Question about your 2026 Circulation paper on remote monitoring"
    assert after["id"] == before["id"] and after["message_id"] == before["message_id"]
    # Issue 11.7: re-importing an edited CSV failed ("already belongs to mentor 1").
    edited = HIT_LIST.replace("your 2025 JAMA paper", "your 2025 JAMA Cardiology paper") \
        .replace("5,Mei Chen", "6,Mei Chen")
    out = import_list(run, home, edited).output
    assert "0 new, 2 updated, 3 unchanged" in out
    assert "updated 1 Dr. Elena Marquez: connection point" in out
    assert "updated 5 Mei Chen: rank" in out
    assert draft_of(run, 1)["subject"] == "Question about your 2025 JAMA Cardiology paper"
    # A row with another address but a known name is that person, not a stranger; a
    # stale sheet never takes back an address fixed with `mentor edit` (after a bounce).
    run("mentor", "edit", "Okafor", "--email", "samuel.okafor@newhosp.example.org")
    out = import_list(run, home, edited.replace("Internal Medicine", "General Medicine")).output
    assert "0 new, 1 updated, 4 unchanged" in out
    assert "updated 2 Okafor, Samuel: specialty (matched by name" in out
    shown = json.loads(run("mentor", "show", "Okafor", "--json").output)
    assert shown["emails"] == ["samuel.okafor@newhosp.example.org"]
    # A new address next to a known one is added; the one drafts go to stays first.
    added = edited.replace("mchen@institute.example.org", "mchen@institute.example.org; "
                           "mei.chen@home.example.org")
    out = import_list(run, home, added).output
    assert "updated 5 Mei Chen: emails" in out
    shown = json.loads(run("mentor", "show", "Chen", "--json").output)
    assert shown["emails"] == ["mchen@institute.example.org", "mei.chen@home.example.org"]


def test_hesitant_is_not_committed_and_is_a_risk(run: Run, home: Path) -> None:
    import_list(run, home)
    run("application", "add", "ERAS 2027 Internal Medicine", "--deadline", "2027-01-29",
        "--letters", "3")
    for who in ("Marquez", "Okafor", "Patel"):
        run("ask", "letter", who, "--application", "ERAS 2027 Internal Medicine",
            "--field", "work_together=the sepsis project")
    config = load(home / "config.toml")
    with Store.open(home / "maild.db") as store:
        from datetime import datetime

        tracker = Tracker(store, config, TemplateDrafts(home, config))
        at = datetime.fromisoformat("2026-11-17T10:00:00-05:00")
        for ask_id in (1, 2, 3):
            tracker.handle(ask_id, ev.MessageSent(step="request", at=at), at)
        tracker.handle(1, ev.HumanReply(Intent.AGREE, at=at), at)
        tracker.handle(2, ev.HumanReply(Intent.HESITANT, at=at), at)
        tracker.handle(3, ev.HumanReply(Intent.DECLINE, at=at), at)
    status = json.loads(run("status", "--json", now="2026-12-20T10:00:00-05:00").output)
    [application] = status["applications"]
    # Issue 11.6: a hesitant yes counted as committed, with no risk shown.
    assert (application["committed"], application["hesitant"]) == (1, 1)
    kinds = {r["kind"] for r in status["risks"]}
    assert "hesitant" in kinds and "letters_short" in kinds
    text = run("status", now="2026-12-20T10:00:00-05:00").output
    assert "yes is hesitant" in text
