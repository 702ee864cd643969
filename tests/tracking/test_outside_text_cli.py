"""Outside text through the CLI: Rich markup in names from a hit list.

A hit list comes from a spreadsheet someone else may have written; ``[/]`` in a name
used to crash ``mentor list``, ``ask list`` and ``drafts`` ("internal error"). (Control
characters are refused at import; those arrive by mail: tests/mail/test_timeline_text.)
"""

from __future__ import annotations

import pytest

from tests.tracking.conftest import Run

NAME = "Eve [/] [bold]Mallory"


@pytest.fixture
def eve(run: Run) -> None:
    run("mentor", "add", NAME, "--email", "eve@med.example.edu", "--title", "Dr.",
        "--specialty", "cardiology [/]", "--connection-point", "paper [/] on red")


@pytest.mark.parametrize("command", [("mentor", "list"), ("mentor", "show", "eve@med.example.edu"),
                                     ("ask", "list"), ("drafts",), ("status",),
                                     ("timeline", "eve@med.example.edu")])
def test_hostile_names_are_shown_not_obeyed(run: Run, eve: None,
                                            command: tuple[str, ...]) -> None:
    run("ask", "cold", "eve@med.example.edu")
    result = run(*command)
    assert "\x1b" not in result.output and "\x07" not in result.output
    if command[0] not in ("status", "drafts"):  # those do not show the name
        # Shown as typed, not read as markup (Rich may wrap the name inside its cell).
        assert "[/]" in result.output and "[bold]" in result.output, result.output

