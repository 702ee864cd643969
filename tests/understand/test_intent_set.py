"""The labelled mentor replies (tests/understand/data/intent_replies.jsonl), both halves.

Targets, checked on the test half only (the half never used to change a rule):
per-class precision >= 0.95 for every decided intent, coverage >= 80 % (the share of
replies with a decided true intent that get a decided answer), and not one hesitant
reply read as ``agree`` (the costliest mistake: a materials packet for a weak letter).
The tuning half is reported the same way, with its mistakes listed; the test half's
mistakes are counted but not listed, so that nobody tunes on them by accident.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from understand_data import Reply, build_message, load_replies

from maild.understand.inspect import Inspection, inspect_message

DECIDED = ("agree", "hesitant", "decline", "question", "meeting", "submitted")
PRECISION_TARGET = 0.95
COVERAGE_TARGET = 0.80


@dataclass
class HalfReport:
    name: str
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)
    missing_questions: list[str] = field(default_factory=list)
    missing_evidence: list[str] = field(default_factory=list)
    wrong_kind: list[str] = field(default_factory=list)

    def add(self, reply: Reply, result: Inspection) -> None:
        got = result.intent if result.kind == "human" and result.intent else result.kind
        self.truth.append(reply.label)
        self.predicted.append(got)
        if got != reply.label:
            self.mistakes.append(f"{reply.id} [{reply.form}, {reply.voice}] {reply.label} -> "
                                 f"{got} ({result.evidence!r})")
        if reply.label in DECIDED and result.kind != "human":
            self.wrong_kind.append(f"{reply.id}: {result.kind}")
        if got in DECIDED:
            if not result.evidence_sentences or result.confidence is None:
                self.missing_evidence.append(reply.id)
            elif not all(s in " ".join(result.new_text.split())
                         for s in result.evidence_sentences):
                self.missing_evidence.append(f"{reply.id}: evidence not in the reply")
        if got == "agree" and reply.label == "agree":
            for wanted in reply.questions:
                if not any(wanted in q for q in result.questions):
                    self.missing_questions.append(f"{reply.id}: {wanted!r} not in "
                                                  f"{list(result.questions)}")

    def precision(self, cls: str) -> float | None:
        said = sum(1 for p in self.predicted if p == cls)
        right = sum(1 for t, p in zip(self.truth, self.predicted, strict=True) if t == p == cls)
        return right / said if said else None

    def recall(self, cls: str) -> float:
        true = sum(1 for t in self.truth if t == cls)
        right = sum(1 for t, p in zip(self.truth, self.predicted, strict=True) if t == p == cls)
        return right / true if true else 0.0

    def coverage(self) -> float:
        decided = [p for t, p in zip(self.truth, self.predicted, strict=True) if t in DECIDED]
        return sum(1 for p in decided if p in DECIDED) / len(decided)

    def hesitant_as_agree(self) -> int:
        return sum(1 for t, p in zip(self.truth, self.predicted, strict=True)
                   if (t, p) == ("hesitant", "agree"))

    def table(self) -> str:
        lines = [f"{self.name} half: {len(self.truth)} replies",
                 f"  {'class':<11}{'n':>4}{'said':>6}{'precision':>11}{'recall':>8}"]
        said = Counter(self.predicted)
        true = Counter(self.truth)
        for cls in (*DECIDED, "unclear"):
            precision = self.precision(cls)
            shown = f"{precision:.2f}" if precision is not None else "-"
            lines.append(f"  {cls:<11}{true[cls]:>4}{said[cls]:>6}{shown:>11}"
                         f"{self.recall(cls):>8.2f}")
        right = sum(1 for t, p in zip(self.truth, self.predicted, strict=True) if t == p)
        lines.append(f"  coverage {self.coverage():.1%}, accuracy {right / len(self.truth):.1%}, "
                     f"hesitant read as agree: {self.hesitant_as_agree()}")
        return "\n".join(lines)

    def failures(self) -> list[str]:
        problems = []
        for cls in DECIDED:
            precision = self.precision(cls)
            if precision is not None and precision < PRECISION_TARGET:
                problems.append(f"{cls} precision {precision:.2f} < {PRECISION_TARGET}")
            if precision is None:
                problems.append(f"{cls} never answered")
        if self.coverage() < COVERAGE_TARGET:
            problems.append(f"coverage {self.coverage():.1%} < {COVERAGE_TARGET:.0%}")
        if self.hesitant_as_agree():
            problems.append(f"{self.hesitant_as_agree()} hesitant replies read as agree")
        return problems


@pytest.fixture(scope="module")
def reports() -> dict[str, HalfReport]:
    replies = load_replies()
    halves = {"tuning": HalfReport("tuning"), "test": HalfReport("test")}
    for reply in replies:
        halves[reply.half].add(reply, inspect_message(build_message(reply)))
    return halves


def test_the_set_is_large_varied_and_split_once() -> None:
    replies = load_replies()
    assert len(replies) >= 200
    assert len({r.id for r in replies}) == len(replies)
    forms = Counter(r.form for r in replies)
    assert {"top", "bottom", "phone", "outlook", "html_gmail", "html_outlook"} <= set(forms)
    assert sum(1 for r in replies if "assistant" in r.voice) >= 15
    assert sum(1 for r in replies if "non-native" in r.voice) >= 15
    halves = Counter(r.half for r in replies)
    assert min(halves.values()) >= 0.4 * len(replies)
    for label in DECIDED:
        assert sum(1 for r in replies if r.label == label and r.half == "test") >= 8, label


def test_both_halves_reported_and_test_half_meets_targets(
    reports: dict[str, HalfReport],
) -> None:
    tuning, test = reports["tuning"], reports["test"]
    print("\n" + tuning.table())
    for line in tuning.mistakes:
        print("   tuning mistake:", line)
    print(test.table())
    print(f"  test half: {len(test.mistakes)} replies read differently from their label "
          "(not listed: the test half is never used to change rules)")
    assert test.failures() == []


def test_every_decided_answer_carries_evidence_and_confidence(
    reports: dict[str, HalfReport],
) -> None:
    for half in reports.values():
        assert half.missing_evidence == [], half.name


def test_a_yes_with_a_logistics_question_surfaces_the_question(
    reports: dict[str, HalfReport],
) -> None:
    for half in reports.values():
        assert half.missing_questions == [], half.name


def test_no_decided_reply_is_read_as_an_automated_message(
    reports: dict[str, HalfReport],
) -> None:
    for half in reports.values():
        assert half.wrong_kind == [], half.name
