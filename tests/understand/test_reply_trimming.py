"""Reply text from every client: tests/understand/data/reply_trimming.jsonl.

Each case is a reply as a real client sends it (Gmail, Outlook, Apple Mail, iPhone,
Android, Thunderbird, Yahoo, Lotus Notes, Zimbra, …) with its attribution line or header
block in one of English, German, French, Spanish, Italian, Portuguese, Dutch, Swedish,
Norwegian, Danish (and one Japanese in ISO-2022-JP). The reply text must be exactly the
new text: no quoted history, no signature, nothing lost.
"""

from __future__ import annotations

from collections import Counter

import pytest
from understand_data import TrimCase, build_trim_message, load_trim_cases

from maild.understand.inspect import inspect_message

CASES = load_trim_cases()
LANGUAGES = {"en", "de", "fr", "es", "it", "pt", "nl", "sv", "no", "da"}


def test_the_corpus_covers_the_languages_and_clients() -> None:
    assert len(CASES) >= 60
    assert {c.lang for c in CASES} >= LANGUAGES
    assert len({c.client.split(" (")[0] for c in CASES}) >= 12
    print("\nreply-trimming cases per language:",
          dict(sorted(Counter(c.lang for c in CASES).items())))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}-{c.lang}-{c.client}" for c in CASES])
def test_reply_text(case: TrimCase) -> None:
    result = inspect_message(build_trim_message(case))
    assert result.reply_text == case.expected
    assert case.quoted not in result.new_text
    if case.expected_from:
        assert result.from_address == case.expected_from
