"""The hit list: CSV import tolerant of spreadsheets, all-or-nothing, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from maild.app.hitlist_csv import HitListError, parse_csv, to_csv
from maild.cli import cli

SPREADSHEET = (
    "\ufeffPriority,Full Name,University,Dept.,Research Area,Last Pub Date,Funding,"
    "E-mail Address(es),Assistant,What I read,Status\n"
    "1,Dana Rivera,Example University,Cardiology,Heart failure,03/14/2026,R01 active,"
    "drivera@med.example.edu; dana.rivera@example.org,admin@med.example.edu,"
    "HFpEF registry paper,not contacted\n"
    "\n"
    "2,Sam Okafor,Example Hospital,Surgery,Trauma,2025-11,none,sokafor@hosp.example.org,,,"
    "\n"
)


def test_spreadsheet_headers_are_understood() -> None:
    entries = parse_csv(SPREADSHEET)
    assert [e.name for e in entries] == ["Dana Rivera", "Sam Okafor"]
    dana = entries[0]
    assert dana.emails == ("drivera@med.example.edu", "dana.rivera@example.org")
    assert dana.assistant_emails == ("admin@med.example.edu",)
    assert dana.department == "Cardiology"
    assert dana.specialty == "Heart failure"
    assert dana.last_publication == "2026-03-14"
    assert dana.connection_point == "HFpEF registry paper"
    assert dana.rank == 1
    assert entries[1].last_publication == "2025-11"
    assert entries[1].outreach_status == "not contacted"


def test_semicolon_separated_files_are_sniffed() -> None:
    text = "name;email;rank\nA B;a@x.example.edu;2\n"
    [entry] = parse_csv(text)
    assert entry.emails == ("a@x.example.edu",) and entry.rank == 2


def test_bad_rows_are_reported_by_line_and_nothing_imported() -> None:
    text = ("name,email,rank\nGood One,good@x.example.edu,1\n,nobody@x.example.edu,2\n"
            "Bad Mail,not-an-address,3\nDup,good@x.example.edu,x\n")
    with pytest.raises(HitListError) as info:
        parse_csv(text, "list.csv")
    lines = sorted({p.line for p in info.value.problems})
    assert lines == [3, 4, 5]
    assert "nothing imported" in str(info.value)
    assert "line 4" in str(info.value)


def test_header_without_email_is_refused() -> None:
    with pytest.raises(HitListError, match="line 1"):
        parse_csv("name,institution\nA,B\n")


def test_export_round_trips() -> None:
    entries = parse_csv(SPREADSHEET)
    again = parse_csv(to_csv(entries))
    assert again == entries


def run(home: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=input,
                                env={"MAILD_NOW": "2026-11-22T10:00:00-05:00"})
    return result.exit_code, result.output


def test_cli_import_list_show_edit_remove(tmp_path: Path) -> None:
    csv_file = tmp_path / "hit.csv"
    csv_file.write_text(SPREADSHEET, encoding="utf-8")
    code, out = run(tmp_path, "mentor", "import", str(csv_file))
    assert code == 0 and "2 new, 0 updated, 0 unchanged" in out
    code, out = run(tmp_path, "mentor", "list", "--json")
    listed = json.loads(out)
    assert [m["name"] for m in listed] == ["Dana Rivera", "Sam Okafor"]

    code, out = run(tmp_path, "mentor", "show", "admin@med.example.edu", "--json")
    assert json.loads(out)["name"] == "Dana Rivera"
    code, out = run(tmp_path, "mentor", "edit", "Okafor", "--rank", "0", "--timezone",
                    "America/Denver")
    assert code == 0, out
    code, out = run(tmp_path, "mentor", "list", "--json")
    assert next(m["name"] for m in json.loads(out)) == "Sam Okafor"

    # Importing the same people again updates them (issue 11.7: it used to be refused):
    # the spreadsheet's rank wins over the edit; its missing time zone column does not
    # wipe the one set by hand.
    code, out = run(tmp_path, "mentor", "import", str(csv_file))
    assert code == 0, out
    assert "0 new, 1 updated, 1 unchanged" in out and "Sam Okafor: rank" in out
    code, out = run(tmp_path, "mentor", "list", "--json")
    listed = json.loads(out)
    assert len(listed) == 2
    okafor = next(m for m in listed if m["name"] == "Sam Okafor")
    assert okafor["rank"] == 2 and okafor["timezone"] == "America/Denver"

    code, out = run(tmp_path, "mentor", "remove", "Sam")
    assert code == 0
    code, out = run(tmp_path, "mentor", "show", "Sam")
    assert code == 2 and "no mentor" in out

    code, out = run(tmp_path, "mentor", "export")
    assert out.splitlines()[0].startswith("rank,name,title")
    assert "Dana Rivera" in out and "Sam Okafor" not in out


def test_cli_add_validates(tmp_path: Path) -> None:
    code, out = run(tmp_path, "mentor", "add", "X Y", "--email", "nope")
    assert code == 2 and "not an email address" in out
    code, out = run(tmp_path, "mentor", "add", "X Y", "--email", "x@y.example.edu",
                    "--timezone", "Mars/Base")
    assert code == 2 and "time zone" in out


def test_applications(tmp_path: Path) -> None:
    code, out = run(tmp_path, "application", "add", "ERAS 2027 IM", "--deadline",
                    "2027-01-15", "--letters", "4", "--system", "ERAS")
    assert code == 0, out
    code, out = run(tmp_path, "application", "add", "ERAS 2027 IM")
    assert code == 2 and "exists already" in out
    code, out = run(tmp_path, "application", "add", "Other", "--deadline", "Jan 15")
    assert code == 2 and "YYYY-MM-DD" in out
    code, out = run(tmp_path, "application", "list", "--json")
    [app] = json.loads(out)
    assert app["deadline"] == "2027-01-15" and app["letters_required"] == 4
