"""A mentor's Subject reaches ``maild timeline`` as data, not as terminal control.

The Subject is decoded from encoded-words, so CR/LF, ESC and OSC sequences hidden as
``=?utf-8?q?...?=`` come out as real control characters unless the CLI escapes them.
"""

from __future__ import annotations

from click.testing import CliRunner

from maild.cli import cli
from tests.mail.conftest import MENTOR, PW_ENV, World

HOSTILE_SUBJECT = "=?utf-8?q?Re=3A_Question=0D=0AX-Evil=3A_1=1B]0;pwned=07=1B[2J?="


def test_timeline_escapes_control_characters_in_a_decoded_subject(world: World) -> None:
    _ask_id, first_id = world.cold_ask_sent()
    world.deliver(world.mentor_writes("Yes, happy to talk.", in_reply_to=first_id,
                                      subject="placeholder",
                                      headers={"X-Placeholder": "1"}).replace(
        b"Subject: placeholder", b"Subject: " + HOSTILE_SUBJECT.encode()))
    world.sync()
    result = CliRunner().invoke(cli, ["--home", str(world.home), "timeline", MENTOR],
                                env={PW_ENV: world.server.password,
                                     "MAILD_NOW": world.clock().isoformat()})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\r" not in result.output
    assert "Re: Question\\r\\nX-Evil: 1\\x1b]0;pwned\\x07\\x1b[2J" in result.output
