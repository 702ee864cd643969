"""Spreadsheet text made to fit a sentence: names, titles, fields, paper references.

A hit list is typed by hand or exported from a spreadsheet, so the same person arrives as
"Dr. Elena Marquez", "Marquez, Elena", "ELENA MARQUEZ" or "Elena Marquez, MD", and a
connection point as "your 2025 JAMA paper" or "The 2025 JAMA paper.". The templates put
these values mid-sentence ("Dear {salutation},", "I recently read your {paper}", "get
involved in {specialty} research"); this module turns what was typed into what such a
sentence needs: no doubled "your", no doubled title, no capital in mid-sentence, an
article where English wants one. Pure functions; nothing here reads a file or a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Honorifics written before a name, and how a greeting uses them.
_PREFIXES: dict[str, str] = {
    "dr": "Dr.", "doctor": "Dr.", "prof": "Prof.", "professor": "Professor",
    "mr": "Mr.", "mrs": "Mrs.", "ms": "Ms.", "mx": "Mx.",
}
# Degrees written after a name; any of them makes the greeting "Dr." (a fact, not a guess).
_DOCTORATES = frozenset({"md", "phd", "do", "dphil", "mbbs", "mbchb", "dds", "dmd", "pharmd",
                         "dnp", "drph", "scd", "edd", "psyd", "dvm", "mbbch"})
_DEGREES = _DOCTORATES | frozenset({"mph", "ms", "msc", "mba", "rn", "np", "pa", "facp",
                                    "facs", "facc", "frcp", "frcpc", "faap", "mhs", "mpp",
                                    "ma", "bs", "ba", "jr", "sr", "ii", "iii", "iv"})
# Surname particles that belong to the last name ("de la Cruz", "van der Berg").
_PARTICLES = frozenset({"de", "del", "della", "der", "di", "da", "dos", "du", "la", "le", "van",
                        "von", "ten", "ter", "bin", "al", "el", "st.", "mac"})
# Words that keep their capital inside a sentence (peoples, places, eponyms, programs).
_PROPER = frozenset({
    "alzheimer", "parkinson", "crohn", "hodgkin", "huntington", "kawasaki", "lyme", "down",
    "medicare", "medicaid", "american", "african", "asian", "hispanic", "latino", "latina",
    "latinx", "native", "indigenous", "english", "spanish", "european",
})
_GENERIC_ENDINGS = ("fellowship", "program", "programme", "scholarship", "award", "grant",
                    "residency", "internship", "prize", "competition", "match", "cycle",
                    "institute", "school", "course", "pathway", "track", "position")
# What a connection point usually starts with; only these lose their capital (a journal
# such as "Lancet", "Circulation" or "Blood" keeps it).
_DOCUMENT_WORDS = frozenset({
    "paper", "article", "study", "review", "trial", "talk", "lecture", "book", "chapter",
    "editorial", "commentary", "abstract", "poster", "presentation", "work", "research",
    "podcast", "interview", "piece", "essay", "report", "analysis", "recent", "latest", "new",
    "keynote", "webinar", "grand", "publication", "project", "cohort", "series", "case",
})
_LEADING_OWNER = re.compile(r"^(?:your|their|his|her|the|a|an)\s+", re.IGNORECASE)
_TRAILING_STOP = re.compile(r"[\s.;,]+$")
_YEAR = re.compile(r"^(?:19|20)\d\d(?:[-/–](?:19|20)?\d\d)?$")


@dataclass(frozen=True)
class PersonName:
    """A name as written, split for a greeting."""

    full: str  # cleaned, in reading order: "Elena Marquez"
    surname: str  # "Marquez", "de la Cruz"
    title: str  # what the greeting uses: "Dr.", "Professor" or "" when none is known


def _word_key(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())


def _fix_case(text: str) -> str:
    """"ELENA MARQUEZ" -> "Elena Marquez"; names already mixed-case are left alone."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 4 or not all(c.isupper() for c in letters):
        return text
    words = []
    for index, word in enumerate(text.split()):
        if index and _word_key(word) in _PARTICLES:
            words.append(word.lower())  # "DE LA CRUZ" -> "de la Cruz"
        else:
            words.append("-".join(p[:1].upper() + p[1:].lower() for p in word.split("-")))
    return " ".join(words)


def split_name(name: str, title: str = "") -> PersonName:
    """Split a hit-list name into what a greeting needs.

    Honorifics before the name ("Dr.", "Prof.") and degrees after it (", MD", "PhD")
    are taken off the name; a doctorate makes the title "Dr." when none is given; a
    "Last, First" name is turned around.
    """
    text = " ".join(name.split())
    found_title = ""
    doctorate = False
    # "Marquez, Elena" (but not "Elena Marquez, MD"): turn it around.
    head, sep, tail = text.partition(",")
    tail_words = [_word_key(w) for w in tail.replace(",", " ").split()]
    if sep and tail_words and not all(w in _DEGREES for w in tail_words):
        rest = tail.split(",")
        text = f"{rest[0].strip()} {head.strip()}"
        degrees = " ".join(r.strip() for r in rest[1:])
        if degrees:
            text = f"{text} {degrees}"
    words = text.replace(",", " ").split()
    while words and _word_key(words[0]) in _PREFIXES and len(words) > 1:
        found_title = found_title or _PREFIXES[_word_key(words[0])]
        words = words[1:]
    while len(words) > 1 and _word_key(words[-1]) in _DEGREES and (
            words[-1].isupper() or "." in words[-1] or _word_key(words[-1]) in _DOCTORATES):
        doctorate = doctorate or _word_key(words[-1]) in _DOCTORATES
        words = words[:-1]
    full = _fix_case(" ".join(words))
    parts = full.split()
    surname_start = len(parts) - 1
    while surname_start > 1 and _word_key(parts[surname_start - 1]) in _PARTICLES:
        surname_start -= 1
    surname = " ".join(parts[surname_start:]) if parts else full
    given = greeting_title(title) or found_title or ("Dr." if doctorate else "")
    return PersonName(full=full, surname=surname, title=given)


def greeting_title(title: str) -> str:
    """The hit list's title column as a greeting uses it ("" when it says nothing usable)."""
    key = _word_key(title)
    if not key:
        return ""
    if key in _PREFIXES:
        return _PREFIXES[key]
    if key in _DOCTORATES:
        return "Dr."
    if "professor" in key:
        return "Professor"
    words = title.split()
    # A short honorific as written ("Rev.", "Sr."), not a job title.
    return title.strip() if len(words) == 1 and len(title.strip()) <= 6 else ""


def salutation(name: str, title: str = "") -> str:
    """"Dr. Marquez" when a title is known, else the full name (never a guessed title)."""
    person = split_name(name, title)
    if person.title and person.surname:
        return f"{person.title} {person.surname}"
    return person.full


def _lower_common(word: str) -> str:
    """A capitalised common word in lower case; acronyms, eponyms, names left alone."""
    core = re.sub(r"[^A-Za-z]", "", word)
    if len(core) < 2 or not core[0].isupper() or not core[1:].islower():
        return word  # "HIV", "McDonald", "mRNA", "e.g."
    key = core.lower()
    if key in _PROPER or word.endswith(("'s", "’s")):
        return word
    return word[:1].lower() + word[1:]


def mid_sentence(text: str) -> str:
    """A field as it reads inside a sentence: "Cardiology" -> "cardiology",
    "Internal Medicine" -> "internal medicine"; "HIV medicine", "Alzheimer's disease"
    keep their capitals. A trailing full stop is dropped."""
    words = _TRAILING_STOP.sub("", " ".join(text.split())).split()
    return " ".join(_lower_common(w) for w in words)


def research_field(specialty: str) -> str:
    """A specialty as "... in {field} research" needs it: lower case mid-sentence, and
    without its own trailing "research" (no "cardiology research research")."""
    text = mid_sentence(specialty)
    text = re.sub(r"\s+research$", "", text, flags=re.IGNORECASE)
    return text


def paper_phrase(text: str, surname: str = "") -> str:
    """A connection point as "your {paper}" needs it: without a leading "your", "the",
    "a" or the mentor's own "Marquez's", lower case mid-sentence, no full stop.

    "your 2025 JAMA paper" -> "2025 JAMA paper"; "The Lancet review on sepsis." ->
    "Lancet review on sepsis".
    """
    phrase = " ".join(text.split())
    for _ in range(2):
        phrase = _LEADING_OWNER.sub("", phrase)
        if surname:
            owner = re.compile(rf"^(?:(?:dr|prof|professor)\.?\s+)?(?:\w+\s+)?"
                               rf"{re.escape(surname)}['’]s\s+", re.IGNORECASE)
            phrase = owner.sub("", phrase)
    phrase = _TRAILING_STOP.sub("", phrase)
    words = phrase.split()
    if words and _word_key(words[0]) in _DOCUMENT_WORDS:
        words[0] = _lower_common(words[0])
    return " ".join(words)


def with_the(name: str) -> str:
    """An application's name as it reads after "for": "the AHA Student Research
    Fellowship 2026", but "ERAS 2027 Internal Medicine" (a system and a specialty) as is.

    "the" is added when the name (its year aside) ends in a common noun such as
    fellowship, program, scholarship or award, and does not start with an article.
    """
    text = " ".join(name.split())
    if re.match(r"^the\s", text, re.IGNORECASE):
        return "the" + text[3:]  # "The Doris Duke Fellowship" reads mid-sentence
    if not text or re.match(r"^(a|an|my|your)\s", text, re.IGNORECASE):
        return text
    words = [w for w in text.split() if not _YEAR.match(w.strip("()"))]
    last = _word_key(words[-1]) if words else ""
    if last.endswith("s") and last[:-1] in _GENERIC_ENDINGS:
        last = last[:-1]
    return f"the {text}" if last in _GENERIC_ENDINGS else text


def sentence(text: str) -> str:
    """Free text as a whole sentence: a capital first letter and a closing full stop
    (or the user's own "!" or "?")."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def question(text: str) -> str:
    """A question as typed, with its question mark (and no doubled one)."""
    text = _TRAILING_STOP.sub("", " ".join(text.split()))
    return text if not text or text.endswith("?") else text + "?"
