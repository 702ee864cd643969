"""The return date an out-of-office reply states, resolved against its Date header.

A small date grammar, not dateparser: it covers what auto-replies say ("back on Monday,
April 6", "returning 4/13", "until March 30th", "20 April 2026", "July 10-31",
"2026-04-06", "out of the office Friday") and only in sentences that talk about being
away or coming back, so that "for urgent matters before May 1 call…" is not a return
date. A date without a year takes the sender's year (the next one when that would put
it well in the past); a weekday is the next such day after the message was sent. When
the text gives no date, the answer is None rather than a guess. A date more than a year
after the message ("until 31/12/9999") is no return date either: nobody announces an
absence that long by auto-reply, and the follow-up timing must not be parked on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType

_MAX_CHARS = 8 * 1024
# A return date further than this after the message is ignored.
MAX_AHEAD = timedelta(days=366)
# A Date header outside these years is garbage ("0001", "9999"); it is no reference to
# resolve "Friday" against, and date arithmetic near the ends of the calendar overflows.
_EARLIEST_SENT = date(1970, 1, 1)
_LATEST_SENT = date(9000, 1, 1)

_MONTHS: Mapping[str, int] = MappingProxyType({
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
})
_WEEKDAYS: Mapping[str, int] = MappingProxyType({
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5,
    "sat": 5, "sunday": 6, "sun": 6,
})
_MONTH_RE = (
    r"(?P<{n}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_DASH = r"\s*(?:-|–|—|to|through|thru|until|till)\s*"

_MONTH_DAY = re.compile(
    r"\b" + _MONTH_RE.format(n="m1") + r"\s+(?P<d1>\d{1,2})" + _ORD + r"\b"
    r"(?:" + _DASH + r"(?:" + _MONTH_RE.format(n="m2") + r"\s+)?(?P<d2>\d{1,2})" + _ORD + r"\b)?"
    r"(?:,?\s+(?P<y>\d{4}))?",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(
    r"\b(?P<d1>\d{1,2})" + _ORD + r"(?:" + _DASH + r"(?P<d2>\d{1,2})" + _ORD + r")?"
    r"\s+(?:of\s+)?" + _MONTH_RE.format(n="m1") + r"\b(?:,?\s+(?P<y>\d{4}))?",
    re.IGNORECASE,
)
_ISO = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")
_NUMERIC = re.compile(
    r"(?<![\d/.:])(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{2,4}))?"
    r"(?![\d/:]|\.\d)"
)
_WEEKDAY = re.compile(
    r"\b(?P<next>next\s+)?(?P<w>monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?",
    re.IGNORECASE,
)
_TOMORROW = re.compile(r"\btomorrow\b", re.IGNORECASE)

_BACK_CUE = re.compile(
    r"\b(back|return(?:ing|s)?|reopen|resum\w*|in the office|be in|available again"
    r"|respond\w* (?:to \w+ )?(?:on|after))\b[^.!?\n]{0,25}$",
    re.IGNORECASE,
)
_UNTIL_CUE = re.compile(
    r"\b(until|till|til|through|thru|to|up to|ending|ends)\b[^.!?\n]{0,12}$", re.IGNORECASE
)
_AWAY_CONTEXT = re.compile(
    r"out of (the )?office|\booo\b|away|vacation|holiday|leave|travel\w*|conference|abroad"
    r"|limited access|no access|unavailable|not available|out of town|closed|sabbatical|offline",
    re.IGNORECASE,
)
_APPLE_END = re.compile(r"endDate=(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class DateMention:
    """A date found in the text, already resolved to a calendar day."""

    start: int
    end: int
    day: date
    is_range_end: bool
    from_weekday: bool


def return_date(
    text: str, sent: datetime | None, apple_criteria: str | None = None
) -> date | None:
    """The date the sender says they are back (or away until), or None."""
    text = text[:_MAX_CHARS]
    sent_day = sent.date() if sent else None
    if sent_day is not None and not _EARLIEST_SENT <= sent_day <= _LATEST_SENT:
        sent_day = None
    best: tuple[int, int, date] | None = None
    for mention in find_dates(text, sent_day):
        if not _plausible(mention.day, sent_day):
            continue
        score = _score(text, mention)
        if score <= 0:
            continue
        key = (score, mention.day.toordinal(), mention.day)
        if best is None or key[:2] > best[:2]:
            best = key
    if best:
        return best[2]
    if apple_criteria:
        found = _APPLE_END.search(apple_criteria)
        if found:
            day = _safe_date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
            if day is not None and _plausible(day, sent_day):
                return day
    return None


def _plausible(day: date, sent: date | None) -> bool:
    """Not before the message, not more than a year after it (or, with no date to go
    by, not in a year no calendar arithmetic can reach)."""
    if sent is None:
        return day < _LATEST_SENT
    return sent <= day <= sent + MAX_AHEAD


def _score(text: str, mention: DateMention) -> int:
    sentence_start = max(text.rfind(c, 0, mention.start) for c in ".!?\n")
    before = text[sentence_start + 1 : mention.start]
    sentence_end_candidates = [i for i in (text.find(c, mention.end) for c in ".!?\n") if i >= 0]
    sentence_end = min(sentence_end_candidates) if sentence_end_candidates else len(text)
    sentence = text[sentence_start + 1 : sentence_end]
    score = 0
    if _BACK_CUE.search(before) or _UNTIL_CUE.search(before):
        score += 3
    if _AWAY_CONTEXT.search(sentence) or _BACK_CUE.search(sentence):
        score += 1
    if mention.is_range_end:
        score += 1
    return score


def find_dates(text: str, sent: date | None) -> list[DateMention]:
    """Every date expression in ``text`` that can be resolved to a day."""
    mentions: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, day: date | None, range_end: bool, weekday: bool) -> None:
        if day is None or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        mentions.append(DateMention(start, end, day, range_end, weekday))

    for m in _ISO.finditer(text):
        add(m.start(), m.end(), _safe_date(int(m["y"]), int(m["m"]), int(m["d"])), False, False)
    for m in _MONTH_DAY.finditer(text):
        month = _MONTHS[m["m1"].lower().rstrip(".")]
        year = int(m["y"]) if m["y"] else None
        if m["d2"]:
            month2 = _MONTHS[m["m2"].lower().rstrip(".")] if m["m2"] else month
            add(m.start(), m.end(), _resolve(year, month2, int(m["d2"]), sent), True, False)
        else:
            add(m.start(), m.end(), _resolve(year, month, int(m["d1"]), sent), False, False)
    for m in _DAY_MONTH.finditer(text):
        month = _MONTHS[m["m1"].lower().rstrip(".")]
        year = int(m["y"]) if m["y"] else None
        day_n = int(m["d2"] or m["d1"])
        add(m.start(), m.end(), _resolve(year, month, day_n, sent), bool(m["d2"]), False)
    for m in _NUMERIC.finditer(text):
        a, b = int(m["a"]), int(m["b"])
        if m["sep"] == "." and not m["y"]:
            continue  # "3.5" is more often a number than a date
        month, day_n = (b, a) if (m["sep"] == "." or a > 12) else (a, b)
        year = int(m["y"]) if m["y"] else None
        if year is not None and year < 100:
            year += 2000
        add(m.start(), m.end(), _resolve(year, month, day_n, sent), False, False)
    if sent is not None:
        for m in _WEEKDAY.finditer(text):
            target = _WEEKDAYS[m["w"].lower()]
            delta = (target - sent.weekday()) % 7 or 7
            if any(0 <= s - m.end() <= 3 for s, _ in taken):
                continue  # "Monday, April 6": the calendar date is the one that counts
            add(m.start(), m.end(), sent + timedelta(days=delta), False, True)
        for m in _TOMORROW.finditer(text):
            add(m.start(), m.end(), sent + timedelta(days=1), False, False)
    mentions.sort(key=lambda x: x.start)
    return mentions


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _resolve(year: int | None, month: int, day: int, sent: date | None) -> date | None:
    if year is not None:
        return _safe_date(year, month, day)
    if sent is None:
        return None
    candidate = _safe_date(sent.year, month, day)
    if candidate is None:
        return None
    if candidate < sent - timedelta(days=14):
        # "until January 5" written on December 20 means next year.
        return _safe_date(sent.year + 1, month, day)
    return candidate
