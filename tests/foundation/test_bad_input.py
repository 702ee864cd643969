"""Bad input and unexpected failures: one line for the user, never a traceback.

Also the small hygiene around them: password commands are named by their program only,
through one function, and module-level lookup tables cannot be changed by accident.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest
from click.testing import CliRunner, Result

from maild.app.hitlist_csv import HitListError, parse_csv
from maild.cli import cli
from maild.cli.app import App
from maild.config import PasswordSource
from maild.runtime import doctor

REPLIES = Path(__file__).resolve().parents[1] / "data" / "replies"
CONFIG = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
timezone = "America/New_York"

[[accounts]]
name = "school"
email = "alex@school.example.edu"
imap = {{ host = "127.0.0.1", port = 1, security = "none" }}
smtp = {{ host = "127.0.0.1", port = 1, security = "none" }}
password = {{ command = {command} }}
"""


def maild(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


# -- the hit list CSV ------------------------------------------------------------------


def test_a_huge_csv_field_is_a_row_problem() -> None:
    text = "name,email,notes\nA B,a@x.example.edu,\"" + "x" * 200_000 + "\"\n"
    with pytest.raises(HitListError) as caught:
        parse_csv(text, "hit.csv")
    assert "hit.csv: nothing imported: line 2: a field is longer than" in str(caught.value)


@pytest.mark.parametrize("rank", ["inf", "-inf", "nan", "1e30", "-1", "100001"])
def test_a_rank_that_is_not_a_small_number_is_a_row_problem(rank: str) -> None:
    with pytest.raises(HitListError) as caught:
        parse_csv(f"rank,name,email\n{rank},A B,a@x.example.edu\n")
    assert f"line 2: rank {rank!r} is not a number from 0 to 100000" in str(caught.value)
    entries = parse_csv("rank,name,email\n0,A B,a@x.example.edu\n100000,C D,c@x.example.edu\n"
                        "2.0,E F,e@x.example.edu\n")
    assert [e.rank for e in entries] == [0, 100000, 2]


def test_mentor_import_of_a_huge_field_is_one_line(tmp_path: Path) -> None:
    text = "name,email\nA B,\"a@x.example.edu" + "x" * 200_000 + "\n"
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "mentor", "import", "-"],
                                input=text)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("maild: error: -: nothing imported: line ")
    assert result.output.count("\n") == 1


# -- the last-resort handler -----------------------------------------------------------


def _broken(self: App) -> Path:
    raise RuntimeError("boom\nsecond line")


def test_an_unexpected_exception_is_one_internal_error_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(App, "config_path", property(_broken))
    result = maild("--home", str(tmp_path), "config", "path")
    assert result.exit_code == 1
    assert result.output == ("maild: internal error: RuntimeError: boom (rerun with --debug "
                             "for the traceback)\n")
    debug = maild("--home", str(tmp_path), "--debug", "config", "path")
    assert isinstance(debug.exception, RuntimeError)

    # click's own errors and explicit exit codes are not "internal".
    missing = maild("--home", str(tmp_path), "ask", "cold")
    assert missing.exit_code == 2 and "Usage:" in missing.output
    assert "internal error" not in missing.output
    bad = tmp_path / "notes.txt"
    bad.write_text("not a message\n")
    inspected = maild("inspect", str(bad))
    assert inspected.exit_code == 2 and "internal error" not in inspected.output


# -- MAILD_NOW ---------------------------------------------------------------------------


def test_maild_now_out_of_range_is_refused_and_doctor_says_so(tmp_path: Path) -> None:
    far = "9999-12-30T09:00:00+00:00"
    result = maild("--home", str(tmp_path), "mentor", "add", "A B", "--email",
                   "ab@uni.example.edu", env={"MAILD_NOW": far})
    assert result.exit_code == 2
    assert result.output == (f"maild: error: MAILD_NOW: {far} is outside the years "
                             "2000-2100 that maild plans in\n")
    check = doctor.check_clock({"MAILD_NOW": far})
    assert check.status == doctor.Status.PROBLEM and "2000-2100" in check.detail
    assert doctor.check_clock({"MAILD_NOW": "2100-12-31T09:00:00+00:00"}).status == (
        doctor.Status.WARNING)
    # Commands that never read the clock, and --help, are not stopped by it.
    assert maild("--home", str(tmp_path), "ask", "--help", env={"MAILD_NOW": far}).exit_code == 0
    assert maild("--home", str(tmp_path), "mentor", "list",
                 env={"MAILD_NOW": "garbage"}).exit_code == 0


# -- maild inspect ---------------------------------------------------------------------


def test_inspect_errors_look_like_every_other_command(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"just some notes\nnot a message\n")
    single = maild("inspect", str(bad))
    assert single.exit_code == 2
    assert single.output.startswith(f"maild: error: {bad}: ")
    assert single.output.count("\n") == 1

    good = str(REPLIES / "hesitant-01.eml")
    several = CliRunner().invoke(cli, ["inspect", good, str(bad)])
    assert several.exit_code == 2
    assert several.stderr.startswith(f"maild: error: {bad}: ")
    assert several.stdout.startswith(f"== {good}\n") and str(bad) not in several.stdout

    lines = maild("inspect", good, str(bad), "--json").output.splitlines()
    assert json.loads(lines[1])["file"] == str(bad) and "error" in json.loads(lines[1])


# -- password commands -------------------------------------------------------------------


def test_one_function_names_a_password_command_by_its_program() -> None:
    from maild.adapters.credentials import command_program

    assert command_program("pass show mail/school") == "pass"
    assert command_program("  '/opt/my tools/pw' --account school") == "/opt/my tools/pw"
    assert command_program('echo "hunter2') == "echo"  # an unclosed quote: no ValueError
    assert command_program("") == "(empty)"
    assert not hasattr(PasswordSource, "describe")  # it printed the arguments


def test_config_show_with_an_unclosed_quote_in_the_command(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        CONFIG.format(command=json.dumps('echo "hunter2')), encoding="utf-8")
    result = maild("--home", str(tmp_path), "config", "show", "--json")
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    shown = json.loads(result.output)["accounts"][0]["password"]
    assert shown == {"command": "echo (arguments redacted)"}

    (tmp_path / "config.toml").write_text(CONFIG.format(command='"get-mail-password"'),
                                          encoding="utf-8")
    result = maild("--home", str(tmp_path), "config", "show", "--json")
    assert json.loads(result.output)["accounts"][0]["password"] == {
        "command": "get-mail-password"}


# -- constants ---------------------------------------------------------------------------


def test_lookup_tables_are_read_only() -> None:
    from maild.app import hitlist_csv as hitlist
    from maild.cli import doctor_cmd
    from maild.runtime import demo
    from maild.understand import bounce, ooo

    for table in (ooo._MONTHS, ooo._WEEKDAYS, bounce._STAGE, doctor_cmd._COLOURS,
                  demo.SAMPLE_FIELDS, hitlist._ALIASES):
        assert isinstance(table, MappingProxyType)
        with pytest.raises(TypeError):
            table["new"] = None  # type: ignore[index]
