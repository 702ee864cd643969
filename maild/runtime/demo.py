"""``maild demo``: the whole loop against a throwaway local mailbox, in under a minute.

A private Dovecot and SMTP server start on 127.0.0.1, a sandbox home gets a config and
two mentors, and the real daemon runs on a fast clock (a day passes in a couple of
seconds). A scripted mentor answers one email; the other stays silent and gets the
day-5 nudge. The demo plays the user too: it approves each draft with sample answers,
saying so, where a real user would run ``maild approve``.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from maild import paths
from maild.app import review
from maild.app.drafting import TemplateDrafts
from maild.app.tracker import Tracker
from maild.clock import Clock
from maild.config import load
from maild.core.entries import MentorInput
from maild.core.model import DraftStatus
from maild.errors import MaildError
from maild.runtime.daemon import Daemon, DaemonOptions
from maild.runtime.watcher import WatchTiming
from maild.sandbox.dovecot import DovecotServer, find_dovecot
from maild.sandbox.home import write_sandbox_home
from maild.sandbox.mail import append, make_message
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from maild.store.mentors import add_mentors

log = logging.getLogger(__name__)

Say = Callable[[str], None]
TZ = ZoneInfo("America/New_York")
START = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday morning
USER = "trainee"
PASSWORD_ENV = "MAILD_DEMO_PASSWORD"
SAMPLE_FIELDS: Mapping[str, str] = MappingProxyType({
    "paper_question": "how did you decide which outcomes to adjudicate centrally?",
    "summary": "we went through the registry data dictionary and the open questions",
    "next_step": "I will draft the analysis plan and send it to you by Friday",
    "follow_up_line": "I have started on the analysis plan we discussed",
    "update_line": "my abstract was accepted for the spring meeting",
    "introduced_by": "Dr. Lee",
    "work_together": "the HFpEF registry project",
    "outcome": "I matched at my first-choice program",
})
RIVERA = "drivera@med.example.edu"
OKAFOR = "sokafor@hospital.example.org"


class DemoError(MaildError):
    """The demo could not run (no Dovecot, or a step did not happen in time)."""


@dataclass(frozen=True)
class DemoResult:
    sent: int
    seconds: float


class Demo:
    def __init__(self, say: Say, speed: float = 43_200.0, timeout: float = 90.0,
                 home: Path | None = None) -> None:
        self.say = say
        self.speed = speed  # 43,200: one day of maild time every two seconds
        self.timeout = timeout
        self._home = home

    async def run(self) -> DemoResult:
        if find_dovecot() is None:
            raise DemoError("the demo needs Dovecot's IMAP server: install dovecot-imapd "
                            "(Debian/Ubuntu) or dovecot (Homebrew), or run "
                            "`bash tests/bootstrap.sh demo`")
        with tempfile.TemporaryDirectory(prefix="maild-demo-") as tmp:
            home = self._home or Path(tmp) / "home"
            with DovecotServer() as dovecot, \
                    SmtpSandbox(username=USER, password=dovecot.password) as smtp:
                return await self._run(home, dovecot, smtp)

    async def _run(self, home: Path, dovecot: DovecotServer, smtp: SmtpSandbox) -> DemoResult:
        loop = asyncio.get_running_loop()
        began = loop.time()
        write_sandbox_home(home, dovecot, smtp, USER, password_env=PASSWORD_ENV)
        env = {PASSWORD_ENV: dovecot.password}
        config = load(paths.config_path(home))
        clock = Clock.starting_at(START, speed=self.speed)
        self.say(f"Sandbox: Dovecot on 127.0.0.1:{dovecot.port}, SMTP on 127.0.0.1:{smtp.port}, "
                 f"home {home}")
        self.say("A day of maild time passes every "
                 f"{86_400 / self.speed:.0f} seconds; times below are maild's clock.\n")
        store = Store.open(paths.database_path(home))
        tracker = Tracker(store, config, TemplateDrafts(home, config))
        add_mentors(store, [
            MentorInput(name="Dana Rivera", title="Dr.", emails=(RIVERA,),
                        specialty="cardiology", rank=1,
                        connection_point="2025 paper on HFpEF registries"),
            MentorInput(name="Sam Okafor", title="Dr.", emails=(OKAFOR,), specialty="surgery",
                        rank=2, connection_point="trauma outcomes study"),
        ], clock.now())
        for mentor_id in (1, 2):
            tracker.create_ask(mentor_id, "cold", clock.now())
        tracker.run_due(clock.now())
        self.say(f"{self._t(clock)}  Hit list: Dr. Dana Rivera, Dr. Sam Okafor; cold asks "
                 "started (nudge on day 5, final nudge day 12, stop day 20).")

        daemon = Daemon(home, env, clock, DaemonOptions(
            timing=WatchTiming(idle_slice=0.2, backoff_base=0.2, backoff_cap=2.0)))
        task = asyncio.create_task(daemon.run())
        try:
            await self._script(store, tracker, clock, dovecot, smtp, daemon, task)
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, timeout=15)
            store.close()
        self.say("")
        self._timeline(store_path=paths.database_path(home), say=self.say)
        return DemoResult(sent=len(smtp.messages), seconds=loop.time() - began)

    def _t(self, clock: Clock) -> str:
        return f"[{clock.now().astimezone(TZ):%a %b %d %H:%M}]"

    async def _wait(self, what: str, check: Callable[[], bool], task: asyncio.Task[int],
                    deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while not check():
            if task.done():
                task.result()  # re-raise the daemon's error
                raise DemoError(f"the daemon stopped before {what}")
            if loop.time() > deadline:
                raise DemoError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def _script(self, store: Store, tracker: Tracker, clock: Clock,
                      dovecot: DovecotServer, smtp: SmtpSandbox, daemon: Daemon,
                      task: asyncio.Task[int]) -> None:
        deadline = asyncio.get_running_loop().time() + self.timeout
        approved: set[int] = set()

        async def wait(what: str, check: Callable[[], bool]) -> None:
            async def approving() -> bool:
                if self._approve_pending(store, tracker, clock, approved):
                    daemon.poke()  # as the CLI would, through the wake pipe
                return check()
            while True:
                if await approving():
                    return
                await self._wait(what, lambda: True, task, deadline)
                await asyncio.sleep(0.05)
                if asyncio.get_running_loop().time() > deadline:
                    raise DemoError(f"timed out waiting for {what}")

        await wait("the first two emails", lambda: len(smtp.messages) >= 2)
        for received in smtp.messages[:2]:
            self.say(f"{self._t(clock)}  SMTP server received: \"{received.message['Subject']}\""
                     f" to {received.message['To']}")
        first = next(m for m in smtp.messages if RIVERA in str(m.message["To"]))
        first_id = str(first.message["Message-ID"])

        # Dr. Rivera answers the next morning; Dr. Okafor never does.
        await wait("Tuesday", lambda: clock.now() >= START + timedelta(days=1))
        reply = make_message(sender=f"Dana Rivera <{RIVERA}>", to="alex@school.example.edu",
                             subject="Re: " + str(first.message["Subject"]),
                             body="Happy to meet! Would Thursday at 3pm work for you?\n\nDana",
                             in_reply_to=first_id, references=[first_id], date=clock.now())
        append(dovecot.host, dovecot.port, USER, dovecot.password, "INBOX", reply)
        self.say(f"{self._t(clock)}  Dr. Rivera replies: \"Happy to meet! Would Thursday at 3pm "
                 "work for you?\"")
        await wait("the reply to be matched",
                   lambda: self._step_status(store, 1, "nudge") == "cancelled")
        self.say(f"{self._t(clock)}  maild matched the reply to ask 1 (In-Reply-To) and "
                 f"cancelled its nudges: {self._steps(store, 1)}")

        meeting_at = datetime(2026, 11, 26, 15, 0, tzinfo=TZ)
        tracker.create_ask(1, "meeting", clock.now(), meeting_at=meeting_at)
        daemon.poke()  # as the CLI would, through the wake pipe
        self.say(f"{self._t(clock)}  You record the meeting for Thu 15:00 "
                 "(`maild ask meeting Rivera --at ...`): a summary is due within 24 hours.")

        await wait("the meeting summary to arrive",
                   lambda: any("summary" in str(m.message["Subject"]).lower() or
                               "thank you for" in str(m.message["Subject"]).lower()
                               for m in smtp.messages[2:]))
        summary = smtp.messages[2]
        self.say(f"{self._t(clock)}  SMTP server received: \"{summary.message['Subject']}\"")

        await wait("Dr. Okafor's day-5 nudge",
                   lambda: any(OKAFOR in str(m.message["To"]) and
                               str(m.message["Subject"]).startswith("Re:")
                               for m in smtp.messages))
        nudge = next(m for m in smtp.messages if OKAFOR in str(m.message["To"]) and
                     str(m.message["Subject"]).startswith("Re:"))
        self.say(f"{self._t(clock)}  No answer from Dr. Okafor: the day-5 nudge went out in the "
                 f"same thread: \"{nudge.message['Subject']}\" (In-Reply-To "
                 f"{nudge.message['In-Reply-To']})")

    def _approve_pending(self, store: Store, tracker: Tracker, clock: Clock,
                         approved: set[int]) -> bool:
        before = len(approved)
        for draft in store.read.drafts.with_status(DraftStatus.PENDING):
            if draft.id in approved:
                continue
            final = review.approve(store, tracker, draft.id, clock.now(), SAMPLE_FIELDS)
            approved.add(draft.id)
            self.say(f"{self._t(clock)}  Draft {draft.id} \"{final.spec.subject}\" auto-approved "
                     f"for the demo (you would run `maild approve {draft.id}`)")
        return len(approved) > before

    @staticmethod
    def _step_status(store: Store, ask_id: int, name: str) -> str | None:
        steps = [s for s in store.read.asks.get(ask_id).steps if s.name == name]
        return str(max(steps, key=lambda s: s.id or 0).status) if steps else None

    @staticmethod
    def _steps(store: Store, ask_id: int) -> str:
        steps = sorted(store.read.asks.get(ask_id).steps, key=lambda s: s.id or 0)
        return ", ".join(f"{s.name} {s.status}" for s in steps)

    @staticmethod
    def _timeline(store_path: Path, say: Say) -> None:
        say("Timeline (from the store):")
        with Store.open(store_path) as store:
            names = store.read.mentors.names()
            shown = ("ask_created", "draft_created", "message_out", "message_in",
                     "steps_cancelled", "state_changed")
            for row in store.read.events.every():
                if row.kind not in shown:
                    continue
                detail = row.detail
                who = names.get(row.mentor_id or 0, "")
                text = {
                    "ask_created": f"{detail.get('playbook')} ask started",
                    "draft_created": f"draft ready: {detail.get('subject')}",
                    "message_out": f"sent: {detail.get('subject')}",
                    "message_in": f"received ({detail.get('kind')}, {detail.get('intent')}): "
                                  f"{detail.get('subject')}",
                    "steps_cancelled": f"cancelled {', '.join(detail.get('steps', []))}",
                    "state_changed": f"{detail.get('old')} -> {detail.get('new')}",
                }[row.kind]
                when = row.at.astimezone(TZ)
                say(f"  {when:%a %b %d %H:%M}  {who:<12} ask {row.ask_id or '-'}: {text}")
