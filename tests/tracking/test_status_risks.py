"""The dashboard builds only the asks that may carry a risk (chosen in SQL); its
report must be exactly what the rules give over every open ask, on every day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from maild.app.drafting import TemplateDrafts
from maild.app.status import build_status
from maild.app.tracker import Tracker
from maild.config import load, rules_for
from maild.core import events as ev
from maild.core.entries import MentorInput
from maild.core.model import Intent, StepStatus
from maild.store import Store
from maild.store.asks import Asks
from maild.store.mentors import add_application, add_mentors
from tests.tracking.conftest import CONFIG

START = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def test_the_preselected_risks_are_every_open_asks_risks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(CONFIG.format(extra=""), encoding="utf-8")
    config = load(tmp_path / "config.toml")
    rules = rules_for(config)
    with Store.open(tmp_path / "maild.db") as store:
        tracker = Tracker(store, config, TemplateDrafts(tmp_path, config))
        ids = add_mentors(store, [MentorInput(
            name=f"Mentor Number{n}", title="Dr.", emails=(f"m{n}@med.example.edu",),
            connection_point=f"paper {n}", timezone="America/New_York") for n in range(9)],
            START)
        app = add_application(store, "ERAS 2027", date(2026, 11, 20), 3, "ERAS", "", "",
                               START)
        letters = [tracker.create_ask(m, "letter", START, application_id=app,
                                      deadline=date(2026, 10, 20) + timedelta(weeks=k),
                                      force=True).ask.id or 0
                   for k, m in enumerate(ids[:4])]
        colds = [tracker.create_ask(m, "cold", START).ask.id or 0 for m in ids[4:]]
        tracker.run_due(START)
        for ask_id in colds:  # their first mails out, never answered: ghosts in time
            tracker.handle(ask_id, ev.MessageSent("initial", at=START), START)
        tracker.handle(letters[0], ev.HumanReply(Intent.AGREE, at=START), START)
        tracker.handle(letters[1], ev.HumanReply(Intent.HESITANT, at=START), START)
        tracker.handle(colds[0], ev.HumanReply(Intent.UNCLEAR, at=START), START)  # review
        every_open = Asks.open_at_risk
        seen = set()
        for days in range(0, 160, 9):
            now = START + timedelta(days=days)
            tracker.run_due(now)
            for ask_id in [*letters, *colds[1:]]:  # nudges, reminders go out, unanswered
                for step in store.read.asks.get(ask_id).steps:
                    if step.status is StepStatus.DRAFTED:
                        tracker.handle(ask_id, ev.MessageSent(step.name, at=now), now)
            quick = build_status(store, now, rules)
            monkeypatch.setattr(Asks, "open_at_risk",
                                lambda self, **_k: self.open(with_steps=False))
            full = build_status(store, now, rules)
            monkeypatch.setattr(Asks, "open_at_risk", every_open)
            assert quick == full, now
            seen |= {r["kind"] for r in quick["risks"]}
    # The dates covered every kind of risk an ask can carry.
    assert seen >= {"missed_deadline", "letter_missing", "short_runway", "hesitant",
                    "ghosting", "needs_review"}, seen
