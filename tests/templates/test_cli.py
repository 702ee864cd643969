"""``maild template list|show|edit|check`` through click's CliRunner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from maild.adapters.templates import TEMPLATE_NAMES
from maild.cli.app import App
from maild.cli.template_cmd import template_group


def _run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    app = App(home=home, env={}, console=Console(width=200, color_system=None))
    return CliRunner().invoke(template_group, list(args), obj=app, env=env)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_every_command_has_help(home: Path) -> None:
    for command in ("list", "show", "edit", "check"):
        result = _run(home, command, "--help")
        assert result.exit_code == 0
        assert len(result.output.split("\n\n")[1].strip()) > 10, command


def test_list(home: Path) -> None:
    result = _run(home, "list", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    by_name = {row["name"]: row for row in rows}
    assert set(TEMPLATE_NAMES) <= set(by_name)
    assert by_name["cold_nudge"]["source"] == "default"
    assert by_name["cold_nudge"]["subject"] == "Re: {{ thread.subject }}"
    table = _run(home, "list")
    assert table.exit_code == 0
    assert "cold_final_nudge" in table.output and "default" in table.output


def test_show_source_and_sample(home: Path) -> None:
    result = _run(home, "show", "cold_initial")
    assert result.exit_code == 0
    assert "Subject: Question about your {{ mentor.connection_point }}" in result.stdout
    assert "user.paper_question" in result.stderr
    sample = _run(home, "show", "cold_initial", "--sample")
    assert sample.stdout.startswith("Subject: Question about your 2024 JAMA")
    data = json.loads(_run(home, "show", "meeting_summary", "--json").stdout)
    assert data["user_fields"] == ["summary", "next_step"]
    assert data["source"] == "default"


def test_show_unknown_is_one_line_error(home: Path) -> None:
    result = _run(home, "show", "nope")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no such template" in result.stderr
    bad = _run(home, "show", "../x")
    assert bad.exit_code == 2 and "not a template name" in bad.stderr


def test_check_defaults_ok(home: Path) -> None:
    result = _run(home, "check")
    assert result.exit_code == 0, result.output


def test_check_reports_file_and_line(home: Path) -> None:
    templates = home / "templates"
    templates.mkdir()
    (templates / "update_note.j2").write_text("Subject: x\n\n{{ user.update_line }}\n{% endif %}\n")
    (templates / "cold_nudge.j2").write_text("Subject: Re: x\n\nHi {{ mentor.nickname }}\n")
    result = _run(home, "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{templates / 'cold_nudge.j2'}:3: missing field mentor.nickname" in lines
    assert any(line.startswith(f"{templates / 'update_note.j2'}:4: ") for line in lines)
    assert len(lines) == 2


def _editor(tmp_path: Path, new_text: str) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\n"
        f"pathlib.Path(sys.argv[1]).write_text({new_text!r})\n"
    )
    return {"EDITOR": f"{sys.executable} {script}", "VISUAL": ""}


def test_edit_copies_default_then_checks(home: Path, tmp_path: Path) -> None:
    text = "Subject: News\n\nDear {{ mentor.salutation }}, {{ user.update_line }}\n"
    result = _run(home, "edit", "update_note", env=_editor(tmp_path, text))
    assert result.exit_code == 0, result.output
    path = home / "templates" / "update_note.j2"
    assert path.read_text() == text
    listed = {json.loads(x)["name"]: json.loads(x) for x in
              _run(home, "list", "--json").output.splitlines()}
    assert listed["update_note"]["source"] == "override"


def test_edit_keeps_default_copy_when_editor_changes_nothing(
    home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "noop.py"
    script.write_text("")
    env = {"EDITOR": f"{sys.executable} {script}", "VISUAL": ""}
    result = _run(home, "edit", "letter_request", env=env)
    assert result.exit_code == 0, result.output
    default = Path(__file__).parents[2] / "maild" / "templates" / "letter_request.j2"
    assert (home / "templates" / "letter_request.j2").read_text() == default.read_text()


def test_edit_reports_a_broken_result(home: Path, tmp_path: Path) -> None:
    env = _editor(tmp_path, "Subject: x\n\n{{ mentor.salutaton }}\n")
    result = _run(home, "edit", "decline_thanks", env=env)
    assert result.exit_code == 1
    path = home / "templates" / "decline_thanks.j2"
    assert f"{path}:3: missing field mentor.salutaton" in result.output
    assert path.exists()  # kept, so the user can fix it
