"""A student's whole spring, lived day by day through the real CLI and the real daemon.

The season runs against the sandbox servers (Dovecot, aiosmtpd) from a fresh maild home:
the student imports a messy hit list, starts cold and warm asks and one application with
three letter writers, approves drafts (some days late, one snoozed, one never), records a
meeting, edits the hit list, leaves the laptop off for a week, and records the outcome.
The mentors answer as people do: silence, a question, an out-of-office, a bounce, a
meeting, yes, a hesitant yes, no, and a letter portal's notice.

Every day is one ``MAILD_NOW``: the mentors' mail of the night lands in the mailbox, the
student runs the CLI, and (except the week off) the daemon runs one session, as
``maild run`` does: the same ``Daemon`` on a clock starting at that moment, stopped once
it has nothing left to do. The first session after the week off is a real ``maild run``
subprocess. Each day's session starts one minute later than the day before, so a step
due at the minute a mail went out N days ago is due when that day's session runs.

After every day the invariants of ``tests/season/invariants.py`` are checked over every
message the SMTP server received, plus the store's own promises (an ask is "no response"
only if its first mail went out; an ask waiting for the user has its first draft
waiting). ``Season.summary()`` is the one-screen account: what each mentor received and
when, and how every ask ended.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from maild import paths
from maild.cli import cli
from maild.clock import Clock
from maild.core.model import AskState, DraftStatus, Intent, StepStatus
from maild.core.rules import DEFAULT_RULES
from maild.core.wording import split_name
from maild.runtime.daemon import Daemon, DaemonOptions
from maild.runtime.watcher import WatchTiming
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.home import write_sandbox_home
from maild.sandbox.mail import append, make_message, make_reply
from maild.sandbox.smtp import SmtpSandbox
from maild.store import Store
from maild.store.drafts import Draft
from tests.season import invariants as inv

TZ = ZoneInfo("America/New_York")
START = date(2026, 2, 2)  # a Monday
DAYS = 88  # to Thursday, April 30
OFF = (date(2026, 3, 23), date(2026, 3, 29))  # the laptop stays closed this week
SUBPROCESS_DAY = date(2026, 3, 30)  # the first session after the week off: `maild run`
USER = "Alex Kim <alex@school.example.edu>"
PW_ENV = "MAILD_SEASON_PASSWORD"
APPLICATION = "AHA Student Research Fellowship 2026"
DEADLINE = date(2026, 4, 3)

# The hit list as the student typed it into a spreadsheet.
HIT_LIST = "\n".join([
    "Rank,Name,Title,Institution,Specialty,Email,Connection point,Status",
    "1,Dr. Elena Marquez,,Lakeside University,Cardiology research,"
    "emarquez@lakeside.example.edu,your 2025 JAMA paper on remote monitoring,",
    '2,"Okafor, Samuel",Dr.,Example Hospital,Internal Medicine,'
    "sokafor@hosp.example.org,The 2024 NEJM trial of early mobility.,",
    "3,Priya Patel MD,,Northbrook Medical Center,HIV medicine,"
    "ppatel@northbrook.example.org,Dr. Patel's review on PrEP uptake,",
    "4,JUAN DE LA CRUZ,Prof.,Example University,Global Health,jdlc@old.example.edu,"
    "Paper on cholera surveillance in Haiti,",
    "5,Mei Chen,PhD,Example Institute,Alzheimer's disease,mchen@institute.example.org,"
    "her talk at AAIC 2025,",
    "6,Omar Haddad,Dr.,Lakeside University,Nephrology,ohaddad@lakeside.example.edu,"
    "your 2024 Circulation paper on home blood pressure,",
    "7,Grace Kim,Dr.,Example Hospital,Emergency Medicine,gkim@hosp.example.org,"
    "sepsis quality-improvement study,",
    ",Dana Rivera,Dr.,Example School of Medicine,Cardiology,"
    "drivera@med.example.edu,,former research mentor",
    ",Kenji Nakamura,Dr.,Example School of Medicine,Internal Medicine,"
    "knakamura@med.example.edu,,clerkship director",
    ",Laura Brooks,Dr.,Example Hospital,Cardiology,lbrooks@hosp.example.org,,"
    "former research mentor",
]) + "\n"
# Three weeks in, the student fixes two rows of the spreadsheet and imports it again.
HIT_LIST_EDITED = HIT_LIST.replace(
    "your 2024 Circulation paper on home blood pressure",
    "2025 Hypertension paper on cuffless blood pressure monitoring").replace(
    "7,Grace Kim", "8,Grace Kim")

FIELDS: dict[str, dict[str, str]] = {
    # For the cold asks maild starts by itself when one ends: the student reads the paper
    # and writes the question when the draft comes up.
    "cold_initial": {
        "paper_question": "what would you measure differently if you ran it again",
    },
    "letter_packet": {
        "work_summary": "Over eight months on the HFpEF registry I built the data "
                        "pipeline, ran the readmission analysis and presented our poster.",
        "talking_points": "- How I handled the missing-data problem on my own initiative.\n"
                          "- Teaching the two first-year students who joined in the spring.",
    },
    "meeting_summary": {
        "summary": "- The registry has enough patients for the question.\n"
                   "- I will start from the 2019-2024 data.",
        "next_step": "I will send you a one-page outline by Friday, February 27",
    },
    "meeting_followup": {
        "follow_up_line": "I have finished the outline and shared it in our team folder",
    },
    "update_note": {
        "update_line": "I have started the analysis plan for the summer and will share "
                       "it with the team in May",
    },
}


@dataclass(frozen=True)
class Received:
    """A message the SMTP server accepted, as the mentor sees it."""

    message_id: str
    to: str
    at: datetime
    subject: str
    body: str
    in_reply_to: str | None
    attachments: dict[str, bytes]
    raw: bytes


@dataclass
class Season:
    """The season's world and its record; see the module docstring."""

    tmp: Path
    dovecot: DovecotServer
    smtp: SmtpSandbox
    user: str
    log: Callable[[str], None] = lambda _line: None
    subprocess_day: date | None = SUBPROCESS_DAY
    home: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    replies: list[inv.Reply] = field(default_factory=list)
    known: dict[str, datetime] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sessions: int = 0
    cli_calls: int = 0
    day: date = START
    session_index: int = 0
    attachments: dict[str, Path] = field(default_factory=dict)
    delivered: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = self.tmp / "home"
        documents = self.tmp / "documents"
        documents.mkdir(parents=True)
        self.attachments = {"cv": documents / "Alex_Kim_CV.pdf",
                            "personal_statement": documents / "Alex_Kim_personal_statement.pdf"}
        self.attachments["cv"].write_bytes(b"%PDF-1.4\n% Alex Kim, CV\n" + bytes(range(256)))
        self.attachments["personal_statement"].write_bytes(b"%PDF-1.4\n% statement draft\n")
        extra = "\n[attachments]\n" + "".join(f'{k} = "{v}"\n'
                                              for k, v in self.attachments.items())
        write_sandbox_home(self.home, self.dovecot, self.smtp, self.user,
                           password_env=PW_ENV, extra=extra)
        self.env = {PW_ENV: self.dovecot.password}

    # -- time ---------------------------------------------------------------------------

    def at(self, hour: int, minute: int = 0, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, datetime.min.time(), TZ).replace(
            hour=hour, minute=minute)

    @property
    def session_time(self) -> datetime:
        # One minute later each day: see the module docstring.
        return self.at(9) + timedelta(minutes=(self.day - START).days)

    @property
    def laptop_on(self) -> bool:
        return not OFF[0] <= self.day <= OFF[1]

    # -- the student's hands --------------------------------------------------------------

    def cli(self, *args: str, at: datetime | None = None, ok: bool = True) -> str:
        now = at or self.session_time - timedelta(minutes=10)
        result = CliRunner().invoke(cli, ["--home", str(self.home), *args],
                                    env={**self.env, "MAILD_NOW": now.isoformat(),
                                         "COLUMNS": "200"})
        self.cli_calls += 1
        if ok and result.exit_code != 0:
            raise AssertionError(f"{self.day} `maild {' '.join(args)}` failed: "
                                 f"{result.output}")
        return result.output

    @contextmanager
    def store(self) -> Iterator[Store]:
        with Store.open(paths.database_path(self.home)) as store:
            yield store

    def ask_id(self, mentor: str, playbook: str) -> int:
        with self.store() as store:
            record = store.read.mentors.find(mentor)
            found = [a.id for a in store.read.asks.all()
                     if a.mentor_id == record.id and a.playbook == playbook]
        if not found or found[-1] is None:
            raise AssertionError(f"{self.day}: no {playbook} ask to {mentor}")
        return found[-1]

    def pending(self) -> list[Draft]:
        with self.store() as store:
            return store.read.drafts.with_status(DraftStatus.PENDING)

    def draft_step(self, draft: Draft) -> tuple[str, str]:
        with self.store() as store:
            ask = store.read.asks.get(draft.ask_id)
            mentor = store.read.mentors.get(ask.mentor_id).name
            return mentor, store.read.drafts.step_name(draft) or ""

    # -- the mentors' hands ---------------------------------------------------------------

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        append(self.dovecot.host, self.dovecot.port, self.user, self.dovecot.password,
               folder, raw)
        self.delivered.append(raw)
        parsed = message_from_bytes(raw, policy=default_policy)
        mid = str(parsed.get("Message-ID", "")).strip()
        when = parsed.get("Date")
        if mid and when is not None:
            self.known[mid] = when.datetime

    def received(self) -> list[Received]:
        out = []
        for message in self.smtp.messages:
            msg = message.message
            assert isinstance(msg, EmailMessage)
            body_part = msg.get_body(preferencelist=("plain",))
            body = body_part.get_content() if body_part is not None else ""
            files = {}
            for part in msg.iter_attachments():
                payload = part.get_payload(decode=True)
                files[str(part.get_filename())] = payload if isinstance(payload, bytes) else b""
            date_header = msg["Date"]
            out.append(Received(
                message_id=str(msg["Message-ID"]).strip(), to=str(msg["To"]),
                # A subject folded onto its own line reads " Subject" in Python.
                at=date_header.datetime, subject=str(msg["Subject"]).strip(), body=body,
                in_reply_to=str(msg["In-Reply-To"]).strip() if msg["In-Reply-To"] else None,
                attachments=files, raw=message.raw))
        return out

    def last_to(self, address: str, step: str | None = None) -> Received:
        """The last mail the mentor at ``address`` received (of ``step``, when given)."""
        mails = [m for m in self.received() if address in m.to]
        if step is not None:
            with self.store() as store:
                mails = [m for m in mails if (d := store.read.drafts.by_message_id(
                    m.message_id)) is not None and store.read.drafts.step_name(d) == step]
        if not mails:
            raise AssertionError(f"{self.day}: {address} has received no {step or 'mail'} yet")
        return mails[-1]

    def mentor_replies(self, address: str, body: str, intent: Intent | None, *,
                       hour: int = 7, step: str | None = None, name: str = "",
                       headers: dict[str, str] | None = None) -> None:
        original = self.last_to(address, step)
        when = self.at(hour, 30)
        raw = make_reply(original.raw, body=body, sender=f"{name} <{address}>" if name
                         else address, date=when, headers=headers)
        self.deliver(raw)
        self.replies.append(inv.Reply(self.thread_ask(original), when, intent))
        self.log(f"    {address} writes: {body.splitlines()[0][:70]}")

    def thread_ask(self, mail: Received) -> int:
        with self.store() as store:
            draft = store.read.drafts.by_message_id(mail.message_id)
            assert draft is not None, mail.message_id
            return draft.ask_id

    def user_answers(self, address: str, ask: int, body: str) -> None:
        """The student answers the mentor from their own mail client (a copy in Sent)."""
        question = next(raw for raw in reversed(self.delivered)
                        if address.encode() in raw.split(b"\r\n\r\n", 1)[0])
        when = self.at(8, 15)
        raw = make_reply(question, body=body, sender=USER, date=when, quote=True)
        self.deliver(raw, "Sent")
        parsed = message_from_bytes(raw, policy=default_policy)
        self.replies.append(inv.Reply(ask, when, None, str(parsed["Message-ID"]),
                                      by_user=True))
        self.log(f"    the student answers {address} from their own mail client")

    # -- a session of the daemon --------------------------------------------------------

    def quiet(self, store: Store, now: datetime) -> tuple[bool, int]:
        """Nothing due, nothing approved waiting to go; and the newest event id."""
        due = bool(store.read.asks.due_steps(now))
        ready = any(d.send_after is None or d.send_after <= now
                    for d in store.read.drafts.sendable())
        newest = store.read.events.latest()
        return not due and not ready, newest[0] if newest else 0

    async def _settle(self, clock: Clock, task: asyncio.Task[int]) -> None:
        """Wait until the daemon has nothing left to do (three quiet looks in a row)."""
        quiet_for = 0
        last = -1
        deadline = time.monotonic() + 30
        with self.store() as store:
            while quiet_for < 3:
                if task.done():
                    task.result()
                    raise AssertionError(f"{self.day}: the daemon stopped by itself")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.day}: the daemon never settled")
                await asyncio.sleep(0.04)
                idle, newest = self.quiet(store, clock.now())
                quiet_for = quiet_for + 1 if idle and newest == last else 0
                last = newest

    async def _session(self, review: Callable[[Clock], bool]) -> None:
        clock = Clock.starting_at(self.session_time)
        daemon = Daemon(self.home, self.env, clock, DaemonOptions(
            timing=WatchTiming(idle_slice=0.05, backoff_base=0.1, backoff_cap=1.0)),
            notify=self._notice)
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(daemon.ready.wait(), timeout=30)
            await self._settle(clock, task)
            for _round in range(4):
                if not review(clock):
                    break
                await self._settle(clock, task)
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, timeout=15)

    def _notice(self, level: object, text: str) -> None:
        self.notes.append(f"{self.day:%b %d} {level}: {text}")

    def session(self, review: Callable[[Clock], bool]) -> None:
        self.sessions += 1
        if self.day == self.subprocess_day:
            self._subprocess_session(review)
        else:
            asyncio.run(self._session(review))

    def _subprocess_session(self, review: Callable[[Clock], bool]) -> None:
        """The session as the student really starts it: `maild run`, stopped by SIGTERM."""
        env = {**os.environ, **self.env, "MAILD_NOW": self.session_time.isoformat()}
        log_path = self.tmp / "maild-run.log"
        with log_path.open("w") as log:
            # A file, not a pipe: a daemon that logs a lot must never block on it.
            proc = subprocess.Popen([sys.executable, "-m", "maild", "--home", str(self.home),
                                     "run"], env=env, stderr=log, text=True)
            clock = Clock.starting_at(self.session_time)
            try:
                asyncio.run(self._wait_subprocess(clock, proc))
                for _round in range(4):
                    if not review(clock):
                        break
                    asyncio.run(self._wait_subprocess(clock, proc))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        if proc.returncode != 0:
            raise AssertionError(f"`maild run` exited {proc.returncode}: "
                                 f"{log_path.read_text()[-2000:]}")

    async def _wait_subprocess(self, clock: Clock, proc: subprocess.Popen[str]) -> None:
        quiet_for, last = 0, -1
        deadline = time.monotonic() + 40
        await asyncio.sleep(1.0)  # the process starts and catches up first
        with self.store() as store:
            while quiet_for < 8:
                if proc.poll() is not None:
                    raise AssertionError(f"{self.day}: `maild run` stopped by itself")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.day}: `maild run` never settled")
                await asyncio.sleep(0.1)
                idle, newest = self.quiet(store, clock.now())
                quiet_for = quiet_for + 1 if idle and newest == last else 0
                last = newest

    # -- checking -----------------------------------------------------------------------

    def mails(self) -> list[inv.Mail]:
        """Every received message, resolved to its ask and step through the store."""
        out = []
        with self.store() as store:
            for m in self.received():
                draft = store.read.drafts.by_message_id(m.message_id)
                if draft is None:
                    self.violations.append(f"{self.day}: {m.to} received {m.subject!r}, "
                                           "which maild has no draft of")
                    continue
                ask = store.read.asks.get(draft.ask_id)
                step = next((s for s in ask.steps if s.id == draft.spec.step_id), None)
                mentor = store.read.mentors.get(ask.mentor_id).name
                promised = tuple(line.split(": ", 1)[1] for line in m.body.splitlines()
                                 if line.startswith("- ") and ": " in line
                                 and "I have attached:" in m.body
                                 and line.split(": ", 1)[1].endswith(".pdf"))
                out.append(inv.Mail(
                    message_id=m.message_id, ask=ask.id or 0, mentor=mentor,
                    playbook=ask.playbook, step=step.name if step else "?", at=m.at,
                    tz=ask.timezone, subject=m.subject, body=m.body,
                    nudge=bool(step and step.nudge), followup=bool(step and step.followup),
                    in_thread=bool(step and step.in_thread), in_reply_to=m.in_reply_to,
                    promised=promised, attached=tuple(m.attachments)))
                for name, content in m.attachments.items():
                    expected = {p.name: p for p in self.attachments.values()}.get(name)
                    if expected is None or expected.read_bytes() != content:
                        self.violations.append(f"{self.day}: {m.subject!r} carries {name}, "
                                               "which is not the student's file")
        return out

    def check(self) -> None:
        mails = self.mails()
        known = dict(self.known)
        known.update({m.message_id: m.at for m in mails})
        found = inv.check_all(mails, self.replies, known, DEFAULT_RULES)
        found += self.check_store()
        for violation in found:
            line = f"{self.day}: {violation}"
            if line not in self.violations:
                self.violations.append(line)

    def check_store(self) -> list[str]:
        """The store's own truth: "no response" and "waiting for you" mean what they say."""
        found = []
        with self.store() as store:
            for ask in store.read.asks.all():
                opener = DEFAULT_RULES.playbook(ask.playbook).opener()
                sent = [s for s in ask.steps if s.status in (StepStatus.SENT,
                                                             StepStatus.SUPERSEDED)]
                if ask.state is AskState.NO_RESPONSE and not sent:
                    found.append(f"ask {ask.id} is no_response but nothing ever went out")
                if ask.state is AskState.WAITING_FOR_YOU and (
                        sent or opener is None or ask.open_step(opener.name) is None):
                    found.append(f"ask {ask.id} is waiting_for_you without a first draft "
                                 "waiting")
                drafted = [s for s in ask.steps if s.status in (StepStatus.DRAFTED,
                                                                StepStatus.APPROVED)
                           and (s.nudge or s.followup) and s.in_thread]
                if drafted and ask.first_contact_at is None:
                    found.append(f"ask {ask.id} has a follow-up draft ({drafted[0].name}) "
                                 "while its first mail never went out")
        return found

    # -- the summary ----------------------------------------------------------------------

    def summary(self, elapsed: float) -> str:
        lines = [f"Season {START:%b %d} - {START + timedelta(days=DAYS - 1):%b %d %Y}: "
                 f"{len(self.smtp.messages)} emails sent, {self.sessions} daemon sessions, "
                 f"{self.cli_calls} CLI commands, {elapsed:.0f} s"]
        by_mentor: dict[str, list[inv.Mail]] = {}
        for mail in self.mails():
            by_mentor.setdefault(mail.mentor, []).append(mail)
        with self.store() as store:
            asks = store.read.asks.all()
            names = store.read.mentors.names()
        states: dict[str, list[str]] = {}
        for ask in asks:
            states.setdefault(names[ask.mentor_id], []).append(f"{ask.playbook} {ask.state}")
        for name in sorted(names.values(), key=lambda n: min(
                [m.at for m in by_mentor.get(n, [])] or [datetime.max.replace(tzinfo=TZ)])):
            sent = ", ".join(f"{m.at.astimezone(TZ):%b %d} {m.step}"
                             for m in sorted(by_mentor.get(name, []), key=lambda m: m.at))
            shown = split_name(name).full
            lines.append(f"  {shown:<17} {sent or '-'}")
            lines.append(f"  {'':<17} -> {'; '.join(states.get(name, ['not contacted']))}")
        lines.append(f"Invariants: {'all held' if not self.violations else 'VIOLATED'} "
                     f"after each of {DAYS} days")
        lines += [f"  ! {v}" for v in self.violations[:20]]
        return "\n".join(lines)


# ---------------------------------------------------------------------------- the script


@dataclass
class Student:
    """The student's habits: which drafts wait how long, which are snoozed or ignored."""

    season: Season
    late: dict[tuple[str, str], date] = field(default_factory=dict)
    snooze: dict[tuple[str, str], str] = field(default_factory=dict)
    never: set[tuple[str, str]] = field(default_factory=set)
    snoozed: set[int] = field(default_factory=set)

    def review(self, clock: Clock) -> bool:
        """Approve what the student would approve now; True when something was approved."""
        approved = False
        for draft in self.season.pending():
            mentor, step = self.season.draft_step(draft)
            key = (mentor, step)
            if key in self.never:
                continue
            if key in self.late and self.season.day < self.late[key]:
                continue
            if key in self.snooze and draft.id not in self.snoozed:
                self.snoozed.add(draft.id)
                self.season.cli("snooze", str(draft.id), self.snooze[key], at=clock.now())
                self.season.log(f"    snoozed {mentor}'s {step} for {self.snooze[key]}")
                continue
            if draft.send_after is not None and draft.send_after > clock.now():
                continue  # snoozed: not yet
            # The student writes only what the draft still needs.
            needs = {f.removeprefix("user.") for f in draft.spec.missing_fields}
            fields = {k: v for k, v in FIELDS.get(draft.spec.template or "", {}).items()
                      if k in needs}
            args = [a for k, v in fields.items() for a in ("--field", f"{k}={v}")]
            self.season.cli("approve", str(draft.id), *args, at=clock.now())
            self.season.log(f"    approved {mentor}'s {step}: {draft.spec.subject}")
            approved = True
        return approved


def script(season: Season, student: Student) -> dict[date, Callable[[], None]]:
    """What happens on which day, besides the student reviewing drafts in each session."""
    s = season
    days: dict[date, Callable[[], None]] = {}

    def on(day: date) -> Callable[[Callable[[], None]], Callable[[], None]]:
        def register(action: Callable[[], None]) -> Callable[[], None]:
            days[day] = action
            return action
        return register

    def portal(mentor: str, who: str) -> None:
        s.deliver(make_message(
            sender="AHA Fellowships <noreply@aha.example.org>", to=USER,
            subject="AHA Student Research Fellowship: letter of recommendation received",
            body=f"Dear Alex Kim,\n\nThe letter of recommendation from {who} has been "
                 "received for your application.\n\nThis is an automated message; please "
                 "do not reply.\n", date=s.at(6, 40)))
        s.replies.append(inv.Reply(s.ask_id(mentor, "letter"), s.at(6, 40), Intent.SUBMITTED))
        s.log(f"    the AHA portal: {who}'s letter is in")

    @on(date(2026, 2, 2))
    def start() -> None:
        path = s.tmp / "hit-list.csv"
        path.write_text(HIT_LIST, encoding="utf-8")
        s.log("    " + s.cli("mentor", "import", str(path)).splitlines()[0])
        s.cli("application", "add", APPLICATION, "--deadline", DEADLINE.isoformat(),
              "--letters", "3", "--system", "AHA", "--programs", "Lakeside University",
              "--programs", "Northbrook Medical Center",
              "--instructions", "AHA emails you a link to upload the letter.")
        s.cli("ask", "cold", "Marquez", "--field", "paper_question=how did you decide which "
              "alerts reached the clinicians")
        s.cli("ask", "cold", "Okafor", "--field", "paper_question=how did the nurses fit the "
              "mobility sessions into their shifts")
        s.cli("ask", "cold", "Patel", "--field", "paper_question=which clinics saw the biggest "
              "change after the reminders")
        s.cli("ask", "warm", "Chen", "--introduced-by", "Dr. Lee")
        student.late[("Dr. Elena Marquez", "initial")] = date(2026, 2, 5)

    @on(date(2026, 2, 3))
    def patel_away() -> None:
        s.mentor_replies("ppatel@northbrook.example.org",
                         "I am out of the office until Friday, February 13, with limited "
                         "access to email. I will respond when I return.", None,
                         headers={"Auto-Submitted": "auto-replied"}, name="Priya Patel")

    @on(date(2026, 2, 4))
    def letters() -> None:
        s.mentor_replies("mchen@institute.example.org",
                         "Dear Alex,\n\nYes, I would be happy to have you join the project."
                         "\n\nMei", Intent.AGREE, name="Mei Chen")
        for who in ("Rivera", "Nakamura", "Brooks"):
            s.cli("ask", "letter", who, "--application", APPLICATION, "--field",
                  "work_together=the HFpEF registry project")
        student.late[("Dana Rivera", "packet")] = date(2026, 2, 9)
        student.late[("Okafor, Samuel", "nudge")] = date(2026, 2, 11)

    @on(date(2026, 2, 5))
    def yes() -> None:
        s.mentor_replies("drivera@med.example.edu",
                         "Dear Alex,\n\nYes, I would be glad to write you a strong letter. "
                         "Send me your materials when you can.\n\nDana", Intent.AGREE,
                         name="Dana Rivera")

    @on(date(2026, 2, 6))
    def no() -> None:
        s.mentor_replies("lbrooks@hosp.example.org",
                         "Dear Alex,\n\nThank you for thinking of me. Unfortunately I am not "
                         "able to take on any more letters this cycle. I wish you the best of "
                         "luck.\n\nLaura", Intent.DECLINE, name="Laura Brooks")

    @on(date(2026, 2, 9))
    def hesitant() -> None:
        s.mentor_replies("knakamura@med.example.edu",
                         "Hi Alex,\n\nI could probably write one, but my schedule in March is "
                         "very tight. Can you remind me of the timeline?\n\nKenji",
                         Intent.HESITANT, name="Kenji Nakamura")

    @on(date(2026, 2, 10))
    def grace() -> None:
        # Started, then never approved: it must wait, never end as "no response".
        s.cli("ask", "cold", "Grace Kim", "--field", "paper_question=which bundle element "
              "mattered most")
        student.never.add(("Grace Kim", "initial"))

    @on(date(2026, 2, 12))
    def question() -> None:
        s.mentor_replies("sokafor@hosp.example.org",
                         "Thanks for following up. Before we meet: would you be able to "
                         "commit about ten hours a week through the summer?", Intent.QUESTION,
                         name="Samuel Okafor")
        student.snooze[("Dr. Elena Marquez", "final_nudge")] = "2d"

    @on(date(2026, 2, 13))
    def answer() -> None:
        s.user_answers("sokafor@hosp.example.org", s.ask_id("Okafor", "cold"),
                       "Dear Dr. Okafor,\n\nYes, I can commit ten hours a week through the "
                       "summer; my schedule is clear from June.\n\nBest regards,\nAlex")

    @on(date(2026, 2, 17))
    def meeting() -> None:
        s.mentor_replies("ppatel@northbrook.example.org",
                         "Hi Alex,\n\nSorry for the delay, I was away. Happy to meet - could "
                         "you come by my office on Thursday at 3pm?\n\nPriya", Intent.MEETING,
                         name="Priya Patel")

    @on(date(2026, 2, 18))
    def record_meeting() -> None:
        s.cli("ask", "meeting", "Patel", "--at", "2026-02-19T15:00:00-05:00")

    @on(date(2026, 2, 26))
    def cancel_grace() -> None:
        s.cli("ask", "mark", str(s.ask_id("Grace Kim", "cold")), "cancel")

    @on(date(2026, 2, 27))
    def okafor_yes() -> None:
        s.mentor_replies("sokafor@hosp.example.org",
                         "Alex,\n\nSorry for the slow reply. Yes, I would be happy to have "
                         "you on the team; let's start in June.\n\nSam", Intent.AGREE,
                         name="Samuel Okafor")

    @on(date(2026, 3, 2))
    def bounce() -> None:
        original = s.last_to("jdlc@old.example.edu")
        s.deliver(_bounce(original, "jdlc@old.example.edu", s.at(7, 5)))
        s.replies.append(inv.Reply(s.thread_ask(original), s.at(7, 5), None))
        s.log("    jdlc@old.example.edu bounced (550 5.1.1 user unknown)")

    @on(date(2026, 3, 3))
    def new_address() -> None:
        s.mentor_replies("ppatel@northbrook.example.org",
                         "Thanks Alex, this looks great. Talk soon.\n\nPriya", Intent.UNCLEAR,
                         name="Priya Patel", step="followup")
        s.cli("mentor", "edit", "de la Cruz", "--email", "juan.delacruz@newuni.example.edu")
        s.cli("ask", "mark", str(s.ask_id("de la Cruz", "cold")), "resume")

    @on(date(2026, 3, 18))
    def decline() -> None:
        s.mentor_replies("juan.delacruz@newuni.example.edu",
                         "Dear Alex,\n\nThank you for your persistence. Unfortunately I am "
                         "unable to take on new students this year.\n\nJuan", Intent.DECLINE,
                         name="Juan de la Cruz")
        student.late[("Omar Haddad", "initial")] = date(2026, 3, 20)

    @on(date(2026, 3, 19))
    def reimport() -> None:
        path = s.tmp / "hit-list-edited.csv"
        path.write_text(HIT_LIST_EDITED, encoding="utf-8")
        s.log("    " + " / ".join(s.cli("mentor", "import", str(path)).splitlines()))

    @on(date(2026, 3, 20))
    def update() -> None:
        s.cli("ask", "update", "Rivera", "--field", "update_line=our registry abstract was "
              "accepted as a poster at the spring symposium")

    @on(date(2026, 3, 25))
    def rivera_in() -> None:
        portal("Rivera", "Dr. Dana Rivera")

    @on(date(2026, 4, 1))
    def nakamura_in() -> None:
        portal("Nakamura", "Dr. Kenji Nakamura")
        s.mentor_replies("ohaddad@lakeside.example.edu",
                         "Dear Alex,\n\nYes, I would be glad to have you join us. Please "
                         "email my coordinator to set things up.\n\nOmar", Intent.AGREE,
                         name="Omar Haddad")

    @on(date(2026, 4, 24))
    def outcome() -> None:
        s.log("    " + s.cli("application", "outcome", APPLICATION,
                             "I was awarded the AHA Student Research Fellowship").strip())

    return days


def _bounce(original: Received, recipient: str, when: datetime) -> bytes:
    boundary = "season-bounce"
    return (
        f"From: MAILER-DAEMON@school.example.edu (Mail Delivery System)\r\n"
        f"To: alex@school.example.edu\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {when:%a, %d %b %Y %H:%M:%S %z}\r\n"
        f"Message-ID: <bounce-{abs(hash(original.message_id))}@mx.school.example.edu>\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; "
        f"boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host "
        f"mx.school.example.edu.\r\n\r\nI'm sorry to have to inform you that your message "
        f"could not be delivered to one or more recipients.\r\n\r\n<{recipient}>: host "
        f"mx.old.example.edu said: 550 5.1.1 <{recipient}>: Recipient address rejected: "
        f"User unknown in local recipient table\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.school.example.edu\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: alex@school.example.edu\r\nTo: {recipient}\r\n"
        f"Subject: {original.subject}\r\nMessage-ID: {original.message_id}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


# Where every ask must end, given what happened (the last check of the season).
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("Dr. Elena Marquez", "cold"): {"no_response"},
    ("Okafor, Samuel", "cold"): {"agreed"},
    ("Priya Patel MD", "cold"): {"meeting"},
    ("Priya Patel MD", "meeting"): {"closed"},
    ("JUAN DE LA CRUZ", "cold"): {"declined"},
    ("Mei Chen", "warm"): {"agreed"},
    ("Omar Haddad", "cold"): {"agreed"},
    ("Grace Kim", "cold"): {"cancelled"},
    ("Dana Rivera", "letter"): {"closed"},
    ("Dana Rivera", "update"): {"active", "waiting_for_you"},
    ("Dana Rivera", "thanks"): {"closed"},
    ("Kenji Nakamura", "letter"): {"closed"},
    ("Kenji Nakamura", "thanks"): {"closed"},
    ("Laura Brooks", "letter"): {"declined"},
}


def final_states(season: Season) -> list[str]:
    found = []
    with season.store() as store:
        names = store.read.mentors.names()
        seen: set[tuple[str, str]] = set()
        for ask in store.read.asks.all():
            key = (names[ask.mentor_id], ask.playbook)
            seen.add(key)
            if str(ask.state) not in EXPECTED.get(key, set()):
                found.append(f"{key[0]}'s {key[1]} ask ended {ask.state}, expected "
                             f"{' or '.join(sorted(EXPECTED.get(key, {'(no such ask)'})))}")
    found += [f"{who} never got a {playbook} ask" for who, playbook in set(EXPECTED) - seen]
    return found


def live(season: Season, days: int = DAYS) -> float:
    """Play the season; returns how long it took (seconds)."""
    began = time.monotonic()
    student = Student(season)
    plan = script(season, student)
    for offset in range(days):
        season.day = START + timedelta(days=offset)
        season.log(f"{season.day:%a %b %d}" + ("" if season.laptop_on else "  (laptop off)"))
        action = plan.get(season.day)
        if action is not None:
            action()
        if season.laptop_on:
            season.session(student.review)
        season.check()
    season.violations += [f"end: {v}" for v in final_states(season)]
    return time.monotonic() - began


def run(log: Callable[[str], None] = lambda _line: None) -> tuple[Season, float]:
    """A whole season in throwaway servers and a throwaway home."""
    with tempfile.TemporaryDirectory(prefix="maild-season-") as tmp, DovecotServer() as dovecot:
        user = "season-student"
        with SmtpSandbox(username=user, password=dovecot.password) as smtp:
            season = Season(Path(tmp), dovecot, smtp, user, log=log)
            elapsed = live(season)
            season.__dict__["_summary"] = season.summary(elapsed)
            season.__dict__["_received"] = season.received()
            return season, elapsed

