"""``maild inspect`` through click's CliRunner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


HOSTILE = {
    # charsets that raise where others replace, in the body, a header and a parameter
    "idna.eml": (b"From: =?idna?q?M=FCller=2C_B?= <b@example.org>\r\nSubject: =?idna?q?caf=E9?=\r\n"
                 b"Content-Type: text/plain; charset=idna\r\n\r\nYes, happy to \xe9\xff\r\n"),
    "undefined.eml": (b"From: MAILER-DAEMON@example.org\r\nSubject: Undelivered Mail\r\n"
                      b"Return-Path: <>\r\nContent-Type: text/plain; charset=undefined\r\n\r\n"
                      b"<x@example.org>: 550 5.1.1 user unknown \xff\r\n"),
    "punycode.eml": (b"From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/report; "
                     b"report-type*=punycode''delivery-status; boundary=b\r\n\r\n--b\r\n"
                     b"Content-Type: text/plain; charset=punycode\r\n\r\n\xff\xfe qmail\r\n"
                     b"--b--\r\n"),
    "far-future.eml": (b"From: x@example.org\r\nSubject: Out of Office\r\nAuto-Submitted: "
                       b"auto-replied\r\nDate: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\n"
                       b"I am out of the office until 31/12/9999.\r\n"),
}


def test_a_batch_goes_on_past_bad_files_and_prints_no_traceback(tmp_path: Path) -> None:
    """In a real process (no pytest log capture): one JSON line per file, in order, the
    unreadable ones with "error"; nothing from maild or flufl.bounce on stderr."""
    names = []
    for name, raw in HOSTILE.items():
        (tmp_path / name).write_bytes(raw)
        names.append(str(tmp_path / name))
    (tmp_path / "folder").mkdir()
    files = [names[0], str(tmp_path / "folder"), *names[1:], str(REPLIES / "agree-01.eml")]
    env = {**os.environ, "MAILD_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "maild", "inspect", *files, "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == files
    assert "error" in lines[1]
    assert all("kind" in line for i, line in enumerate(lines) if i != 1)
    assert lines[-1]["intent"] == "agree"
    by_name = {Path(line["file"]).name: line for line in lines}
    assert by_name["idna.eml"]["from"] == "b@example.org"
    assert by_name["far-future.eml"]["return_date"] is None
    assert done.returncode == 2  # one file failed; the script still learns it
    assert done.stderr == ""
