"""The local web page: Today, drafts, the hit list, applications, mentor timelines.

A thin layer like the CLI: every route reads through ``maild.app`` and
``maild.store.views`` and acts through the same use cases as the terminal (approval
only through ``maild.app.review``). Plain server-rendered HTML with forms; no script,
no asset from anywhere but this page. Work on the database runs in a worker thread
with its own connection per request (SQLite in WAL mode serves the daemon and the
page side by side).

Each POST is checked for the session's CSRF token before anything is read from the
form; a MaildError becomes the page again with the error in one line, and success
redirects (so a reload never posts twice).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from email.utils import getaddresses
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from maild import paths
from maild.adapters.compose import check_address
from maild.adapters.templates import describe_user_field
from maild.app import lifecycle, review
from maild.app.calendar import build_calendar
from maild.app.drafting import TemplateDrafts
from maild.app.hitlist_csv import parse_csv
from maild.app.hitlist_import import ImportPlan, apply_import, plan_import
from maild.app.outbox import message_of
from maild.app.timeline import build_timeline
from maild.app.today import (
    LETTER_MARKS,
    ApplicationView,
    Health,
    LiveFolders,
    applications,
    build_today,
    health,
    step_words,
    waiting_drafts,
)
from maild.app.tracker import Notifier, Tracker
from maild.config import Config, load, rules_for
from maild.core.entries import DATE_EXAMPLES, MentorInput, read_date, split_addresses, validate
from maild.errors import MaildError, NotFoundError, UsageError
from maild.runtime.lock import running_pid
from maild.runtime.wake import wake_daemon
from maild.store import Store, views
from maild.store import mentors as mentors_repo
from maild.web.access import COOKIE, CSRF_FIELD, SESSION_SECONDS, Access
from maild.web.guard import Guard, refusal

log = logging.getLogger(__name__)

WEB = Path(__file__).parent
UPCOMING_SHOWN = 15
MAX_CSV_BYTES = 2 * 1024 * 1024
MENTOR_TEXT_FIELDS = ("title", "institution", "department", "specialty", "grant_status",
                      "connection_point", "outreach_status", "notes")
T = TypeVar("T")


@dataclass(frozen=True)
class Site:
    """What the page needs from whoever serves it (the daemon or ``maild ui``)."""

    home: Path
    now: Callable[[], datetime]
    served_by: str
    access: Access
    live_folders: LiveFolders | None = None
    notify: Notifier | None = None


class Ctx:
    """One request's config, store and tracker (opened in the worker thread)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.config: Config = load(paths.config_path(site.home))
        self.store = Store.open(paths.database_path(site.home))
        self.now = site.now()
        self.tz: tzinfo = ZoneInfo(self.config.identity.timezone)
        self._tracker: Tracker | None = None

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            self._tracker = Tracker(self.store, self.config,
                                    TemplateDrafts(self.site.home, self.config),
                                    notify=self.site.notify)
        return self._tracker

    def health(self) -> Health:
        return health(self.store, running_pid(self.site.home), self.site.served_by,
                      self.site.live_folders)

    def close(self) -> None:
        self.store.close()


def _local(tz: tzinfo) -> Callable[[datetime | None], str]:
    def show(when: datetime | None) -> str:
        return "" if when is None else f"{when.astimezone(tz):%a %Y-%m-%d %H:%M}"
    return show


def _day(when: date | datetime | None) -> str:
    if when is None:
        return ""
    return f"{when:%a %Y-%m-%d}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(WEB / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["day"] = _day
    env.filters["words"] = step_words
    env.globals["letter_marks"] = LETTER_MARKS
    return env


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.templates = Jinja2Templates(env=environment())

    # -- plumbing ---------------------------------------------------------------------

    async def _run(self, work: Callable[[Ctx], T]) -> T:
        def job() -> T:
            ctx = Ctx(self.site)
            try:
                return work(ctx)
            finally:
                ctx.close()
        return await run_in_threadpool(job)

    def _render(self, request: Request, name: str, ctx_data: Mapping[str, Any],
                tz: tzinfo, status: int = 200) -> HTMLResponse:
        cookie = request.cookies.get(COOKIE, "")
        data = {"csrf_field": CSRF_FIELD, "csrf": self.site.access.csrf_token(cookie),
                "local": _local(tz), "done": request.query_params.get("done", ""),
                "error": request.query_params.get("error", ""), **ctx_data}
        response = self.templates.TemplateResponse(request, name, data, status_code=status)
        assert isinstance(response, HTMLResponse)
        return response

    async def _page(self, request: Request, name: str,
                    build: Callable[[Ctx], dict[str, Any]]) -> Response:
        try:
            data, tz = await self._run(lambda ctx: (build(ctx), ctx.tz))
        except MaildError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 400
            return refusal(status, "maild", exc.message.splitlines()[0])
        return self._render(request, name, data, tz)

    async def _form(self, request: Request) -> FormData:
        """The form, once its CSRF token is right (403 otherwise)."""
        form = await request.form(max_files=1, max_fields=200)
        token = form.get(CSRF_FIELD)
        if not self.site.access.valid_csrf(request.cookies.get(COOKIE),
                                           token if isinstance(token, str) else None):
            raise HTTPException(403, "This form is stale or did not come from this page; "
                                "reload the page and try again.")
        return form

    @staticmethod
    def _back(path: str, done: str = "", error: str = "") -> RedirectResponse:
        query = f"?done={quote(done)}" if done else f"?error={quote(error)}" if error else ""
        return RedirectResponse(path + query, status_code=303)

    async def _act(self, request: Request, path: str,
                   work: Callable[[Ctx, FormData], str]) -> Response:
        form = await self._form(request)
        try:
            done = await self._run(lambda ctx: work(ctx, form))
        except MaildError as exc:
            return self._back(path, error=exc.message.splitlines()[0])
        self._changed()
        return self._back(path, done=done)

    def _changed(self) -> None:
        """The store changed: the daemon looks now (an approval goes out without waiting
        for its next timer), through the same pipe as the CLI's, also from within it."""
        wake_daemon(self.site.home)

    # -- login ------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        redeemed = await run_in_threadpool(self.site.access.redeem, token)
        if not redeemed:
            return refusal(403, "This link was used already or has expired",
                           "Each link of `maild ui` opens the page once, within 10 minutes. "
                           "Run `maild ui` again.")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, self.site.access.new_session(),
                            max_age=int(SESSION_SECONDS), httponly=True, samesite="strict",
                            path="/")
        return response

    # -- Today ------------------------------------------------------------------------

    async def today(self, request: Request) -> Response:
        show_all = request.query_params.get("all") == "1"

        def build(ctx: Ctx) -> dict[str, Any]:
            today = build_today(ctx.store, ctx.now, rules_for(ctx.config),
                                ctx.config.identity.timezone, ctx.health())
            shown = today.upcoming if show_all else today.upcoming[:UPCOMING_SHOWN]
            return {"t": today, "upcoming": shown, "more": len(today.upcoming) - len(shown),
                    "me": ctx.config.identity.name, "title": "Today"}
        return await self._page(request, "today.html", build)

    # -- drafts -----------------------------------------------------------------------

    async def draft(self, request: Request) -> Response:
        draft_id = int(request.path_params["draft_id"])

        def build(ctx: Ctx) -> dict[str, Any]:
            row = views.draft_row(ctx.store, draft_id)
            d = row.draft
            waiting = {w.id: w for w in waiting_drafts(ctx.store, ctx.now, ZoneInfo(
                ctx.config.identity.timezone))}
            needs = review.user_fields_missing(d)
            problems = [m for m in d.spec.missing_fields if not m.startswith("user.")]
            message, unsendable = None, None
            try:
                message = message_of(d, ctx.now)
            except MaildError as exc:
                unsendable = exc.message
            headers = []
            attachments = []
            body = d.spec.body
            if message is not None:
                headers = [(k, str(v)) for k, v in message.items()
                           if k.lower() not in ("mime-version", "content-type",
                                                "content-transfer-encoding", "date")]
                for part in message.iter_attachments():
                    payload = part.get_payload(decode=True)
                    attachments.append((part.get_filename() or "attachment",
                                        part.get_content_type(),
                                        len(payload) if isinstance(payload, bytes) else 0))
            return {"row": row, "d": d, "w": waiting.get(d.id), "needs": [
                (n, describe_user_field(n), dict(d.spec.fields).get(n, "")) for n in needs],
                "problems": problems, "headers": headers, "body": body,
                "attachments": attachments, "unsendable": unsendable,
                "to_text": ", ".join(f"{n} <{a}>" if n else a for a, n in d.spec.to_addrs),
                "tomorrow": (ctx.now.astimezone(ctx.tz) + timedelta(days=1)).date(),
                "daemon": running_pid(self.site.home) is not None,
                "title": f"Draft {d.id}"}
        return await self._page(request, "draft.html", build)

    async def draft_action(self, request: Request) -> Response:
        draft_id = int(request.path_params["draft_id"])
        action = str(request.path_params["action"])
        path = f"/drafts/{draft_id}"

        def work(ctx: Ctx, form: FormData) -> str:
            fields = {k[6:]: str(v) for k, v in form.multi_items()
                      if k.startswith("field.") and isinstance(v, str)}
            edit = _edit(form) if form.get("subject") is not None else None
            if action == "save":
                draft = review.revise(ctx.store, ctx.tracker, draft_id, ctx.now, fields, edit)
                left = review.user_fields_missing(draft)
                return "Saved." + (f" Still needed: {', '.join(left)}." if left else
                                   " It is complete: approve it when you are ready.")
            if action == "approve":
                final = review.approve(ctx.store, ctx.tracker, draft_id, ctx.now, fields, edit)
                when = "now" if running_pid(self.site.home) else "once the daemon runs " \
                    "(`maild run` or `maild service install`)"
                return f"Approved: {final.spec.subject}. maild sends it in the mentor's " \
                       f"next sending window, {when}."
            if action == "reject":
                lifecycle.reject(ctx.store, ctx.tracker, draft_id, ctx.now)
                return "Rejected: nothing will be sent, and its step is called off."
            if action == "snooze":
                until = _snooze_until(str(form.get("until", "")), ctx.now, ctx.tz)
                lifecycle.snooze(ctx.store, draft_id, until, ctx.now)
                return f"Snoozed until {_local(ctx.tz)(until)}."
            raise UsageError(f"unknown action {action!r}")
        return await self._act(request, path, work)

    # -- asks -------------------------------------------------------------------------

    async def ask_reviewed(self, request: Request) -> Response:
        ask_id = int(request.path_params["ask_id"])

        def work(ctx: Ctx, _form: FormData) -> str:
            review.mark_reviewed(ctx.store, ask_id, ctx.now)
            return f"Ask {ask_id}: review done."
        return await self._act(request, "/", work)

    # -- mentors ----------------------------------------------------------------------

    async def mentors(self, request: Request) -> Response:
        def build(ctx: Ctx) -> dict[str, Any]:
            return {"mentors": ctx.store.read.mentors.all(),
                    "activity": views.mentor_activity(ctx.store), "blank": MentorInput(""),
                    "dates": DATE_EXAMPLES, "title": "Mentors"}
        return await self._page(request, "mentors.html", build)

    async def mentor_add(self, request: Request) -> Response:
        def work(ctx: Ctx, form: FormData) -> str:
            entry = _mentor_from(form, MentorInput(""))
            [mentor_id] = mentors_repo.add_mentors(ctx.store, [entry], ctx.now)
            return f"Added {entry.name} (mentor {mentor_id})."
        return await self._act(request, "/mentors", work)

    async def mentor(self, request: Request) -> Response:
        mentor_id = int(request.path_params["mentor_id"])

        def build(ctx: Ctx) -> dict[str, Any]:
            line = build_timeline(ctx.store, mentor_id, rules_for(ctx.config))
            return {"tl": line, "drafts": views.drafts_of_mentor(ctx.store, mentor_id),
                    "title": line.mentor.name}
        return await self._page(request, "mentor.html", build)

    async def mentor_edit_form(self, request: Request) -> Response:
        mentor_id = int(request.path_params["mentor_id"])

        def build(ctx: Ctx) -> dict[str, Any]:
            record = ctx.store.read.mentors.get(mentor_id)
            return {"m": record, "e": record.entry, "dates": DATE_EXAMPLES,
                    "title": f"Edit {record.name}"}
        return await self._page(request, "mentor_edit.html", build)

    async def mentor_edit(self, request: Request) -> Response:
        mentor_id = int(request.path_params["mentor_id"])
        form = await self._form(request)

        def work(ctx: Ctx) -> str:
            record = ctx.store.read.mentors.get(mentor_id)
            entry = _mentor_from(form, record.entry)
            # Only what the user changed in the form: the daemon may have moved the
            # outreach status while the form was open.
            changes = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)
                       if f.name != "line"
                       and getattr(entry, f.name) != getattr(record.entry, f.name)}
            if changes:
                mentors_repo.update_mentor(ctx.store, mentor_id, changes, ctx.now)
            return f"Saved {entry.name}." if changes else "Nothing changed."
        try:
            done = await self._run(work)
        except MaildError as exc:
            return self._back(f"/mentors/{mentor_id}/edit", error=exc.message.splitlines()[0])
        self._changed()
        return self._back(f"/mentors/{mentor_id}", done=done)

    async def mentor_import(self, request: Request) -> Response:
        form = await self._form(request)
        text = await _csv_text(form)
        confirm = form.get("confirm") == "1"

        def work(ctx: Ctx) -> tuple[ImportPlan, str, tzinfo]:
            rows = parse_csv(text, "the CSV")
            plan = plan_import(ctx.store, rows)
            if confirm and not plan.problems:
                added, updated = apply_import(ctx.store, plan, ctx.now)
                return plan, f"Imported: {added} added, {updated} updated.", ctx.tz
            return plan, "", ctx.tz
        try:
            plan, done, tz = await self._run(work)
        except MaildError as exc:
            return self._back("/mentors", error=exc.message.splitlines()[0])
        if done:
            self._changed()
            return self._back("/mentors", done=done)
        return self._render(request, "import.html", {"plan": plan, "text": text,
                                                     "title": "Import preview"}, tz)

    async def ask(self, request: Request) -> Response:
        ask_id = int(request.path_params["ask_id"])
        found = await self._run(lambda ctx: views.ask_row(ctx.store, ask_id))
        if found is None:
            return refusal(404, "maild", f"no ask {ask_id}")
        return RedirectResponse(f"/mentors/{found.mentor_id}#ask-{ask_id}", status_code=303)

    # -- applications and the calendar --------------------------------------------------

    async def applications(self, request: Request) -> Response:
        def build(ctx: Ctx) -> dict[str, Any]:
            tz = ZoneInfo(ctx.config.identity.timezone)
            today = ctx.now.astimezone(tz).date()
            apps = applications(ctx.store, ctx.now, rules_for(ctx.config), tz)
            return {"apps": [(a, timeline_svg(a, today)) for a in apps], "today": today,
                    "title": "Applications"}
        return await self._page(request, "applications.html", build)

    async def calendar(self, request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}/"

        def build(ctx: Ctx) -> bytes:
            return build_calendar(ctx.store, ctx.now, ctx.config.identity.timezone, base)
        try:
            body = await self._run(build)
        except MaildError as exc:
            return refusal(400, "maild", exc.message)
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="maild.ics"'})


def _edit(form: FormData) -> review.Edit:
    """The edited subject, recipients and body from the draft form, validated."""
    subject = str(form.get("subject", "")).strip()
    body = str(form.get("body", "")).replace("\r\n", "\n")
    to_text = str(form.get("to", ""))
    if not subject:
        raise UsageError("the subject is empty")
    if "\n" in subject or "\r" in subject:
        raise UsageError("the subject must be one line")
    to = tuple((check_address("To", a.lower()), n) for n, a in getaddresses([to_text]) if a)
    if not to:
        raise UsageError("the To field has no valid address")
    if not body.strip():
        raise UsageError("the body is empty")
    return review.Edit(subject=subject, body=body.rstrip("\n") + "\n", to=to)


def _snooze_until(text: str, now: datetime, tz: tzinfo) -> datetime:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    if day <= now.astimezone(tz).date():
        raise UsageError("snooze until a day after today")
    if day > now.astimezone(tz).date() + timedelta(days=366):
        raise UsageError("snooze for at most a year")
    return datetime.combine(day, time(8, 0), tzinfo=tz)


def _mentor_from(form: FormData, base: MentorInput) -> MentorInput:
    """A mentor entry from the add/edit form, validated like the CLI's."""
    def text(name: str) -> str:
        value = form.get(name)
        return str(value).strip() if isinstance(value, str) else ""

    changes: dict[str, Any] = {k: text(k) for k in MENTOR_TEXT_FIELDS}
    changes["name"] = text("name")
    changes["emails"] = split_addresses(text("emails"))
    changes["assistant_emails"] = split_addresses(text("assistant_emails"))
    changes["timezone"] = text("timezone") or None
    changes["outreach_status"] = changes["outreach_status"] or "not contacted"
    rank = text("rank")
    if rank and not rank.isdigit():
        raise UsageError(f"rank {rank!r} is not a whole number")
    changes["rank"] = int(rank) if rank else None
    pub = text("last_publication")
    if pub:
        found = read_date(pub)
        if found is None:
            raise UsageError(f"last publication: {pub!r} is not a date (e.g. {DATE_EXAMPLES})")
        pub = found
    changes["last_publication"] = pub
    entry = dataclasses.replace(base, **changes)
    problems = validate(entry)
    if problems:
        raise UsageError("; ".join(problems))
    return entry


async def _csv_text(form: FormData) -> str:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            raise HTTPException(413, "the CSV file is larger than 2 MB")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")
    pasted = form.get("text")
    return str(pasted) if isinstance(pasted, str) else ""


def timeline_svg(app: ApplicationView, today: date) -> dict[str, Any]:
    """Positions on a 1000-wide axis: the −14/−5/−2 marks, today, the deadline, and each
    writer's row with the state of their reminders at those marks."""
    if app.deadline is None:
        return {}
    start = min(today, app.deadline - timedelta(days=21))
    end = max(app.deadline + timedelta(days=2), today + timedelta(days=1))
    span = max(1, (end - start).days)

    def x(day: date) -> int:
        return 220 + int(740 * (day - start).days / span)
    marks = [(f"−{days}", x(app.deadline - timedelta(days=days)))
             for _name, days in LETTER_MARKS]
    rows = [(w, 44 + 22 * i, [(x(m.due), m.status) for m in w.marks])
            for i, w in enumerate(app.writers)]
    return {"marks": marks, "deadline": x(app.deadline), "today": x(today), "rows": rows,
            "height": 56 + 22 * max(1, len(app.writers))}


def create_app(site: Site) -> ASGIApp:
    pages = Pages(site)
    routes = [
        Route("/login", pages.login, methods=["GET"]),
        Route("/", pages.today, methods=["GET"]),
        Route("/drafts/{draft_id:int}", pages.draft, methods=["GET"]),
        Route("/drafts/{draft_id:int}/{action:str}", pages.draft_action, methods=["POST"]),
        Route("/mentors", pages.mentors, methods=["GET"]),
        Route("/mentors", pages.mentor_add, methods=["POST"]),
        Route("/mentors/import", pages.mentor_import, methods=["POST"]),
        Route("/mentors/{mentor_id:int}", pages.mentor, methods=["GET"]),
        Route("/mentors/{mentor_id:int}/edit", pages.mentor_edit_form, methods=["GET"]),
        Route("/mentors/{mentor_id:int}/edit", pages.mentor_edit, methods=["POST"]),
        Route("/asks/{ask_id:int}", pages.ask, methods=["GET"]),
        Route("/asks/{ask_id:int}/reviewed", pages.ask_reviewed, methods=["POST"]),
        Route("/applications", pages.applications, methods=["GET"]),
        Route("/calendar.ics", pages.calendar, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=WEB / "static"), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return refusal(exc.status_code, "maild", str(exc.detail))

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return Guard(app, site.access)
