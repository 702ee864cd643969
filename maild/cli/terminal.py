"""Outside text made safe for the user's terminal: the one sanitiser every CLI path uses.

Mentors' names, subjects, reply text, hit-list cells and server messages are data
(invariant 12). Written raw, an ESC or OSC sequence in them drives the terminal (moves
the cursor, rewrites the title, hides text, sets a hyperlink), a CR overwrites what was
shown, and ``[/]`` in a Rich table is read as markup and crashes the command. Here
every control character becomes a visible escape (``\\x1b``, ``\\r``) and, for Rich,
markup is escaped, so the user sees exactly the characters that arrived.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

# C0 controls, DEL, C1 controls (an 8-bit CSI is 0x9b), and the Unicode formatting
# characters that reorder or hide text on screen (bidi overrides and isolates, zero
# width marks, line and paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Rich reads "[" + a letter, #, / or @ ... "]" as a tag unless an odd number of
# backslashes precede it (then it prints half of them and the bracket); before any other
# "[" it drops one backslash. The escape below undoes exactly that.
_BRACKET = re.compile(r"(\\*)\[(?=([a-z#/@][^[]*?])?)")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _escape_bracket(match: re.Match[str]) -> str:
    backslashes = match.group(1)
    if match.group(2) is not None:  # a tag: an odd count escapes it, half are printed
        return backslashes * 2 + "\\["
    return backslashes + "\\["


def for_terminal(value: object, *, markup: bool = False, multiline: bool = False) -> str:
    """``value`` as text that shows as itself on a terminal.

    Control and formatting characters are escaped (``multiline`` keeps newlines and
    tabs, for bodies shown as such); ``markup`` also escapes Rich markup, for text that
    goes through a Rich console or table.
    """
    text = "" if value is None else str(value)
    text = (_UNSAFE_KEEP_LINES if multiline else _UNSAFE).sub(_visible, text)
    if markup:
        # Not rich.markup.escape: it leaves "\\[" alone (Rich prints "[") and appends a
        # backslash to text ending in one (Rich prints it).
        text = _BRACKET.sub(_escape_bracket, text)
    return text


def add_row(table: Table, *cells: object) -> None:
    """A table row of outside text: every cell through ``for_terminal(markup=True)``."""
    table.add_row(*(for_terminal(cell, markup=True) for cell in cells))
