"""The playbooks as data: the guides' defaults, and merging config.toml overrides into them.

A playbook is a list of step rules (what to plan, on which trigger, how far from which
anchor) plus a few numeric parameters. The engine reads only this data; nothing in it
branches on a playbook's name.

Overrides come from config.toml's ``[playbooks.<name>]`` tables as a
``Mapping[str, Mapping[str, Any]]``. Keys of a table (see docs/playbooks.md):

* ``<step>_days`` - days after the anchor (ask start, agreement, meeting...);
* ``<step>_days_before`` - days before the letter deadline;
* ``<step>_hours`` - hours after the anchor, for steps counted in hours;
* ``<step>_template`` - the template an email step renders;
* ``<step>_enabled`` - false to drop the step;
* the playbook's parameters (``parallel``, ``warn_weeks``, ``interval_weeks``...).

Anything else, or a value of the wrong type, raises ConfigError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from maild.core.model import AskState, Intent, StepKind
from maild.errors import ConfigError


class Trigger(StrEnum):
    """What makes the engine plan a step."""

    CREATED = "created"
    AGREED = "agreed"
    SUBMITTED = "submitted"
    MEETING_HELD = "meeting_held"
    HESITANT = "hesitant"
    DECLINED = "declined"


class Anchor(StrEnum):
    """What a step's offset is counted from."""

    EVENT = "event"  # the moment of the trigger (ask start, agreement, meeting...)
    DEADLINE = "deadline"  # the letter deadline, counted backwards


class Unit(StrEnum):
    """The unit of a step's offset."""

    DAYS = "days"
    HOURS = "hours"


@dataclass(frozen=True)
class StepRule:
    """How one step of a playbook is planned.

    For a DEADLINE anchor, ``offset`` counts days *before* the deadline. A ``stop``
    step sets ``stop_state``; a step with ``closes`` closes the ask once it is sent.
    ``send_by_hours`` bounds how late the mail should go out after the trigger.
    """

    name: str
    kind: StepKind
    trigger: Trigger
    offset: int = 0
    anchor: Anchor = Anchor.EVENT
    unit: Unit = Unit.DAYS
    template: str | None = None
    in_thread: bool = False
    nudge: bool = False
    followup: bool = False
    closes: bool = False
    stop_state: AskState | None = None
    note: str | None = None
    send_by_hours: int | None = None
    enabled: bool = True

    @property
    def offset_key(self) -> str:
        """The config key that sets this rule's offset."""
        if self.anchor is Anchor.DEADLINE:
            return f"{self.name}_days_before"
        return f"{self.name}_{self.unit.value}"


# How a reply's intent moves a playbook that tracks commitments (cold, warm, letter).
COMMITMENT_INTENTS: Mapping[Intent, AskState] = MappingProxyType(
    {
        Intent.AGREE: AskState.AGREED,
        Intent.HESITANT: AskState.HESITANT,
        Intent.DECLINE: AskState.DECLINED,
        Intent.QUESTION: AskState.QUESTION,
        Intent.MEETING: AskState.MEETING,
        Intent.SUBMITTED: AskState.SUBMITTED,
        Intent.UNCLEAR: AskState.REPLIED,
    }
)


@dataclass(frozen=True)
class Playbook:
    """One playbook: its step rules, parameters and how replies move it.

    ``intent_states`` maps a reply's intent to the ask's new state (an intent missing
    from it leaves the state alone); ``reactions`` applies the hesitant and decline
    playbooks to its replies; ``recurring`` names a step re-planned every
    ``interval_weeks`` after it is sent; ``startable`` is false for the reaction and
    detection tables that only lend their rules to other asks.
    """

    name: str
    steps: tuple[StepRule, ...] = ()
    params: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    intent_states: Mapping[Intent, AskState] = field(
        default_factory=lambda: MappingProxyType({})
    )
    reactions: bool = False
    close_on_agree: bool = False
    sent_state: AskState = AskState.WAITING_REPLY
    recurring: str | None = None
    startable: bool = True

    def param(self, key: str) -> int:
        """A numeric parameter, 0 when this playbook has none of that name."""
        return self.params.get(key, 0)

    def rules(self, trigger: Trigger) -> tuple[StepRule, ...]:
        """The enabled rules planned on ``trigger``, in order."""
        return tuple(r for r in self.steps if r.trigger is trigger and r.enabled)

    def rule(self, name: str) -> StepRule | None:
        """The rule called ``name``, if any (enabled or not)."""
        return next((r for r in self.steps if r.name == name), None)

    def opener(self) -> StepRule | None:
        """The playbook's first email: the one every follow-up of the thread refers to."""
        return next((r for r in self.steps if r.kind is StepKind.EMAIL and r.enabled), None)

    def previous_rung(self, rule: StepRule) -> StepRule | None:
        """The enabled rule just before ``rule`` on its ladder (same trigger, counted
        forward from the same event), or None for the first rung and deadline steps."""
        if rule.anchor is not Anchor.EVENT:
            return None
        ladder = [r for r in self.rules(rule.trigger) if r.anchor is Anchor.EVENT]
        if rule not in ladder:
            return None
        index = ladder.index(rule)
        return ladder[index - 1] if index > 0 else None


def _params(**values: int) -> Mapping[str, int]:
    return MappingProxyType(dict(values))


_E, _T, _S, _C = StepKind.EMAIL, StepKind.TASK, StepKind.STOP, StepKind.CHECK

DEFAULT_PLAYBOOKS: Mapping[str, Playbook] = MappingProxyType(
    {
        "cold": Playbook(
            name="cold",
            steps=(
                StepRule("initial", _E, Trigger.CREATED, 0, template="cold_initial"),
                StepRule(
                    "nudge", _E, Trigger.CREATED, 5, template="cold_nudge",
                    in_thread=True, nudge=True, followup=True,
                ),
                StepRule(
                    "final_nudge", _E, Trigger.CREATED, 12, template="cold_final_nudge",
                    in_thread=True, nudge=True, followup=True,
                ),
                StepRule(
                    "stop", _S, Trigger.CREATED, 20, nudge=True,
                    stop_state=AskState.NO_RESPONSE,
                ),
            ),
            params=_params(parallel=3, never_twice_months=6, suggest_next=1),
            intent_states=COMMITMENT_INTENTS,
            reactions=True,
            close_on_agree=True,
        ),
        "warm": Playbook(
            name="warm",
            steps=(
                StepRule("initial", _E, Trigger.CREATED, 0, template="warm_initial"),
                StepRule(
                    "nudge", _E, Trigger.CREATED, 7, template="warm_nudge",
                    in_thread=True, nudge=True, followup=True,
                ),
                StepRule(
                    "stop", _S, Trigger.CREATED, 14, nudge=True,
                    stop_state=AskState.NO_RESPONSE,
                ),
            ),
            params=_params(never_twice_months=6, suggest_next=0),
            intent_states=COMMITMENT_INTENTS,
            reactions=True,
            close_on_agree=True,
        ),
        "letter": Playbook(
            name="letter",
            steps=(
                StepRule("request", _E, Trigger.CREATED, 0, template="letter_request"),
                StepRule(
                    "packet", _E, Trigger.AGREED, 0, unit=Unit.HOURS,
                    template="letter_packet", in_thread=True, send_by_hours=24,
                ),
                StepRule(
                    "reminder", _E, Trigger.CREATED, 14, anchor=Anchor.DEADLINE,
                    template="letter_reminder", in_thread=True, followup=True,
                ),
                StepRule(
                    "final_reminder", _E, Trigger.CREATED, 5, anchor=Anchor.DEADLINE,
                    template="letter_final_reminder", in_thread=True, followup=True,
                ),
                StepRule(
                    "call_office", _T, Trigger.CREATED, 2, anchor=Anchor.DEADLINE,
                    note="Call the mentor's office: the letter due {deadline} is not in yet.",
                ),
                StepRule("deadline", _C, Trigger.CREATED, 0, anchor=Anchor.DEADLINE),
                StepRule(
                    "thanks", _E, Trigger.SUBMITTED, 0, template="letter_thanks",
                    in_thread=True, closes=True,
                ),
            ),
            # min_gap_days: a reminder never comes sooner than this after the previous
            # message of the thread (ours or the mentor's).
            params=_params(warn_weeks=6, refuse_weeks=2, suggest_next=1, min_gap_days=7),
            intent_states=COMMITMENT_INTENTS,
            reactions=True,
        ),
        "meeting": Playbook(
            name="meeting",
            steps=(
                StepRule(
                    "summary", _E, Trigger.MEETING_HELD, 2, unit=Unit.HOURS,
                    template="meeting_summary", send_by_hours=24,
                ),
                StepRule(
                    "followup", _E, Trigger.MEETING_HELD, 7, template="meeting_followup",
                    in_thread=True, nudge=True, followup=True, closes=True,
                ),
            ),
            # Any answer to the summary or the follow-up closes the loop of a meeting.
            intent_states=MappingProxyType(dict.fromkeys(Intent, AskState.CLOSED)),
        ),
        "update": Playbook(
            name="update",
            steps=(StepRule("update", _E, Trigger.CREATED, 0, template="update_note"),),
            params=_params(interval_weeks=4),
            sent_state=AskState.ACTIVE,
            recurring="update",
        ),
        "thanks": Playbook(
            name="thanks",
            steps=(
                StepRule("thanks", _E, Trigger.CREATED, 0, template="outcome_thanks",
                         closes=True),
            ),
            intent_states=MappingProxyType(dict.fromkeys(Intent, AskState.CLOSED)),
        ),
        "hesitant": Playbook(
            name="hesitant",
            steps=(
                StepRule("clarify", _E, Trigger.HESITANT, 0, template="hesitant_clarify",
                         in_thread=True),
            ),
            params=_params(backups=2),
            startable=False,
        ),
        "decline": Playbook(
            name="decline",
            steps=(
                StepRule("decline_thanks", _E, Trigger.DECLINED, 0,
                         template="decline_thanks", in_thread=True),
            ),
            startable=False,
        ),
        "ghost": Playbook(name="ghost", params=_params(weeks=6, followups=2), startable=False),
    }
)


def merge_overrides(
    overrides: Mapping[str, Mapping[str, Any]],
    base: Mapping[str, Playbook] = DEFAULT_PLAYBOOKS,
    source: str = "config.toml",
) -> Mapping[str, Playbook]:
    """``base`` with the ``[playbooks.<name>]`` tables of config.toml applied.

    Raises ConfigError naming the offending key (``playbooks.<name>.<key>``).
    """
    merged = dict(base)
    for name, table in overrides.items():
        if name not in merged:
            known = ", ".join(sorted(merged))
            raise ConfigError(source, f"unknown playbook (known: {known})", f"playbooks.{name}")
        if not isinstance(table, Mapping):
            raise ConfigError(source, "must be a table", f"playbooks.{name}")
        merged[name] = _apply(merged[name], table, source)
    return MappingProxyType(merged)


def _apply(playbook: Playbook, table: Mapping[str, Any], source: str) -> Playbook:
    steps = list(playbook.steps)
    params = dict(playbook.params)
    for key, value in table.items():
        where = f"playbooks.{playbook.name}.{key}"
        if key in params:
            params[key] = _non_negative_int(value, source, where)
            continue
        index, attribute = _step_key(steps, key)
        if index is None:
            raise ConfigError(source, "unknown setting", where)
        rule = steps[index]
        if attribute == "offset":
            steps[index] = replace(rule, offset=_non_negative_int(value, source, where))
        elif attribute == "template":
            if not isinstance(value, str) or not value:
                raise ConfigError(source, "must be a template name", where)
            steps[index] = replace(rule, template=value)
        else:
            if not isinstance(value, bool):
                raise ConfigError(source, "must be true or false", where)
            steps[index] = replace(rule, enabled=value)
    result = replace(playbook, steps=tuple(steps), params=MappingProxyType(params))
    _check_order(result, source)
    return result


def _step_key(steps: list[StepRule], key: str) -> tuple[int | None, str]:
    for index, rule in enumerate(steps):
        if key == rule.offset_key and rule.kind is not StepKind.CHECK:
            return index, "offset"
        if key == f"{rule.name}_template" and rule.kind is StepKind.EMAIL:
            return index, "template"
        if key == f"{rule.name}_enabled":
            return index, "enabled"
    return None, ""


def _non_negative_int(value: Any, source: str, where: str) -> int:
    # bool is an int in Python; "nudge_days = true" is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(source, "must be a whole number, 0 or more", where)
    return value


def _check_order(playbook: Playbook, source: str) -> None:
    """A ladder must stay a ladder: each step strictly after the previous one."""
    for trigger in Trigger:
        forward = [
            r for r in playbook.rules(trigger)
            if r.anchor is Anchor.EVENT and r.unit is Unit.DAYS
        ]
        backward = [
            r for r in playbook.rules(trigger)
            if r.anchor is Anchor.DEADLINE and r.kind is not StepKind.CHECK
        ]
        for before, after in pairwise(forward):
            if after.offset <= before.offset:
                raise ConfigError(
                    source,
                    f"must be more than {before.offset_key} ({before.offset})",
                    f"playbooks.{playbook.name}.{after.offset_key}",
                )
        for before, after in pairwise(backward):
            if after.offset >= before.offset:
                raise ConfigError(
                    source,
                    f"must be less than {before.offset_key} ({before.offset})",
                    f"playbooks.{playbook.name}.{after.offset_key}",
                )
