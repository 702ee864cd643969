"""The rule set the engine decides by: playbooks, sending window, default timezone.

``rules_from_config`` builds it from config.toml's ``[playbooks.*]`` tables and its
``[sending_window]`` table (``days = ["mon", ...]``, ``start = "08:00"``,
``end = "17:00"``); every setting is optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.core.playbooks import DEFAULT_PLAYBOOKS, Playbook, merge_overrides
from maild.core.timing import WEEKDAY_NAMES, SendingWindow
from maild.errors import ConfigError


@dataclass(frozen=True)
class Rules:
    """Everything configurable that the engine needs."""

    playbooks: Mapping[str, Playbook] = field(default_factory=lambda: DEFAULT_PLAYBOOKS)
    window: SendingWindow = field(default_factory=SendingWindow)

    def playbook(self, name: str) -> Playbook:
        """The playbook called ``name``; KeyError names it when there is none."""
        try:
            return self.playbooks[name]
        except KeyError:
            raise KeyError(f"no playbook {name!r}") from None


DEFAULT_RULES = Rules()


def rules_from_config(
    playbooks: Mapping[str, Mapping[str, Any]] | None = None,
    sending_window: Mapping[str, Any] | None = None,
    source: str = "config.toml",
) -> Rules:
    """Rules with config.toml's overrides applied; ConfigError names a bad key."""
    merged = merge_overrides(playbooks or {}, source=source)
    window = _window(sending_window or {}, source)
    return Rules(playbooks=merged, window=window)


def _window(table: Mapping[str, Any], source: str) -> SendingWindow:
    default = SendingWindow()
    unknown = set(table) - {"days", "start", "end"}
    if unknown:
        raise ConfigError(source, "unknown setting", f"sending_window.{sorted(unknown)[0]}")
    days = default.days
    if "days" in table:
        raw = table["days"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError(source, 'must be a list like ["mon", "tue"]', "sending_window.days")
        try:
            days = frozenset(WEEKDAY_NAMES.index(str(d).lower()[:3]) for d in raw)
        except ValueError:
            raise ConfigError(
                source, "weekdays are mon, tue, wed, thu, fri, sat, sun", "sending_window.days"
            ) from None
    start = _clock(table.get("start"), default.start, source, "sending_window.start")
    end = _clock(table.get("end"), default.end, source, "sending_window.end")
    try:
        return SendingWindow(days=days, start=start, end=end)
    except ValueError as exc:
        raise ConfigError(source, str(exc), "sending_window") from None


def _clock(raw: Any, default: time, source: str, key: str) -> time:
    if raw is None:
        return default
    if isinstance(raw, time):
        return raw
    try:
        return time.fromisoformat(str(raw))
    except ValueError:
        raise ConfigError(source, 'must be a time like "08:00"', key) from None


def zone(name: str) -> ZoneInfo:
    """The timezone called ``name``; ValueError when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None
