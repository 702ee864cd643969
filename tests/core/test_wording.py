"""Spreadsheet text fitted to the sentence it lands in (issue 11.7), over realistic rows."""

from __future__ import annotations

import pytest

from maild.core.wording import (
    mid_sentence,
    paper_phrase,
    question,
    research_field,
    salutation,
    sentence,
    split_name,
    with_the,
)


@pytest.mark.parametrize(("name", "title", "greeting"), [
    ("Dr. Elena Marquez", "", "Dr. Marquez"),  # issue 11.7: was "Dear Dr. Elena Marquez,"
    ("Dr. Elena Marquez", "Dr.", "Dr. Marquez"),  # never "Dr. Dr."
    ("Elena Marquez, MD", "", "Dr. Marquez"),
    ("Elena Marquez MD, PhD", "", "Dr. Marquez"),
    ("Marquez, Elena", "Dr.", "Dr. Marquez"),
    ("Marquez, Elena, MD", "", "Dr. Marquez"),
    ("ELENA MARQUEZ", "Dr", "Dr. Marquez"),
    ("JUAN DE LA CRUZ", "Prof.", "Prof. de la Cruz"),
    ("Juan de la Cruz", "dr.", "Dr. de la Cruz"),
    ("Prof. Hans Müller", "", "Prof. Müller"),
    ("Sarah O'Neil", "Doctor", "Dr. O'Neil"),
    ("Mary-Ann Smith-Jones", "MD", "Dr. Smith-Jones"),
    ("Kenji Nakamura", "Associate Professor of Medicine", "Professor Nakamura"),
    ("Mei Chen", "PhD", "Dr. Chen"),
    ("Alex Rivers", "", "Alex Rivers"),  # no title known: the full name, never a guess
    ("Alex Rivers", "Chair of the department", "Alex Rivers"),
])
def test_greetings(name: str, title: str, greeting: str) -> None:
    assert salutation(name, title) == greeting


def test_a_split_name_keeps_the_reading_order() -> None:
    person = split_name("Marquez, Elena, MD")
    assert (person.full, person.surname, person.title) == ("Elena Marquez", "Marquez", "Dr.")


@pytest.mark.parametrize(("typed", "phrase"), [
    ("your 2025 JAMA paper", "2025 JAMA paper"),  # issue 11.7: "your your"
    ("Your 2025 JAMA paper", "2025 JAMA paper"),
    ("The 2024 NEJM trial of early mobility.", "2024 NEJM trial of early mobility"),
    ("the Lancet review on sepsis", "Lancet review on sepsis"),
    ("Dr. Marquez's 2024 review on telemetry", "2024 review on telemetry"),
    ("Marquez's review", "review"),
    ("her talk at AAIC 2025", "talk at AAIC 2025"),
    ("Paper on cholera surveillance in Haiti", "paper on cholera surveillance in Haiti"),
    ("a recent Circulation editorial", "recent Circulation editorial"),
    ("2025 paper on HFpEF registries", "2025 paper on HFpEF registries"),
])
def test_connection_points_read_after_your(typed: str, phrase: str) -> None:
    assert paper_phrase(typed, "Marquez") == phrase


@pytest.mark.parametrize(("typed", "field"), [
    ("Cardiology", "cardiology"),
    ("Cardiology research", "cardiology"),  # issue 11.7: capital mid-sentence, doubled word
    ("Internal Medicine", "internal medicine"),
    ("Emergency Medicine Research.", "emergency medicine"),
    ("HIV medicine", "HIV medicine"),
    ("Alzheimer's disease", "Alzheimer's disease"),
    ("OB/GYN", "OB/GYN"),
    ("Global Health", "global health"),
    ("Native American health", "Native American health"),
])
def test_specialties_read_mid_sentence(typed: str, field: str) -> None:
    assert research_field(typed) == field


def test_mid_sentence_keeps_acronyms_and_names() -> None:
    assert mid_sentence("Pediatric Oncology.") == "pediatric oncology"
    assert mid_sentence("McDonald lab") == "McDonald lab"


@pytest.mark.parametrize(("name", "after_for"), [
    ("AHA Student Research Fellowship 2026", "the AHA Student Research Fellowship 2026"),
    ("ERAS 2027 Internal Medicine", "ERAS 2027 Internal Medicine"),
    ("The Doris Duke Fellowship", "the Doris Duke Fellowship"),
    ("NIH MSRP Program", "the NIH MSRP Program"),
    ("Summer Research Scholarships (2026)", "the Summer Research Scholarships (2026)"),
    ("Lakeside Internal Medicine Residency", "the Lakeside Internal Medicine Residency"),
    ("my residency applications", "my residency applications"),
])
def test_application_names_get_an_article_where_english_wants_one(name: str,
                                                                  after_for: str) -> None:
    assert with_the(name) == after_for


def test_sentences_and_questions_close_properly() -> None:
    assert sentence("matched at Lakeside University") == "Matched at Lakeside University."
    assert sentence("I matched!") == "I matched!"
    assert question("how did you choose the outcome") == "how did you choose the outcome?"
    assert question("Why registries?") == "Why registries?"
    assert question("why registries?.") == "why registries?"
