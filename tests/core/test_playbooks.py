"""Playbooks as data: the defaults, and config.toml overrides with errors naming keys."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from maild.core.model import StepKind
from maild.core.playbooks import DEFAULT_PLAYBOOKS, merge_overrides
from maild.core.rules import rules_from_config
from maild.errors import ConfigError

from .helpers import NY, local, start, step


def test_defaults_follow_the_guides() -> None:
    cold = DEFAULT_PLAYBOOKS["cold"]
    assert [(r.name, r.offset, r.template) for r in cold.steps] == [
        ("initial", 0, "cold_initial"),
        ("nudge", 5, "cold_nudge"),
        ("final_nudge", 12, "cold_final_nudge"),
        ("stop", 20, None),
    ]
    letter = DEFAULT_PLAYBOOKS["letter"]
    assert {r.name: r.offset for r in letter.steps if r.name != "deadline"} == {
        "request": 0, "packet": 0, "reminder": 14, "final_reminder": 5, "call_office": 2,
        "thanks": 0,
    }
    assert letter.rule("call_office").kind is StepKind.TASK  # type: ignore[union-attr]
    assert DEFAULT_PLAYBOOKS["cold"].param("parallel") == 3
    assert DEFAULT_PLAYBOOKS["update"].param("interval_weeks") == 4


def test_every_template_name_is_in_the_shared_vocabulary() -> None:
    templates = {r.template for p in DEFAULT_PLAYBOOKS.values() for r in p.steps if r.template}
    assert templates == {
        "cold_initial", "cold_nudge", "cold_final_nudge", "warm_initial", "warm_nudge",
        "letter_request", "letter_packet", "letter_reminder", "letter_final_reminder",
        "letter_thanks", "hesitant_clarify", "decline_thanks", "meeting_summary",
        "meeting_followup", "update_note", "outcome_thanks",
    }


def test_overrides_change_the_ladder_the_engine_plans() -> None:
    rules = rules_from_config({"cold": {"nudge_days": 4, "final_nudge_enabled": False,
                                        "nudge_template": "my_nudge"}})
    ask = start("cold", datetime(2026, 6, 4, 10, tzinfo=NY), rules=rules).ask  # Thursday
    assert local(step(ask, "nudge").due_at) == datetime(2026, 6, 8, 10, tzinfo=NY)
    assert step(ask, "nudge").template == "my_nudge"
    assert ask.latest_step("final_nudge") is None
    assert DEFAULT_PLAYBOOKS["cold"].rule("nudge").offset == 5  # type: ignore[union-attr]


def test_letter_overrides_and_params() -> None:
    rules = rules_from_config({"letter": {"reminder_days_before": 21, "warn_weeks": 8}})
    ask = start("letter", datetime(2026, 6, 1, 10, tzinfo=NY), rules=rules,
                deadline=date(2026, 9, 30)).ask
    assert local(step(ask, "reminder").due_at) == datetime(2026, 9, 9, 8, tzinfo=NY)
    assert rules.playbook("letter").param("warn_weeks") == 8


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"cold": {"nudge_dayz": 4}}, "playbooks.cold.nudge_dayz"),
        ({"cold": {"nudge_days": -1}}, "playbooks.cold.nudge_days"),
        ({"cold": {"nudge_days": True}}, "playbooks.cold.nudge_days"),
        ({"cold": {"nudge_days": "5"}}, "playbooks.cold.nudge_days"),
        ({"cold": {"final_nudge_days": 3}}, "playbooks.cold.final_nudge_days"),
        ({"letter": {"final_reminder_days_before": 20}},
         "playbooks.letter.final_reminder_days_before"),
        ({"letter": {"reminder_days": 3}}, "playbooks.letter.reminder_days"),
        ({"cold": {"stop_template": "x"}}, "playbooks.cold.stop_template"),
        ({"cold": {"initial_enabled": "no"}}, "playbooks.cold.initial_enabled"),
        ({"colt": {"nudge_days": 4}}, "playbooks.colt"),
        ({"cold": 4}, "playbooks.cold"),
    ],
)
def test_bad_overrides_name_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        merge_overrides(table, source="/home/u/config.toml")
    assert info.value.key == key
    assert str(info.value).startswith(f"/home/u/config.toml: {key}: ")


def test_sending_window_from_config() -> None:
    rules = rules_from_config(None, {"days": ["Mon", "wed"], "start": "09:30", "end": "12:00"})
    assert rules.window.days == frozenset({0, 2})
    assert (rules.window.start, rules.window.end) == (time(9, 30), time(12))


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"days": ["funday"]}, "sending_window.days"),
        ({"days": "mon"}, "sending_window.days"),
        ({"start": "8 o'clock"}, "sending_window.start"),
        ({"start": "18:00"}, "sending_window"),
        ({"hours": 3}, "sending_window.hours"),
    ],
)
def test_bad_window_names_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        rules_from_config(None, table)
    assert info.value.key == key
