"""Telling the user that something waits for them: drafts to approve, sends to check.

``Notifier`` is both the tracker's notice hook (``notifier(level, text)``) and what the
daemon calls to announce waiting drafts:

* a desktop notification where one is available (``notify-send`` on Linux with a
  graphical session, ``osascript`` on macOS), run as a subprocess with a short timeout
  that never raises; otherwise, and always, a line in the log;
* ``announce_waiting`` tells about each waiting draft once (a draft snoozed into the
  future is not waiting yet; ``uncertain`` and ``failed`` sends are included, because
  the user has to look at them), and once more when a draft has waited for approval
  ``REMIND_AFTER`` (3 days): nothing after it in its thread goes out before it does;
* ``send_digest``, when ``[sending] digest = true``: at most one email a day to the
  user's own address listing what waits, sent through the user's own SMTP server.

Which drafts were announced (``draft_notices``) and when the digest went out (the
timeline) are in the store, so a restart neither repeats nor forgets them.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.policy import SMTP
from zoneinfo import ZoneInfo

from maild.adapters import smtp
from maild.adapters.compose import Mailbox, compose, new_message_id
from maild.adapters.credentials import Secret
from maild.config import Account, Config
from maild.core.actions import Level
from maild.core.events import EventKind
from maild.core.model import DraftStatus
from maild.errors import MaildError
from maild.store import Store
from maild.store.drafts import Draft

log = logging.getLogger(__name__)

# A desktop notifier that hangs must not hold up the daemon.
DESKTOP_TIMEOUT = 5.0
TITLE = "maild"
# A failed send stays failed; it is worth telling about for a week, not forever.
FAILED_RECENT = timedelta(days=7)
# A draft left unapproved this long gets one reminder: its follow-ups wait for it.
REMIND_AFTER = timedelta(days=3)

Runner = Callable[[Sequence[str]], None]


@dataclass(frozen=True)
class Waiting:
    """One draft that needs the user."""

    id: int
    status: DraftStatus
    to: str
    subject: str
    ask_id: int = 0
    since: datetime | None = None  # waiting for approval since (pending drafts)

    def line(self) -> str:
        what = {DraftStatus.PENDING: "to approve",
                DraftStatus.UNCERTAIN: "may or may not have gone out",
                DraftStatus.FAILED: "was not sent"}.get(self.status, self.status)
        return f"#{self.id} to {self.to} (ask {self.ask_id}): {self.subject} ({what})"


def _run(argv: Sequence[str]) -> None:
    subprocess.run(list(argv), check=False, timeout=DESKTOP_TIMEOUT, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def desktop_command(title: str, text: str, *, platform: str = sys.platform,
                    env: Mapping[str, str] | None = None,
                    which: Callable[[str], str | None] = shutil.which) -> list[str] | None:
    """The command that shows a desktop notification here, or None when there is none.

    The text is passed as an argument, never spliced into a script, so a subject with
    quotes cannot become AppleScript.
    """
    env = os.environ if env is None else env
    if platform == "darwin":
        tool = which("osascript")
        if tool is None:
            return None
        return [tool, "-e", "on run argv", "-e",
                "display notification (item 2 of argv) with title (item 1 of argv)",
                "-e", "end run", title, text]
    if platform.startswith("linux") or "bsd" in platform:
        tool = which("notify-send")
        # Without a graphical session notify-send fails (or waits for D-Bus): skip it.
        graphical = any(env.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY",
                                             "DBUS_SESSION_BUS_ADDRESS"))
        if tool is None or not graphical:
            return None
        return [tool, "--app-name=maild", title, text]
    return None


class Notifier:
    """Desktop notification or log line; optional daily digest email."""

    def __init__(self, config: Config, *, secret: Callable[[Account], Secret] | None = None,
                 platform: str = sys.platform, env: Mapping[str, str] | None = None,
                 which: Callable[[str], str | None] = shutil.which,
                 run: Runner = _run) -> None:
        self.config = config
        self._secret = secret
        self._platform = platform
        self._env = env
        self._which = which
        self._run = run

    # -- the tracker's hook -----------------------------------------------------------

    def __call__(self, level: Level, text: str) -> None:
        self.tell(text, level)

    def tell(self, text: str, level: Level = Level.INFO) -> bool:
        """Show ``text``; True when a desktop notification was shown. Never raises."""
        log.log(logging.INFO if level is Level.INFO else logging.WARNING, "notice: %s", text)
        command = desktop_command(TITLE if level is Level.INFO else f"{TITLE}: {level}", text,
                                  platform=self._platform, env=self._env, which=self._which)
        if command is None:
            return False
        try:
            self._run(command)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            # A missing or hung notifier is not worth more than a log line.
            log.info("desktop notification not shown (%s)", type(exc).__name__)
            return False
        return True

    # -- waiting drafts ---------------------------------------------------------------

    def waiting(self, store: Store, now: datetime) -> list[Waiting]:
        """Drafts that need the user now; a draft snoozed into the future does not yet."""
        found = []
        for draft in store.read.drafts.needing_user(failed_since=now - FAILED_RECENT):
            if draft.status is DraftStatus.PENDING and draft.send_after is not None \
                    and draft.send_after > now:
                continue
            found.append(_waiting(draft))
        return found

    def next_wakeup(self, store: Store, now: datetime) -> datetime | None:
        """When what waits for the user next changes without anything happening: a
        snoozed draft wakes up, or a new day allows the next digest."""
        times = [d.send_after for d in store.read.drafts.with_status(DraftStatus.PENDING)
                 if d.send_after is not None and d.send_after > now]
        if self.config.sending.digest:
            tz = ZoneInfo(self.config.identity.timezone)
            tomorrow = self._local_day(now) + timedelta(days=1)
            times.append(datetime.combine(tomorrow, time(0, 1), tzinfo=tz))
        return min(times, default=None)

    def to_announce(self, store: Store, now: datetime) -> list[Waiting]:
        """Waiting drafts not announced yet in their current status."""
        waiting = self.waiting(store, now)
        done = store.read.drafts.was_told(w.id for w in waiting)
        return [w for w in waiting if (w.id, w.status) not in done]

    def to_remind(self, store: Store, now: datetime) -> list[Waiting]:
        """Drafts announced before that still wait for approval after REMIND_AFTER."""
        waiting = [w for w in self.waiting(store, now) if w.status is DraftStatus.PENDING
                   and w.since is not None and now - w.since >= REMIND_AFTER]
        told = store.read.drafts.was_told(w.id for w in waiting)
        reminded = store.read.drafts.were_reminded(w.id for w in waiting)
        return [w for w in waiting if (w.id, w.status) in told and w.id not in reminded]

    def announce_waiting(self, store: Store, now: datetime) -> list[Waiting]:
        """Tell the user about newly waiting drafts, once each, and remind them once of
        drafts left waiting for days; returns what was told."""
        new = self.to_announce(store, now)
        stale = self.to_remind(store, now)
        if stale:
            days = min((now - w.since).days for w in stale if w.since is not None)
            many = len(stale) > 1
            where = "their threads" if many else "its thread"
            text = (f"{len(stale)} draft{'s have' if many else ' has'} waited {days}+ days "
                    f"for your approval; what follows in {where} "
                    f"waits for {'them' if many else 'it'} (maild drafts): "
                    + "; ".join(w.line() for w in stale[:3]))
            self.tell(text, Level.WARNING)
            with store.transaction() as tx:
                tx.drafts.reminded((w.id for w in stale), now)
                tx.events.add(now, EventKind.USER_NOTIFIED, reminded=[w.id for w in stale])
        if not new:
            return stale
        approvals = [w for w in new if w.status is DraftStatus.PENDING]
        problems = [w for w in new if w.status is not DraftStatus.PENDING]
        parts = []
        if approvals:
            parts.append(f"{len(approvals)} draft{'s wait' if len(approvals) > 1 else ' waits'} "
                         "for your approval (maild drafts)")
        if problems:
            parts.append(f"{len(problems)} send{'s need' if len(problems) > 1 else ' needs'} "
                         "checking (maild drafts)")
        text = "; ".join(parts) + ": " + "; ".join(w.line() for w in new[:3])
        if len(new) > 3:
            text += f"; and {len(new) - 3} more"
        self.tell(text, Level.INFO if not problems else Level.WARNING)
        with store.transaction() as tx:
            tx.drafts.told(((w.id, w.status) for w in new), now)
            tx.events.add(now, EventKind.USER_NOTIFIED, drafts=[[w.id, w.status] for w in new])
        return new + stale

    # -- the daily digest -------------------------------------------------------------

    def _local_day(self, when: datetime) -> date:
        return when.astimezone(ZoneInfo(self.config.identity.timezone)).date()

    def digest_due(self, store: Store, now: datetime) -> bool:
        """Digest on, something waiting, and no digest yet on this (local) day."""
        if not self.config.sending.digest or not self.waiting(store, now):
            return False
        last = store.read.events.last_at(EventKind.DIGEST_SENT)
        return last is None or self._local_day(last) != self._local_day(now)

    def digest_message(self, store: Store, now: datetime) -> bytes:
        ident = self.config.identity
        items = self.waiting(store, now)
        first = ident.name.split()[0] if ident.name.split() else ""
        lines = [f"Hello {first},".replace(" ,", ","), "",
                 "maild has drafts and sends waiting for you:", ""]
        lines += [f"  {w.line()}" for w in items]
        lines += ["", "Review them with `maild drafts`, then `maild draft show ID`,",
                  "`maild approve ID` or `maild reject ID`. Nothing is sent before you approve.",
                  "", "(This digest is sent once a day because [sending] digest = true.)"]
        pending = sum(1 for w in items if w.status is DraftStatus.PENDING)
        subject = f"maild: {pending} draft{'s' if pending != 1 else ''} waiting for approval"
        if len(items) > pending:
            subject += f", {len(items) - pending} to check"
        me = Mailbox(ident.email, ident.name)
        message = compose(sender=me, to=[me], subject=subject, body="\n".join(lines),
                          message_id=new_message_id(ident.email), date=now)
        return message.as_bytes(policy=SMTP)

    def _digest_account(self) -> Account:
        own = self.config.identity.email.lower()
        for account in self.config.accounts:
            if account.email.lower() == own:
                return account
        return self.config.accounts[0]

    async def send_digest(self, store: Store, now: datetime) -> bool:
        """Send today's digest to the user if one is due; True when it went out.

        A failure is logged and tried again at the next call: the digest is a courtesy,
        and it goes only to the user's own address.
        """
        if not self.digest_due(store, now):
            return False
        if self._secret is None:
            log.warning("digest: no credentials given to the notifier; not sent")
            return False
        account = self._digest_account()
        raw = self.digest_message(store, now)
        try:
            await smtp.send(account, self._secret(account), account.email,
                            [self.config.identity.email], raw)
        except MaildError as exc:
            log.warning("digest email not sent: %s", exc)
            return False
        with store.transaction() as tx:
            tx.events.add(now, EventKind.DIGEST_SENT, to=self.config.identity.email,
                          drafts=len(self.waiting(store, now)))
        return True


def _waiting(draft: Draft) -> Waiting:
    names = [n or a for a, n in draft.spec.to_addrs]
    since = (draft.send_after or draft.created_at) \
        if draft.status is DraftStatus.PENDING else None
    return Waiting(id=draft.id, status=draft.status, to=", ".join(names) or "(nobody)",
                   subject=draft.spec.subject, ask_id=draft.ask_id, since=since)
