"""The default templates as a season reads them (issue 11): no "last message" after an
exchange, a hesitant reply answered sensibly outside letters, the packet keeping the
request's promises."""

from __future__ import annotations

from dataclasses import replace

from maild.adapters.templates import TemplateSet, ThreadFields, sample_context


def test_the_final_nudge_says_last_only_where_the_mentor_never_answered() -> None:
    # Issue 11.6: "this will be my last message" went to a mentor who had asked a question.
    templates = TemplateSet()
    silent = templates.render("cold_final_nudge", sample_context())
    assert "this will be my last message" in silent.body
    answered = templates.render("cold_final_nudge", replace(
        sample_context(), thread=ThreadFields(subject="Question", replied=True)))
    assert "last message" not in answered.body and "one last time" not in answered.body
    nudge = templates.render("cold_nudge", replace(
        sample_context(), thread=ThreadFields(subject="Question", replied=True)))
    assert "bringing my earlier note back to the top" not in nudge.body


def test_a_hesitant_reply_to_a_cold_ask_gets_a_reply_about_time_not_letters() -> None:
    # The clarify reaction runs for cold asks too, which have no application.
    email = TemplateSet().render("hesitant_clarify", replace(sample_context(),
                                                             application=None))
    assert "letter" not in email.body and "20-minute conversation" in email.body


def test_the_packet_keeps_every_promise_of_the_request() -> None:
    templates = TemplateSet()
    request = templates.render("letter_request", sample_context()).body
    packet = templates.render("letter_packet", sample_context()).body
    assert "a summary of our work together, talking points and the list of programs" in request
    assert "A short summary of our work together:" in packet
    assert "A few points you might find helpful to mention:" in packet
    assert "Programs:" in packet and "I have attached:" in packet
    assert templates.uses("letter_packet", "attachments")
    assert not templates.uses("letter_request", "attachments")
    assert set(templates.user_fields("letter_packet")) == {"work_summary", "talking_points"}
