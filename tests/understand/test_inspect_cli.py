"""``maild inspect`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from maild.cli.inspect_cmd import inspect_command

REPLIES = Path(__file__).resolve().parents[1] / "data" / "replies"
DESIGN_KEYS = {"kind", "intent", "return_date", "bounce", "reply_text"}


def test_single_file_json_has_the_design_keys() -> None:
    result = CliRunner().invoke(inspect_command, [str(REPLIES / "auto-01.eml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= DESIGN_KEYS
    assert data["kind"] == "auto_reply"
    assert data["return_date"] == "2026-04-06"
    assert data["intent"] is None and data["bounce"] is None


def test_stdin_with_dash() -> None:
    raw = (REPLIES / "decline-03.eml").read_bytes()
    result = CliRunner().invoke(inspect_command, ["-", "--json"], input=raw)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["kind"], data["intent"]) == ("human", "decline")
    assert "Sent from my iPhone" not in data["reply_text"]


def test_bounce_json(tmp_path: Path) -> None:
    eml = tmp_path / "bounce.eml"
    eml.write_bytes(
        b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"X-Failed-Recipients: jroe@example.org\r\n\r\n"
        b"<jroe@example.org>: 550 5.1.1 user unknown (in reply to RCPT TO command)\r\n"
    )
    data = json.loads(CliRunner().invoke(inspect_command, [str(eml), "--json"]).output)
    assert data["kind"] == "bounce"
    assert data["bounce"]["recipients"] == ["jroe@example.org"]
    assert data["bounce"]["status"] == "5.1.1"
    assert data["bounce"]["address_invalid"] is True


def test_several_files_give_json_lines_in_order_with_errors(tmp_path: Path) -> None:
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    files = [str(REPLIES / "agree-01.eml"), str(bad), str(REPLIES / "meeting-02.eml")]
    result = CliRunner().invoke(inspect_command, [*files, "--json"])
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["file"] for line in lines] == files
    assert lines[0]["intent"] == "agree"
    assert "error" in lines[1] and "kind" not in lines[1]
    assert lines[2]["intent"] == "meeting"
    assert result.exit_code == 2


def test_single_non_email_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"just some notes\nnot a message\n")
    result = CliRunner().invoke(inspect_command, [str(bad)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "not an email" in result.output


def test_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(inspect_command, [str(tmp_path / "nope.eml")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_readable_summary() -> None:
    result = CliRunner().invoke(inspect_command, [str(REPLIES / "hesitant-01.eml")])
    assert result.exit_code == 0
    assert "kind:        human" in result.output
    assert "intent:      hesitant" in result.output
    assert "someone who supervised you more directly" in result.output
