"""The terminal sanitiser: outside text shows as itself, never as control or markup.

Hypothesis feeds it hostile strings (escape sequences, OSC titles, CR overwrites, C1
controls, bidi overrides, Rich markup); nothing it returns may drive a terminal, and
Rich must print it verbatim instead of reading it as markup.
"""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from maild.cli.terminal import add_row, for_terminal

_HOSTILE_PIECES = ["\x1b[2J", "\x1b]0;pwned\x07", "\x1b]8;;http://x.example\x1b\\", "\r",
                   "\n", "\x9b31m", "\u202e", "\u2066", "\x00", "\x7f", "[/]", "[bold]",
                   "[link=http://x.example]", "\\[", "\\", "]"]
hostile = st.lists(st.one_of(st.sampled_from(_HOSTILE_PIECES), st.text(max_size=5)),
                   max_size=12).map("".join)
_DRIVES_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                              "\ufeff]")


def rendered(markup_text: str) -> str:
    out = io.StringIO()
    Console(file=out, width=10_000, color_system=None, highlight=False,
            soft_wrap=True).print(markup_text, end="")
    return out.getvalue()


@given(hostile)
def test_nothing_that_drives_a_terminal_survives(text: str) -> None:
    shown = for_terminal(text)
    assert not _DRIVES_TERMINAL.search(shown)
    # Nothing is lost silently: every unsafe character is now visible as an escape.
    assert len(shown) >= len(text)


@given(hostile)
def test_multiline_keeps_only_newlines_and_tabs(text: str) -> None:
    shown = for_terminal(text, multiline=True)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", shown)
    assert shown.count("\n") == text.count("\n")


@given(hostile)
def test_rich_prints_the_escaped_text_verbatim(text: str) -> None:
    assert rendered(for_terminal(text, markup=True)) == for_terminal(text)


@given(st.lists(hostile, min_size=3, max_size=3))
def test_a_table_of_hostile_cells_renders(cells: list[str]) -> None:
    table = Table("a", "b", "c")
    add_row(table, *cells)
    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(table)
    assert "\x1b" not in out.getvalue()


def test_known_attacks_are_visible_not_executed() -> None:
    assert for_terminal("Re: hi\r\n\x1b]0;pwned\x07") == "Re: hi\\r\\n\\x1b]0;pwned\\x07"
    assert for_terminal("\u202eevil") == "\\u202eevil"
    assert rendered(for_terminal("Eve [/] Smith", markup=True)) == "Eve [/] Smith"
