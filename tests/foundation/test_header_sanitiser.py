"""The header sanitiser: encoded-words are decoded before control characters are looked
for, so ``=?utf-8?q?=0D=0ABcc:_x@example?=`` is refused at import, not first decoded
into a real ``Bcc:`` line when composing.

Hypothesis feeds it hostile strings (raw and encoded CR/LF/NUL/ESC, in q and b
encoding, bad charsets); whatever it lets through composes into a header block with
exactly the headers maild wrote.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from maild.adapters.compose import HeaderInjectionError, Mailbox, compose, header_text
from maild.app.hitlist_csv import HitListError, parse_csv
from maild.cli import cli

EVE = "Eve =?utf-8?q?=0D=0ABcc:_x@example?="
WRITTEN = {"from", "to", "subject", "date", "message-id", "x-mailer", "content-type",
           "content-transfer-encoding", "mime-version"}


def encoded(text: str, how: str) -> str:
    data = text.encode("utf-8")
    if how == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    return "=?utf-8?q?" + "".join(f"={b:02X}" for b in data) + "?="


controls = st.sampled_from(["\r\n", "\n", "\r", "\x00", "\x1b", "\x7f", "\r\nBcc: x@e.example"])
hostile = st.one_of(
    st.text(max_size=40),
    st.tuples(st.text(max_size=10), controls, st.sampled_from(["q", "b"]),
              st.text(max_size=10)).map(lambda t: f"{t[0]} {encoded(t[1], t[2])} {t[3]}"),
    st.tuples(st.text(max_size=10), controls).map(lambda t: t[0] + t[1]),
    st.just("=?x-unknown?q?=0A?="),
)


def headers_of(display_name: str, subject: str) -> set[str]:
    message = compose(sender=Mailbox("alex@school.example.edu", "Alex Kim"),
                      to=[Mailbox("drivera@med.example.edu", display_name)], subject=subject,
                      body="Hello", message_id="<1@school.example.edu>",
                      date=datetime(2026, 11, 17, tzinfo=UTC))
    head = bytes(message).split(b"\r\n\r\n", 1)[0].decode("ascii")
    return {line.split(":", 1)[0].lower() for line in head.split("\r\n")
            if line and not line[0].isspace()}


@given(hostile)
def test_whatever_passes_the_sanitiser_adds_no_header(value: str) -> None:
    try:
        header_text("name", value)
    except HeaderInjectionError:
        return
    assert headers_of(value, value) <= WRITTEN


@pytest.mark.parametrize("how", ["q", "b"])
@pytest.mark.parametrize("control", ["\r\n", "\n", "\x00", "\x1b"])
def test_encoded_controls_are_refused(how: str, control: str) -> None:
    with pytest.raises(HeaderInjectionError):
        header_text("name", f"Eve {encoded(control + 'Bcc: x@e.example', how)}")


def test_plain_encoded_words_are_fine() -> None:
    assert header_text("name", "Dr. =?utf-8?q?Jos=C3=A9?= Garc\u00eda") == \
        "Dr. =?utf-8?q?Jos=C3=A9?= Garc\u00eda"


def test_a_hit_list_with_an_encoded_word_injection_imports_nothing() -> None:
    text = f"name,email\n{EVE},eve@med.example.edu\nDana Rivera,drivera@med.example.edu\n"
    with pytest.raises(HitListError) as caught:
        parse_csv(text, "hitlist.csv")
    assert "line 2: name: control characters are not allowed in a header" in str(caught.value)


def test_mentor_add_refuses_an_encoded_word_injection(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "mentor", "add", EVE,
                                      "--email", "eve@med.example.edu"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("maild: error: name: control characters")
