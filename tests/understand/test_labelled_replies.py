"""Per-class precision and recall on the labelled mentor replies in tests/data/replies.

Each reply is labelled with its kind, its intent (human replies and letter-service
notices that a letter is in) and its return date (auto-replies). The label of a message
for scoring is its intent when it has one, else its kind. No class may fall below 0.9
precision: a wrong certainty is worse than "unclear", which the user confirms.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from maild.understand.inspect import inspect_message

REPLIES = Path(__file__).resolve().parents[1] / "data" / "replies"


def _label(kind: str, intent: str) -> str:
    return f"{kind}:{intent}" if intent else kind


def test_labelled_replies_precision_and_recall() -> None:
    with (REPLIES / "labels.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) >= 60
    truth: list[str] = []
    predicted: list[str] = []
    wrong_dates: list[str] = []
    for row in rows:
        result = inspect_message((REPLIES / row["file"]).read_bytes())
        truth.append(_label(row["kind"], row["intent"]))
        predicted.append(_label(result.kind, result.intent or ""))
        got_date = result.return_date.isoformat() if result.return_date else ""
        if row["kind"] == "auto_reply" and got_date != row["return_date"]:
            wrong_dates.append(f"{row['file']}: {got_date!r} != {row['return_date']!r}")
    classes = sorted(set(truth))
    tp = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    predicted_count = Counter(predicted)
    true_count = Counter(truth)
    print(f"\n{'class':<26}{'n':>4}{'precision':>11}{'recall':>8}")
    low: list[str] = []
    for cls in classes:
        precision = tp[cls] / predicted_count[cls] if predicted_count[cls] else 1.0
        recall = tp[cls] / true_count[cls]
        print(f"{cls:<26}{true_count[cls]:>4}{precision:>11.2f}{recall:>8.2f}")
        if precision < 0.9 and cls != "human:unclear":
            low.append(f"{cls}: {precision:.2f}")
    accuracy = sum(tp.values()) / len(truth)
    print(f"accuracy {accuracy:.2f} on {len(truth)} messages")
    assert not low, low
    assert not wrong_dates, wrong_dates
    # Unclear is the safe answer, so it is allowed to collect doubtful cases; but a
    # classifier that says "unclear" to everything would be useless.
    assert accuracy >= 0.85
