"""``mentor edit`` beside the daemon: an edit changes only what the user asked for.

The daemon moves a mentor's outreach_status when a reply lands. ``mentor edit`` reads
the mentor before it writes; a reply applied in between must survive the edit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.store import Store
from maild.store import mentors as repo
from tests.tracking.conftest import Run, as_json


def test_edit_keeps_a_status_the_daemon_set_meanwhile(
        run: Run, rivera: int, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("mentor", "edit", "Rivera", "--outreach-status", "waiting_reply")
    real_find = repo.Mentors.find

    def find_then_reply_lands(self: repo.Mentors, ref: str) -> repo.MentorRecord:
        record = real_find(self, ref)
        # The daemon, on its own connection, applies a reply right after the read.
        with Store.open(home / "maild.db") as daemon, daemon.transaction() as tx:
            tx.mentors.set_outreach_status(record.id, "meeting")
        return record

    monkeypatch.setattr(repo.Mentors, "find", find_then_reply_lands)
    run("mentor", "edit", "Rivera", "--notes", "met at grand rounds")
    monkeypatch.undo()
    shown = as_json(run("mentor", "show", "Rivera", "--json"))
    assert shown["notes"] == "met at grand rounds"
    assert shown["outreach_status"] == "meeting"
    # The addresses, not part of this edit, are untouched too.
    assert shown["emails"] == ["drivera@med.example.edu", "dana.rivera@example.org"]


def test_editing_only_the_assistant_keeps_the_mentor_addresses(run: Run, rivera: int) -> None:
    run("mentor", "edit", "Rivera", "--assistant", "office@med.example.edu")
    shown = as_json(run("mentor", "show", "Rivera", "--json"))
    assert shown["emails"] == ["drivera@med.example.edu", "dana.rivera@example.org"]
    assert shown["assistant_emails"] == ["office@med.example.edu"]
