"""Turning an email step into a draft: who it goes to, what it says, how it threads.

``TemplateDrafts`` is the tracker's ``DraftMaker``. It gathers the context (the user,
the mentor from the hit list, the thread, the application, the packet's attachments),
renders the step's template, and picks the thread headers so a nudge lands in the
same conversation. Fields only the user can write (``user.*``, e.g. the question
about the paper) are shown as ``[[name]]`` until the user supplies them at approval.
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
from maild.core.model import Ask, Step
from maild.errors import NotFoundError, UsageError
from maild.store import Store
from maild.store.drafts import Draft, DraftSpec
from maild.store.mentors import MentorRecord

log = logging.getLogger(__name__)

PLACEHOLDER = "[[{}]]"


def salutation(record: MentorRecord) -> str:
    """"Dr. Rivera" when a title is known, else the full name (never a guessed title)."""
    entry = record.entry
    parts = entry.name.split()
    if entry.title and parts:
        return f"{entry.title.strip()} {parts[-1]}"
    return entry.name


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
        mentor = MentorFields(
            name=e.name, salutation=salutation(record), title=e.title,
            last_name=e.name.split()[-1] if e.name.split() else e.name,
            institution=e.institution, department=e.department,
            specialty=e.specialty, connection_point=e.connection_point,
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
            mentor=mentor, thread=ThreadFields(subject=self._thread_subject(store, ask)),
            application=application, attachments=attachments, user=dict(user or {}))

    def _thread_subject(self, store: Store, ask: Ask) -> str:
        found = store.read.drafts.first_sent_subject(ask.id) if ask.id is not None else None
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
        stored = store.read.drafts.thread_message_ids(ask.id) if ask.id is not None else []
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
        record = store.read.mentors.get(ask.mentor_id)
        in_reply_to, references = (self.thread_headers(store, ask) if step.in_thread
                                   else (None, ()))
        spec = DraftSpec(
            ask_id=ask.id or 0, step_id=step.id, account=account.name,
            from_addr=account.email, from_name=self.config.identity.name,
            to_addrs=((record.entry.emails[0], record.entry.name),) if record.entry.emails
            else (), subject="", body="", message_id=new_message_id(account.email),
            in_reply_to=in_reply_to, references=references,
            attachments=tuple(str(Path(p).expanduser()) for p in self.config.attachments.values())
            if step.template == "letter_packet" else (),
            template=step.template)
        return self.render(store, ask, spec, {})

    def render(self, store: Store, ask: Ask, spec: DraftSpec,
               user: Mapping[str, str]) -> DraftSpec:
        """Render (or re-render with the user's fields); missing fields are listed."""
        assert spec.template is not None
        missing: tuple[str, ...] = ()
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

    def rerender(self, store: Store, ask: Ask, draft: Draft,
                 user: Mapping[str, str]) -> DraftSpec:
        merged = {**dict(draft.spec.fields), **{k: v for k, v in user.items() if v}}
        return self.render(store, ask, draft.spec, merged)

