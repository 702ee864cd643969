"""``check``: broken user templates are reported with their file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.adapters.templates import Problem, TemplateSet, check_templates


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    return tmp_path


def _write(home: Path, name: str, text: str) -> Path:
    path = home / "templates" / name
    path.write_text(text)
    return path


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_syntax_error_reported_with_file_and_line(home: Path) -> None:
    path = _write(home, "cold_nudge.j2",
                  "Subject: Re: {{ thread.subject }}\n\nDear {{ mentor.salutation }},\n\n"
                  "{% if mentor.name %}\nunclosed\n")
    problem = _only(check_templates(home))
    assert problem.template == "cold_nudge"
    assert problem.file == str(path)
    assert problem.line is not None and problem.line >= 5
    assert str(problem).startswith(f"{path}:{problem.line}: ")


def test_syntax_error_in_subject(home: Path) -> None:
    path = _write(home, "cold_nudge.j2", "# c\nSubject: Re: {{ thread.subject }\n\nBody\n")
    problem = _only(check_templates(home))
    assert (problem.file, problem.line) == (str(path), 2)


def test_unknown_field_reported_with_line(home: Path) -> None:
    path = _write(home, "update_note.j2",
                  "Subject: Update\n\nDear {{ mentor.salutation }},\n\n"
                  "{{ user.update_line }}\n\nSee you in {{ mentor.city }}.\n")
    problem = _only(check_templates(home))
    assert str(problem) == f"{path}:7: missing field mentor.city"


def test_new_user_fields_are_not_problems(home: Path) -> None:
    # A user.* field the user invents is typed at approval time, so check supplies one.
    _write(home, "update_note.j2", "Subject: Update\n\n{{ user.favourite_journal }}\n")
    assert check_templates(home) == []


def test_broken_partial_is_reported_in_the_partial(home: Path) -> None:
    path = _write(home, "_signature.j2", "{{ me.name }}\n{{ me.pager_number }}\n")
    # Every email that includes it is affected, but the problem is reported once, at the
    # partial's own line.
    problem = _only(check_templates(home))
    assert str(problem) == f"{path}:2: missing field me.pager_number"


def test_unused_broken_partial_is_still_reported(home: Path) -> None:
    path = _write(home, "_footer.j2", "{% for x in %}\n")
    problem = _only(check_templates(home))
    assert (problem.file, problem.line) == (str(path), 1)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Hello there\n\nBody\n", 1, "expected 'Subject: ...'"),
        ("# only a comment\n\nBody\n", 1, "no 'Subject: ...' line"),
        ("Subject: a\nSubject: b\n\nBody\n", 2, "a second Subject: line"),
        ("Subject: a\n\n\n", 2, "the body is empty"),
        ("Subject: a\n", 2, "the body is empty"),
        ("Subject: a", 1, "no blank line"),
    ],
)
def test_bad_layout(home: Path, text: str, line: int, message: str) -> None:
    path = _write(home, "letter_thanks.j2", text)
    problem = _only(check_templates(home))
    assert (problem.file, problem.line) == (str(path), line)
    assert message in problem.message


def test_misnamed_override_is_reported(home: Path) -> None:
    path = _write(home, "Cold-Initial.j2", "Subject: x\n\ny\n")
    problem = _only(check_templates(home))
    assert problem.file == str(path) and "ignored" in problem.message


def test_not_utf8(home: Path) -> None:
    path = home / "templates" / "update_note.j2"
    path.write_bytes(b"Subject: x\n\n\xff\xfe\n")
    problem = _only(check_templates(home))
    assert problem.file == str(path) and "UTF-8" in problem.message


def test_runtime_error_in_a_filter_is_a_problem_not_a_crash(home: Path) -> None:
    path = _write(home, "update_note.j2", "Subject: x\n\n{{ 1 // 0 }}\n")
    problem = _only(check_templates(home))
    assert (problem.file, problem.line) == (str(path), 3)
    assert "ZeroDivisionError" in problem.message


def test_custom_template_is_listed_and_checked(home: Path) -> None:
    _write(home, "cold_initial_cardio.j2", "Subject: Hi {{ mentor.salutation }}\n\nBody\n")
    templates = TemplateSet.for_home(home)
    assert templates.names()[-1] == "cold_initial_cardio"
    assert templates.info("cold_initial_cardio").source == "override"
    assert check_templates(home) == []
