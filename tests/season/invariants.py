"""What must hold over everything a mentor received, whoever checks it.

The season simulator feeds it the mail the SMTP server received (resolved to asks and
steps through the store); the engine's stateful test feeds it the mail its random event
orders "sent". Both ask the same questions:

* no follow-up before the mail it follows went out;
* gaps between the mails of a thread at least the playbook's (ladder rungs: the gap to
  the rung before, and never sooner than that after the thread's last message; letter
  reminders: ``min_gap_days`` after the thread's last message);
* at most one mail per mentor per day (in the mentor's time zone);
* never more follow-ups in an ask than its playbook's ladder has (an answered question
  restarts the wait, not the budget);
* nothing after a reply that ends the ladder (only the reaction to it);
* every promised attachment present;
* "this will be my last message" only where the mentor never answered;
* no template syntax, placeholder or doubled word in any text.

Each check returns the violations it found, as sentences naming the mail.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from maild.core.model import Intent
from maild.core.playbooks import Anchor, Trigger, Unit
from maild.core.rules import DEFAULT_RULES, Rules
from maild.core.timing import add_days, local_date

# The Date header has whole seconds; due times do not.
_SLACK = timedelta(seconds=2)
# Replies after which the ladder's follow-ups must never go (a question pauses it: the
# nudges come back once the user answered).
ENDING = frozenset({Intent.AGREE, Intent.HESITANT, Intent.DECLINE, Intent.MEETING,
                    Intent.SUBMITTED, Intent.UNCLEAR})
# What may still go out after such a reply, by intent (the reaction to it).
_REACTIONS = {Intent.DECLINE: {"decline_thanks"}, Intent.SUBMITTED: {"thanks"}}
BAD_TEXT = re.compile(
    r"\[\[|\]\]|\{\{|\}\}|\{%|%\}|\byour your\b|\bthe the\b|\bDr\. Dr\.|\bresearch research\b"
    r"|\ba a\b|\ban an\b|\bNone\b|<fields ", re.IGNORECASE)


@dataclass(frozen=True)
class Mail:
    """One mail a mentor received, resolved to its ask and step."""

    message_id: str
    ask: int
    mentor: str
    playbook: str
    step: str
    at: datetime
    tz: str = "America/New_York"
    subject: str = ""
    body: str = ""
    nudge: bool = False
    followup: bool = False
    in_thread: bool = False
    in_reply_to: str | None = None
    promised: tuple[str, ...] = ()  # file names the text says are attached
    attached: tuple[str, ...] = ()  # file names that are MIME parts


@dataclass(frozen=True)
class Reply:
    """A message from the mentor's side of a thread (or the user's own answer)."""

    ask: int
    at: datetime
    intent: Intent | None  # None: not a human reply (auto-reply, bounce, the user)
    message_id: str | None = None
    by_user: bool = False


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)

    def extend(self, found: Iterable[str]) -> None:
        self.violations.extend(found)


def _by_ask(mails: Iterable[Mail]) -> dict[int, list[Mail]]:
    out: dict[int, list[Mail]] = defaultdict(list)
    for mail in sorted(mails, key=lambda m: m.at):
        out[mail.ask].append(mail)
    return out


def _label(mail: Mail) -> str:
    return f"{mail.mentor}'s {mail.step} of ask {mail.ask} ({mail.at:%a %Y-%m-%d %H:%M})"


def no_followup_before_predecessor(mails: Sequence[Mail], known_before: dict[str, datetime],
                                   rules: Rules = DEFAULT_RULES) -> list[str]:
    """A follow-up only after the thread's first mail went out, and a reply header that
    points at a message that existed before it."""
    found = []
    for ask_mails in _by_ask(mails).values():
        first = ask_mails[0]
        opener = rules.playbook(first.playbook).opener()
        for mail in ask_mails:
            if (mail.nudge or mail.followup) and mail.in_thread:
                earlier = [m for m in ask_mails if m.at < mail.at]
                if not earlier or (opener is not None and all(m.step != opener.name
                                                               for m in earlier)):
                    found.append(f"{_label(mail)} went out before the mail it follows up")
            if mail.in_reply_to:
                seen = known_before.get(mail.in_reply_to)
                if seen is None or seen > mail.at + _SLACK:
                    found.append(f"{_label(mail)} replies to {mail.in_reply_to}, which did "
                                 "not exist yet")
    return found


def _gap(rules: Rules, playbook: str, earlier_step: str, step: str, moment: datetime,
         tz: ZoneInfo) -> datetime | None:
    pb = rules.playbook(playbook)
    rule, before = pb.rule(step), pb.rule(earlier_step)
    if rule is None or before is None or rule.anchor is not Anchor.EVENT \
            or before.anchor is not Anchor.EVENT or rule.trigger is not before.trigger:
        return None
    out = add_days(moment, rule.offset, tz) if rule.unit is Unit.DAYS \
        else moment + timedelta(hours=rule.offset)
    return add_days(out, -before.offset, tz) if before.unit is Unit.DAYS \
        else out - timedelta(hours=before.offset)


def _rung(rules: Rules, playbook: str, step: str) -> int | None:
    """The position of ``step`` on its ladder (steps counted forward from one event)."""
    pb = rules.playbook(playbook)
    rule = pb.rule(step)
    if rule is None or rule.anchor is not Anchor.EVENT:
        return None
    ladder = [r.name for r in pb.rules(rule.trigger) if r.anchor is Anchor.EVENT]
    return ladder.index(step) if step in ladder else None


def gaps(mails: Sequence[Mail], replies: Sequence[Reply],
         rules: Rules = DEFAULT_RULES) -> list[str]:
    """Each follow-up at least the playbook's gap after the last rung before it that went
    out, counted from the later of that mail and the thread's last message (the
    mentor's reply, the user's own answer); a letter reminder ``min_gap_days`` after the
    thread's last message."""
    found = []
    by_reply: dict[int, list[Reply]] = defaultdict(list)
    for reply in replies:
        if reply.intent is not None or reply.by_user:
            by_reply[reply.ask].append(reply)
    for ask, ask_mails in _by_ask(mails).items():
        for index, mail in enumerate(ask_mails):
            if not ((mail.nudge or mail.followup) and mail.in_thread) or index == 0:
                continue
            tz = ZoneInfo(mail.tz)
            pb = rules.playbook(mail.playbook)
            rule = pb.rule(mail.step)
            earlier = ask_mails[:index]
            last = max([earlier[-1].at, *(r.at for r in by_reply[ask] if r.at < mail.at)])
            if rule is not None and rule.anchor is Anchor.DEADLINE:
                need = add_days(last, pb.param("min_gap_days"), tz)
                if mail.at + _SLACK < need:
                    found.append(f"{_label(mail)} came {mail.at - last} after the thread's "
                                 f"last message; the playbook wants "
                                 f"{pb.param('min_gap_days')} days")
                continue
            position = _rung(rules, mail.playbook, mail.step)
            if position is None:
                continue
            bases = [m for m in earlier if (r := _rung(rules, m.playbook, m.step)) is not None
                     and r < position]
            if not bases:
                continue
            base = bases[-1]
            moment = max(base.at, last)
            need = _gap(rules, mail.playbook, base.step, mail.step, moment, tz)
            if need is not None and mail.at + _SLACK < need:
                found.append(f"{_label(mail)} came {mail.at - moment} after the thread last "
                             f"moved ({base.step} or a reply); the playbook wants at least "
                             f"{need - moment}")
    return found


def follow_up_budget(mails: Sequence[Mail], rules: Rules = DEFAULT_RULES) -> list[str]:
    """No ask sends more follow-ups (the ladder's nudge mails) than its playbook has."""
    found = []
    for ask, ask_mails in _by_ask(mails).items():
        pb = rules.playbook(ask_mails[0].playbook)
        rungs = {r.name for r in pb.steps if r.enabled and r.nudge and r.template}
        sent = [m for m in ask_mails if m.nudge and m.step in rungs]
        if len(sent) > len(rungs):
            found.append(f"ask {ask} sent {len(sent)} follow-ups ("
                         + ", ".join(_label(m) for m in sent)
                         + f"); the {pb.name} playbook allows {len(rungs)}")
    return found


def one_a_day(mails: Sequence[Mail]) -> list[str]:
    """At most one mail per mentor per calendar day in the mentor's time zone."""
    days: dict[tuple[str, object], list[Mail]] = defaultdict(list)
    for mail in mails:
        days[(mail.mentor, local_date(mail.at, ZoneInfo(mail.tz)))].append(mail)
    return [f"{who} got {len(same)} mails on {day}: "
            + ", ".join(f"{m.step} (ask {m.ask})" for m in same)
            for (who, day), same in days.items() if len(same) > 1]


def nothing_after_the_end(mails: Sequence[Mail], replies: Sequence[Reply]) -> list[str]:
    """After a reply that ends the ladder, no nudge; after a decline or a submitted
    letter, nothing but the thank-you. What counts is the mentor's latest reply before
    the mail (a later one, "actually, yes", may reopen the ask)."""
    found = []
    playbooks = {m.ask: m.playbook for m in mails}
    for mail in mails:
        before = [r for r in replies if r.ask == mail.ask and r.intent is not None
                  and r.at < mail.at]
        if not before:
            continue
        reply = sorted(before, key=lambda r: r.at)[-1]  # the latest; ties: the last told
        intent = reply.intent
        playbook = playbooks.get(reply.ask)
        if intent is Intent.SUBMITTED and playbook is not None \
                and not DEFAULT_RULES.playbook(playbook).rules(Trigger.SUBMITTED):
            intent = Intent.UNCLEAR  # "submitted" means nothing outside a letter
        if intent not in ENDING:
            continue
        allowed = _REACTIONS.get(intent)
        if mail.nudge or (allowed is not None and mail.step not in allowed):
            assert intent is not None
            found.append(f"{_label(mail)} went out after the mentor's "
                         f"{intent.value} reply of {reply.at:%a %Y-%m-%d %H:%M}")
    return found


def attachments_kept(mails: Sequence[Mail]) -> list[str]:
    """What a mail says is attached is attached (and nothing promised is missing)."""
    return [f"{_label(m)} says it attaches {sorted(m.promised)} but carries "
            f"{sorted(m.attached)}"
            for m in mails if sorted(m.promised) != sorted(m.attached)]


# The cold ladder's "last message" promise (a letter's final reminder may say "one last
# time" about a deadline: that is no claim that the mentor never answered).
_LAST = re.compile(r"\b(my last message|my last note about it|the last time I will write)\b",
                   re.IGNORECASE)


def last_words_only_unanswered(mails: Sequence[Mail], replies: Sequence[Reply]) -> list[str]:
    """"This will be my last message" only in a thread the mentor never answered."""
    found = []
    for mail in mails:
        if not _LAST.search(mail.body):
            continue
        answered = [r for r in replies if r.ask == mail.ask and r.intent is not None
                    and r.at < mail.at]
        if answered:
            found.append(f"{_label(mail)} says it is the last message, but the mentor "
                         f"answered on {answered[0].at:%a %Y-%m-%d}")
    return found


def clean_text(mails: Sequence[Mail]) -> list[str]:
    """No template syntax, placeholder or doubled word reaches a sent mail."""
    found = []
    for mail in mails:
        for where, text in (("subject", mail.subject), ("body", mail.body)):
            match = BAD_TEXT.search(text)
            if match:
                found.append(f"{_label(mail)} has {match.group(0)!r} in its {where}")
    return found


def check_all(mails: Sequence[Mail], replies: Sequence[Reply],
              known_before: dict[str, datetime], rules: Rules = DEFAULT_RULES) -> list[str]:
    report = Report()
    report.extend(no_followup_before_predecessor(mails, known_before, rules))
    report.extend(gaps(mails, replies, rules))
    report.extend(one_a_day(mails))
    report.extend(follow_up_budget(mails, rules))
    report.extend(nothing_after_the_end(mails, replies))
    report.extend(attachments_kept(mails))
    report.extend(last_words_only_unanswered(mails, replies))
    report.extend(clean_text(mails))
    return report.violations
