"""Turning an email step into a draft: who it goes to, what it says, how it threads.

``TemplateDrafts`` is the tracker's ``DraftMaker``. It gathers the context (the user,
the mentor from the hit list, the thread, the application, the packet's attachments),
renders the step's template, and picks the thread headers so a nudge lands in the
same conversation. Fields only the user can write (``user.*``, e.g. the question
about the paper) come from what the user gave when starting the ask, else at
approval; until then they are shown as ``[[name]]``.

Hit-list text is normalised for the sentence it lands in (``maild.core.wording``):
"Dr. Elena Marquez" is greeted "Dr. Marquez", "your 2025 JAMA paper" does not become
"your your", "Cardiology research" reads "cardiology". A template that lists
``attachments`` promises them: its draft carries the files of ``[attachments]``, which
``check_attachments`` verifies at approval (the sender checks again before sending).
A draft is rendered again whenever it is approved and when its mentor changes, so it
always says what the current inputs say.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from maild.adapters.compose import is_message_id, new_message_id
from maild.adapters.templates import (
    ApplicationFields,
    AttachmentFields,
    Identity,
    MentorFields,
    TemplateContext,
    TemplateError,
    TemplateSet,
    ThreadFields,
)
from maild.config import Config
from maild.core import wording
from maild.core.engine import RESENT
from maild.core.entries import check_text
from maild.core.model import Ask, Step, StepStatus
from maild.errors import NotFoundError, UsageError
from maild.store import Store
from maild.store.drafts import Draft, DraftSpec
from maild.store.mentors import MentorRecord

log = logging.getLogger(__name__)

PLACEHOLDER = "[[{}]]"


def salutation(record: MentorRecord) -> str:
    """"Dr. Rivera" when a title is known, else the full name (never a guessed title)."""
    return wording.salutation(record.entry.name, record.entry.title)


def recipient(record: MentorRecord) -> tuple[tuple[str, str], ...]:
    """The mentor's first address with their name as read ("JUAN DE LA CRUZ" -> "Juan de
    la Cruz", "Okafor, Samuel" -> "Samuel Okafor"). A name with a control character is
    passed on as it is, so that composing refuses it (never cleaned into a header)."""
    entry = record.entry
    if not entry.emails:
        return ()
    name = entry.name if check_text("name", entry.name) else \
        wording.split_name(entry.name, entry.title).full
    return ((entry.emails[0], name),)


def attachment_problems(paths: tuple[str, ...]) -> list[str]:
    """What is wrong with each file a draft promises (missing, unreadable), as phrases."""
    problems = []
    for raw in paths:
        path = Path(raw)
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            problems.append(f"{path} cannot be read ({exc.strerror or exc})")
    return problems


def _label(key: str) -> str:
    known = {"cv": "CV", "personal_statement": "Personal statement (draft)",
             "summary": "Summary of our work together", "talking_points": "Talking points"}
    return known.get(key, key.replace("_", " ").capitalize())


class TemplateDrafts:
    def __init__(self, home: Path, config: Config) -> None:
        self.templates = TemplateSet.for_home(home)
        self.config = config

    # -- context ----------------------------------------------------------------------

    def context(self, store: Store, ask: Ask, user: Mapping[str, str] | None = None
                ) -> TemplateContext:
        ident = self.config.identity
        record = store.read.mentors.get(ask.mentor_id)
        e = record.entry
        person = wording.split_name(e.name, e.title)
        mentor = MentorFields(
            name=person.full, salutation=salutation(record), title=person.title,
            last_name=person.surname, institution=e.institution, department=e.department,
            specialty=wording.research_field(e.specialty),
            connection_point=wording.paper_phrase(e.connection_point, person.surname),
            email=e.emails[0] if e.emails else "")
        application = None
        if ask.application_id is not None:
            try:
                app = store.read.mentors.application(ask.application_id)
            except NotFoundError:
                app = None
            if app is not None:
                application = ApplicationFields(
                    name=app.name, deadline=ask.deadline or app.deadline,
                    programs=tuple(p.strip() for p in app.programs.split(";") if p.strip()),
                    instructions=app.instructions, system=app.system)
        attachments = tuple(AttachmentFields.from_path(_label(k), Path(v).expanduser())
                            for k, v in self.config.attachments.items())
        return TemplateContext(
            me=Identity(name=ident.name, email=ident.email, role=ident.role,
                        institution=ident.institution),
            mentor=mentor,
            thread=ThreadFields(subject=self._thread_subject(store, ask),
                                replied=ask.last_reply_at is not None),
            application=application, attachments=attachments, user=dict(user or {}))

    def _thread_subject(self, store: Store, ask: Ask) -> str:
        found = store.read.drafts.first_sent_subject(
            ask.id, ask.thread_message_ids) if ask.id is not None else None
        subject = found or ""
        while subject.lower().startswith(("re:", "aw:")):
            subject = subject[3:].strip()
        return subject

    def thread_headers(self, store: Store, ask: Ask) -> tuple[str | None, tuple[str, ...]]:
        """In-Reply-To (the latest message of the thread) and References (all of it).

        Ids that compose() would refuse (a mentor's client writing ``<nohost>``) are left
        out here, where they would enter the thread: one malformed reply must not make
        every later draft in the thread impossible to send.
        """
        stored = store.read.drafts.thread_message_ids(
            ask.id, ask.thread_message_ids) if ask.id is not None else []
        ids: list[str] = []
        for mid in [*ask.thread_message_ids, *stored]:
            if mid and mid not in ids and is_message_id(mid):
                ids.append(mid)
        return (ids[-1] if ids else None), tuple(ids)

    # -- drafts -----------------------------------------------------------------------

    def make(self, store: Store, ask: Ask, step: Step, now: datetime) -> DraftSpec:
        if step.template is None:
            raise UsageError(f"step {step.name} of ask {ask.id} has no template")
        account = self.config.account(ask.account)
        spec = DraftSpec(
            ask_id=ask.id or 0, step_id=step.id, account=account.name,
            from_addr=account.email, from_name=self.config.identity.name, to_addrs=(),
            subject="", body="", message_id=new_message_id(account.email),
            in_reply_to=None, references=(), template=step.template)
        spec = self.addressed(store, ask, spec, step.in_thread)
        # The words the user gave when starting the ask (an outcome, a question) are for
        # its first mail of each kind: a recurring update must say something new, so
        # its next one asks again (a mail sent afresh after a bounce says the same).
        again = any(s.name == step.name and s.id != step.id and s.status is StepStatus.SENT
                    for s in ask.steps) and step.note != RESENT
        return self.render(store, ask, spec, {} if again else dict(ask.fields))

    def addressed(self, store: Store, ask: Ask, spec: DraftSpec, in_thread: bool
                  ) -> DraftSpec:
        """``spec`` with today's recipient, thread headers and promised files."""
        record = store.read.mentors.get(ask.mentor_id)
        in_reply_to, references = (self.thread_headers(store, ask) if in_thread
                                   else (spec.in_reply_to, spec.references))
        return replace(spec, to_addrs=recipient(record), in_reply_to=in_reply_to,
                       references=references, attachments=self.attachments_for(spec))

    def attachments_for(self, spec: DraftSpec) -> tuple[str, ...]:
        """The files a draft carries: those of ``[attachments]`` when its template lists
        attachments (what it says is attached is attached), else none."""
        if spec.template is None:
            return ()
        try:
            promised = self.templates.uses(spec.template, "attachments")
        except TemplateError:
            return spec.attachments
        if not promised:
            return ()
        return tuple(str(Path(p).expanduser()) for p in self.config.attachments.values())

    def render(self, store: Store, ask: Ask, spec: DraftSpec,
               user: Mapping[str, str]) -> DraftSpec:
        """Render (or re-render with the user's fields); missing fields are listed."""
        assert spec.template is not None
        missing: tuple[str, ...] = ()
        if not self.config.attachments and self._promises_files(spec.template):
            problem = ("no files under [attachments] in config.toml: this mail attaches "
                       "your CV and personal statement (see `maild init` and docs/templates.md)")
            return replace(spec, subject=f"({spec.template}: {problem})", body="",
                           missing_fields=(f"attachments: {problem}",),
                           fields=tuple(user.items()))
        try:
            # Reading the fields parses the template: a broken override fails here already.
            needed = self.templates.user_fields(spec.template)
            missing = tuple(f"user.{n}" for n in needed if not user.get(n, "").strip())
            shown = {n: user.get(n) or PLACEHOLDER.format(n) for n in needed}
            email = self.templates.render(spec.template, self.context(store, ask, shown))
        except TemplateError as exc:
            # A hit-list gap (say, no connection point) or a broken template override must
            # not lose the step: the draft waits with the problem named, and `maild mentor
            # edit` or `maild template` fixes it.
            log.warning("ask %s: draft of %s cannot be rendered yet: %s", ask.id, spec.template,
                        exc.problem)
            return replace(spec, subject=f"({spec.template}: {exc.problem})", body="",
                            missing_fields=(*missing, f"template: {exc.problem}"),
                            fields=tuple(user.items()))
        return replace(spec, subject=email.subject, body=email.body, missing_fields=missing,
                        fields=tuple(user.items()))

    def _promises_files(self, template: str) -> bool:
        try:
            return self.templates.uses(template, "attachments")
        except TemplateError:
            return False

    def rerender(self, store: Store, ask: Ask, draft: Draft,
                 user: Mapping[str, str]) -> DraftSpec:
        """The draft rendered afresh from today's inputs (mentor, application, thread,
        files) and every field given so far; its Message-ID stays."""
        step = next((s for s in ask.steps if s.id == draft.spec.step_id), None)
        again = step is not None and step.note != RESENT and any(
            s.name == step.name and s.id != step.id and s.status is StepStatus.SENT
            for s in ask.steps)
        merged = {**({} if again else dict(ask.fields)), **dict(draft.spec.fields),
                  **{k: v for k, v in user.items() if v}}
        in_thread = step.in_thread if step is not None else draft.spec.in_reply_to is not None
        spec = self.addressed(store, ask, draft.spec, in_thread)
        return self.render(store, ask, spec, merged)


def refresh_pending(store: Store, drafts: TemplateDrafts, mentor_id: int,
                    now: datetime) -> int:
    """Render again every waiting draft of one mentor's asks (after their details
    changed), so ``maild drafts`` shows what would be sent; returns how many changed."""
    changed = 0
    with store.transaction() as tx:
        for draft in tx.drafts.pending_for_mentor(mentor_id):
            if draft.spec.template is None:
                continue
            spec = drafts.rerender(store, tx.asks.get(draft.ask_id), draft, {})
            if spec != draft.spec:
                tx.drafts.update_content(draft.id, spec, now)
                changed += 1
    return changed

