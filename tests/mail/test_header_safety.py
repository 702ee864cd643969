"""A line break in a mentor's name (or any control character in a header field) is
refused at entry, and if one reaches the store anyway the send fails before SMTP: the
real aiosmtpd never sees an extra header.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from maild.app.hitlist_csv import HitListError, parse_csv
from maild.app.outbox import UnsendableError, check_header_block
from maild.cli import cli
from maild.core.entries import MentorInput, validate
from tests.mail.conftest import MENTOR, World
from tests.mail.worlds import approved_draft, draft_status, events, send, step_status
from tests.rawdb import raw

INJECTED = "Dana Rivera\r\nBcc: attacker@evil.example"


@pytest.mark.parametrize("value", [INJECTED, "Dana\nRivera", "Dana\x00Rivera",
                                   "Dana\x1bRivera", "Dana\x7fRivera"])
def test_control_characters_in_a_name_are_refused_at_entry(value: str) -> None:
    problems = validate(MentorInput(name=value, emails=(MENTOR,)))
    assert problems and "the name contains a line break or another control character" \
        in problems[0]


def test_control_characters_in_other_header_fields_are_refused() -> None:
    entry = MentorInput(name="Dana Rivera", emails=(MENTOR,))
    assert validate(entry) == []
    assert validate(replace(entry, connection_point="HFpEF\r\nX-Evil: 1"))
    assert validate(replace(entry, title="Dr.\n"))
    assert validate(replace(entry, emails=("drivera@med.example.edu\r\nBcc:x@y.example",)))
    # Notes never reach a header and may span lines.
    assert validate(replace(entry, notes="met at ACC\nfollow up in May")) == []


def test_csv_import_names_the_line() -> None:
    text = 'name,email\n"Dana Rivera\nBcc: attacker@evil.example",drivera@med.example.edu\n'
    with pytest.raises(HitListError) as caught:
        parse_csv(text, "hitlist.csv")
    assert "hitlist.csv: nothing imported: line 3: the name contains a line break" \
        in str(caught.value)


def test_mentor_add_refuses_with_a_clear_message(world: World) -> None:
    result = CliRunner().invoke(cli, ["--home", str(world.home), "mentor", "add", INJECTED,
                                      "--email", "other@med.example.edu"])
    assert result.exit_code == 2
    assert "the name contains a line break or another control character" in result.output
    assert raw(world.store).execute("SELECT count(*) FROM mentors").fetchone()[0] == 1


def test_a_name_injected_into_the_store_cannot_add_a_header(world: World) -> None:
    # Bypass every entry check: write the name straight into the database.
    with world.store.transaction():
        raw(world.store).execute("UPDATE mentors SET name = ? WHERE id = 1", (INJECTED,))
    draft_id = approved_draft(world, 1)
    assert any("\r\n" in n for _a, n in world.store.read.drafts.get(draft_id).spec.to_addrs)
    assert send(world, draft_id) == "failed"
    assert world.smtp.messages == []  # the server never saw a byte of it
    assert draft_status(world, draft_id) == "failed"
    assert step_status(world, draft_id) == "failed"
    error = json.loads(events(world, "send_failed")[0])["error"]
    assert "control characters are not allowed" in error


def test_a_subject_injected_into_a_draft_cannot_add_a_header(world: World) -> None:
    draft_id = approved_draft(world, 1)
    with world.store.transaction():
        raw(world.store).execute("UPDATE drafts SET subject = ? WHERE id = ?",
                               ("Hello\r\nBcc: attacker@evil.example", draft_id))
    assert send(world, draft_id) == "failed"
    assert world.smtp.messages == []


def test_the_header_block_check_refuses_unknown_headers() -> None:
    clean = (b"From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n"
             b"References: <a@b.example>\r\n <c@d.example>\r\n\r\nbody\r\n")
    check_header_block(clean)
    with pytest.raises(UnsendableError, match="unexpected header line 'Bcc"):
        check_header_block(b"From: a@b.example\r\nBcc: x@evil.example\r\n\r\nbody\r\n")
    with pytest.raises(UnsendableError):
        check_header_block(b"From: a@b.example\r\nno colon here\r\n\r\nbody\r\n")


def test_home_is_the_fixture_home(world: World) -> None:
    # The CLI test above relies on the world's files being where --home looks.
    assert (world.home / "config.toml").exists() and Path(world.store.path).parent == world.home
