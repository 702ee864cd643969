"""Rendering the default templates, overrides, missing fields and the sandbox."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from maild.adapters.templates import (
    TEMPLATE_NAMES,
    ApplicationFields,
    MentorFields,
    TemplateContext,
    TemplateError,
    TemplateSet,
    ThreadFields,
    check_templates,
    sample_context,
    with_article,
)
from maild.errors import MaildError, UsageError

IN_THREAD = {
    "cold_nudge", "cold_final_nudge", "warm_nudge", "letter_reminder",
    "letter_final_reminder", "hesitant_clarify", "decline_thanks", "meeting_followup",
}


@pytest.fixture
def defaults() -> TemplateSet:
    return TemplateSet(None)


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    path = tmp_path / "templates"
    path.mkdir()
    return path


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_default_renders_with_the_sample(defaults: TemplateSet, name: str) -> None:
    email = defaults.render(name, sample_context())
    assert email.subject and "\n" not in email.subject
    assert email.body.startswith("Dear Dr. Rivera,\n\n")
    assert email.body.endswith("\n") and not email.body.endswith("\n\n")
    assert "Jordan Lee" in email.body
    # Nothing of the machinery may leak into an email to a professor.
    for leak in ("{{", "{%", "None", "Undefined", "<fields", "[", "]"):
        assert leak not in email.body, (name, leak)
    if name in IN_THREAD:
        assert email.subject == "Re: " + sample_context().thread.subject


def test_defaults_check_clean(tmp_path: Path) -> None:
    assert check_templates(tmp_path) == []


def test_vocabulary_is_all_present(defaults: TemplateSet) -> None:
    assert defaults.names() == list(TEMPLATE_NAMES)
    assert "_signature" in defaults.names(partials=True)


def test_content_follows_the_guides(defaults: TemplateSet) -> None:
    ctx = sample_context()
    cold = defaults.render("cold_initial", ctx)
    assert ctx.mentor.connection_point in cold.subject
    assert "20 minutes" in cold.body
    assert ctx.user["paper_question"] in cold.body
    assert "a third-year medical student at Lakeside" in cold.body
    assert "last" in defaults.render("cold_final_nudge", ctx).body
    assert "strong letter" in defaults.render("letter_request", ctx).body
    packet = defaults.render("letter_packet", ctx).body
    for item in ctx.attachments:
        assert f"- {item.label}: {item.filename}" in packet
    assert ctx.application is not None
    for program in ctx.application.programs:
        assert f"- {program}" in packet
    assert "Friday, September 25" in packet
    assert ctx.application.instructions in packet
    assert "no action needed" in defaults.render("update_note", ctx).subject
    summary = defaults.render("meeting_summary", ctx).body
    assert ctx.user["summary"] in summary and ctx.user["next_step"] in summary
    assert ctx.user["outcome"] in defaults.render("outcome_thanks", ctx).body


def test_user_fields_are_discoverable(defaults: TemplateSet) -> None:
    assert defaults.user_fields("cold_initial") == ("paper_question",)
    assert defaults.user_fields("meeting_summary") == ("summary", "next_step")
    assert defaults.user_fields("update_note") == ("update_line",)
    assert defaults.user_fields("letter_reminder") == ()


def test_user_fields_include_partials_and_item_syntax(overrides: Path) -> None:
    (overrides / "_signature.j2").write_text("{{ me.name }} ({{ user['pronouns'] }})\n")
    (overrides / "update_note.j2").write_text(
        "Subject: Update: {{ user.headline }}\n\n{{ user.update_line }}\n"
        "{% include '_signature.j2' %}\n"
    )
    templates = TemplateSet(overrides)
    assert templates.user_fields("update_note") == ("headline", "update_line", "pronouns")


def test_an_edited_template_is_read_again(overrides: Path) -> None:
    """What a template reads is remembered between drafts, but not past an edit."""
    note = overrides / "update_note.j2"
    note.write_text("Subject: Update\n\n{{ user.update_line }}\n")
    templates = TemplateSet(overrides)
    assert templates.user_fields("update_note") == ("update_line",)
    assert not templates.uses("update_note", "attachments")
    note.write_text("Subject: Update\n\n{{ user.headline }}\n"
                    "{% for a in attachments %}{{ a.filename }}{% endfor %}\n")
    assert templates.user_fields("update_note") == ("headline",)
    assert templates.uses("update_note", "attachments")


def test_missing_user_field_names_the_field(defaults: TemplateSet) -> None:
    ctx = dataclasses.replace(sample_context(), user={})
    with pytest.raises(TemplateError) as info:
        defaults.render("cold_initial", ctx)
    err = info.value
    assert "missing field user.paper_question" in str(err)
    assert err.file is not None and err.file.endswith("cold_initial.j2")
    source = Path(err.file).read_text().splitlines()
    assert err.line is not None and "user.paper_question" in source[err.line - 1]
    assert isinstance(err, MaildError) and err.exit_code == 2


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_mentor_field_is_missing_not_empty(defaults: TemplateSet, blank: object) -> None:
    ctx = sample_context()
    ctx = dataclasses.replace(
        ctx, mentor=dataclasses.replace(ctx.mentor, connection_point=blank)  # type: ignore[arg-type]
    )
    with pytest.raises(TemplateError, match=r"missing field mentor\.connection_point"):
        defaults.render("cold_initial", ctx)


def test_blank_user_value_is_missing(defaults: TemplateSet) -> None:
    ctx = sample_context().with_user(update_line="  ")
    with pytest.raises(TemplateError, match=r"missing field user\.update_line"):
        defaults.render("update_note", ctx)


def test_missing_application_and_empty_lists(defaults: TemplateSet) -> None:
    ctx = dataclasses.replace(sample_context(), application=None)
    with pytest.raises(TemplateError, match=r"missing field application\b"):
        defaults.render("letter_request", ctx)
    ctx = dataclasses.replace(sample_context(), attachments=())
    with pytest.raises(TemplateError, match=r"missing field attachments"):
        defaults.render("letter_packet", ctx)
    app = ApplicationFields(name="ERAS 2027", deadline=None)
    ctx = dataclasses.replace(sample_context(), application=app)
    with pytest.raises(TemplateError, match=r"missing field application\.deadline"):
        defaults.render("letter_reminder", ctx)


def test_minimal_context_renders_a_nudge(defaults: TemplateSet) -> None:
    from maild.adapters.templates import Identity

    ctx = TemplateContext(
        me=Identity(name="Sam Ortiz"),
        mentor=MentorFields(name="Ana Cruz", salutation="Dr. Cruz", connection_point="talk"),
        thread=ThreadFields(subject="Re: RE: Question about your talk"),
    )
    email = defaults.render("cold_nudge", ctx)
    # Re: is never stacked, whatever the original subject carried.
    assert email.subject == "Re: Question about your talk"


@pytest.mark.parametrize("bad", ["Hello\r\nBcc: victim@example.org", "Hi\nthere", "a\x00b",
                                 "x\u2028y"])
def test_subject_with_line_break_is_rejected(defaults: TemplateSet, bad: str) -> None:
    ctx = dataclasses.replace(sample_context(), thread=ThreadFields(subject=bad))
    with pytest.raises(TemplateError, match="subject") as info:
        defaults.render("cold_nudge", ctx)
    assert info.value.line == 2  # the Subject: line of cold_nudge.j2


def test_newline_in_user_field_in_subject_is_rejected(defaults: TemplateSet) -> None:
    ctx = sample_context().with_user(introduced_by="Dr. X\nBcc: a@b.c")
    with pytest.raises(TemplateError, match="line break"):
        defaults.render("warm_initial", ctx)


def test_override_wins_and_falls_back(overrides: Path) -> None:
    (overrides / "update_note.j2").write_text(
        "# my own\nSubject: News from {{ me.name }}\n\nHi {{ mentor.salutation }}: "
        "{{ user.update_line }}\n"
    )
    templates = TemplateSet(overrides)
    email = templates.render("update_note", sample_context())
    assert email.subject == "News from Jordan Lee"
    assert email.body == (
        "Hi Dr. Rivera: Our abstract was accepted as a poster at the spring research "
        "symposium.\n"
    )
    assert templates.info("update_note").source == "override"
    assert templates.info("cold_nudge").source == "default"


def test_override_of_the_signature_partial_changes_every_email(overrides: Path) -> None:
    (overrides / "_signature.j2").write_text("Warmly,\n{{ me.name }}, MS3\n")
    email = TemplateSet(overrides).render("cold_initial", sample_context())
    assert email.body.endswith("Jordan Lee, MS3\n")


def test_new_override_replaces_a_cached_default(overrides: Path) -> None:
    templates = TemplateSet(overrides)
    assert templates.render("decline_thanks", sample_context()).subject.startswith("Re: ")
    (overrides / "decline_thanks.j2").write_text("Subject: Thanks\n\nThank you.\n")
    assert templates.render("decline_thanks", sample_context()).subject == "Thanks"


def test_sandbox_blocks_internals(overrides: Path) -> None:
    (overrides / "update_note.j2").write_text(
        "Subject: x\n\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    )
    with pytest.raises(TemplateError, match="unsafe") as info:
        TemplateSet(overrides).render("update_note", sample_context())
    assert info.value.line == 3
    (overrides / "update_note.j2").write_text("Subject: x\n\n{{ mentor._values }}\n")
    with pytest.raises(TemplateError, match="unsafe"):
        TemplateSet(overrides).render("update_note", sample_context())


def test_group_of_fields_cannot_print_as_repr(overrides: Path) -> None:
    (overrides / "update_note.j2").write_text("Subject: x\n\nHi {{ mentor }}\n")
    with pytest.raises(TemplateError, match="group of fields"):
        TemplateSet(overrides).render("update_note", sample_context())


@pytest.mark.parametrize("name", ["../etc/passwd", "Cold_Initial", "a/b", ""])
def test_names_that_are_paths_are_refused(defaults: TemplateSet, name: str) -> None:
    with pytest.raises(UsageError):
        defaults.render(name, sample_context())


def test_include_cannot_escape_the_template_dirs(overrides: Path) -> None:
    (overrides / "update_note.j2").write_text("Subject: x\n\n{% include '../secret.j2' %}\n")
    (overrides.parent / "secret.j2").write_text("secret")
    with pytest.raises(TemplateError, match="not found"):
        TemplateSet(overrides).render("update_note", sample_context())


def test_unknown_template(defaults: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="no such template"):
        defaults.render("cold_initiall", sample_context())


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("third-year medical student", "a third-year medical student"),
        ("internal medicine resident", "an internal medicine resident"),
        ("MS3", "an MS3"),
        ("PGY-2 resident", "a PGY-2 resident"),
        ("university hospital resident", "a university hospital resident"),
        ("emergency medicine resident", "an emergency medicine resident"),
    ],
)
def test_with_article(role: str, expected: str) -> None:
    assert with_article(role) == expected
