"""The CLI in a pipeline, and `maild ask thread`.

`maild ask cold X | head -1` used to end with "internal error: BrokenPipeError": the
reader left, and the next line had nowhere to go. That is no error of the user's; the
command ends quietly. `maild ask thread` picks the thread maild's follow-ups reply in.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from maild.store import Store
from maild.store import messages as messages_repo
from maild.store.messages import MessageRecord
from tests.tracking.conftest import Run, as_json
from tests.tracking.test_bad_input_cli import one_error_line


def test_output_into_a_closed_pipe_ends_quietly(home: Path, run: Run, rivera: int) -> None:
    # The reader is gone before maild writes a line (as `| head -1` is after one line).
    child = subprocess.Popen(
        [sys.executable, "-m", "maild", "--home", str(home), "ask", "cold", "Rivera"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"MAILD_NOW": "2026-11-16T10:00:00-05:00", "PATH": "/usr/bin:/bin"})
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    stderr = child.stderr.read().decode()
    child.wait(timeout=60)
    assert stderr == "", stderr
    assert child.returncode == 1
    # The ask was made all the same: only the printing was cut short.
    assert [a["playbook"] for a in as_json(run("ask", "list", "--json"))] == ["cold"]


def test_shell_pipeline_into_head_prints_one_line_and_no_error(home: Path, rivera: int) -> None:
    done = subprocess.run(
        f"'{sys.executable}' -m maild --home '{home}' ask cold Rivera | head -1",
        shell=True, capture_output=True, text=True, timeout=60,
        env={"MAILD_NOW": "2026-11-16T10:00:00-05:00", "PATH": "/usr/bin:/bin"})
    assert done.stdout.startswith("Created cold ask 1 to Dana Rivera.")
    assert len(done.stdout.splitlines()) == 1
    assert done.stderr == ""


def _record(home: Path, ask_id: int, message_id: str, direction: str) -> None:
    with Store.open(home / "maild.db") as store, store.transaction():
        messages_repo.record(store, MessageRecord(
            account="school", folder="Sent", uid=7, uidvalidity=1, direction=direction,
            message_id=message_id, in_reply_to=(), references=(),
            from_addr="alex@school.example.edu", to_addrs=("drivera@med.example.edu",),
            subject="Shadowing?", date=None, ask_id=ask_id,
            match_reason="recipient drivera@med.example.edu is a mentor with one open ask"),
            datetime(2026, 11, 16, 15, tzinfo=UTC))


def test_ask_thread_adopts_a_message_of_the_ask(home: Path, run: Run, rivera: int) -> None:
    run("ask", "cold", "Rivera")
    _record(home, 1, "<own@school.example.edu>", "out")
    result = run("ask", "thread", "1", "own@school.example.edu")
    assert "follow-ups reply in the thread of <own@school.example.edu>" in result.output
    with Store.open(home / "maild.db") as store:
        assert store.read.asks.get(1).thread_message_ids[-1] == "<own@school.example.edu>"


def test_ask_thread_refuses_a_stranger_message(home: Path, run: Run, rivera: int) -> None:
    run("ask", "cold", "Rivera")
    line = one_error_line(run("ask", "thread", "1", "<nobody@x>", ok=False))
    assert "<nobody@x> is not a message of ask 1" in line
    unknown = run("ask", "thread", "9", "<nobody@x>", ok=False)
    assert unknown.exit_code != 0 and unknown.output.startswith("maild: error: ")
    assert "ask 9" in unknown.output and len(unknown.output.strip().splitlines()) == 1
