"""Email templates: finding them, rendering them safely, and checking them.

This module owns the template file format, the context model templates see, and the
rules that keep a rendered email safe to put in front of a professor:

* Templates are ``NAME.j2`` files. The user's override directory (``<home>/templates``)
  is searched first, then the defaults shipped in the ``maild/templates`` package data.
  Names starting with ``_`` are partials (e.g. ``_signature.j2``) used with
  ``{% include %}``; they are not emails themselves.
* An email template is a header, a blank line, then the body. The header holds exactly
  one ``Subject: ...`` line and may hold comment lines starting with ``#``. Subject and
  body are both Jinja2 text, rendered in a ``SandboxedEnvironment`` (templates can be
  written by anyone who can write to the user's config directory, so they must not
  reach Python internals).
* A field that is missing, ``None``, blank or an empty list is an error naming the field
  (``missing field mentor.connection_point``), never an empty spot in an email.
* A rendered subject with a line break or other control character is rejected, since it
  would end up in a header.
* Fields the user types at approval time live under ``user.*``;
  :meth:`TemplateSet.user_fields` lists which ones a template needs.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from maild import paths
from maild.core import wording
from maild.errors import MaildError, UsageError

log = logging.getLogger(__name__)

#: The templates the engine renders. Every one has a default in the package.
TEMPLATE_NAMES: tuple[str, ...] = (
    "cold_initial",
    "cold_nudge",
    "cold_final_nudge",
    "warm_initial",
    "warm_nudge",
    "letter_request",
    "letter_packet",
    "letter_reminder",
    "letter_final_reminder",
    "letter_thanks",
    "hesitant_clarify",
    "decline_thanks",
    "meeting_summary",
    "meeting_followup",
    "update_note",
    "outcome_thanks",
)

#: What to ask the user for each ``user.*`` field the defaults use. Fields a user's own
#: template invents get a prompt derived from their name (see :func:`describe_user_field`).
USER_FIELD_PROMPTS: Mapping[str, str] = {
    "paper_question": "Your genuine question about their paper (a full sentence)",
    "introduced_by": "Who introduced you, as you would name them (e.g. Dr. Priya Patel)",
    "work_together": "What you worked on together (e.g. the sepsis readmissions project)",
    "summary": "A short summary of the meeting (a few lines)",
    "next_step": "The next step you agreed on (a full sentence)",
    "follow_up_line": "One line on where things stand since the meeting",
    "update_line": "Your one-line update (a full sentence)",
    "outcome": "The result, as you would tell them (e.g. I matched at Lakeside University)",
    "work_summary": "A short summary of your work together, for the letter (a few lines)",
    "talking_points": "Talking points for the letter: what you would like it to mention",
}

TemplateSource = Literal["default", "override"]

_NAME_RE = re.compile(r"^_?[a-z][a-z0-9_]*$")
_SUBJECT_RE = re.compile(r"^subject:[ \t]?(.*)$", re.IGNORECASE)
_RE_PREFIX_RE = re.compile(r"^(?:re:\s*)+", re.IGNORECASE)
_PARTS = ("subject", "body")
_SUFFIX = ".j2"
_NO_SUCH = "no such template; `maild template list` shows them"


class TemplateError(MaildError):
    """A template cannot be found, parsed or rendered; names the template, file and line."""

    exit_code = 2

    def __init__(
        self, template: str, problem: str, file: str | None = None, line: int | None = None
    ) -> None:
        where = _location(file, line)
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{problem} (template {template})")
        self.template = template
        self.problem = problem
        self.file = file
        self.line = line


def _location(file: str | None, line: int | None) -> str:
    if file is None:
        return ""
    return f"{file}:{line}" if line is not None else file


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a template, as ``maild template check`` reports it."""

    template: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = _location(self.file, self.line)
        return f"{where}: {self.message}" if where else f"{self.template}: {self.message}"


@dataclass(frozen=True)
class RenderedEmail:
    """The result of rendering: a one-line subject and a body ending in one newline."""

    subject: str
    body: str


@dataclass(frozen=True)
class TemplateInfo:
    """Where the effective version of a template comes from."""

    name: str
    source: TemplateSource
    path: str


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Identity:
    """The user (``me.*``): who signs the email."""

    name: str
    email: str = ""
    role: str = ""  # e.g. "third-year medical student", "PGY-2 internal medicine resident"
    institution: str = ""


@dataclass(frozen=True)
class MentorFields:
    """The mentor (``mentor.*``), from the hit list."""

    name: str
    salutation: str = ""  # how the email greets them, e.g. "Dr. Rivera"
    title: str = ""  # as on the hit list, e.g. "Dr." or "Prof."
    last_name: str = ""
    institution: str = ""
    department: str = ""
    specialty: str = ""  # e.g. "cardiology"; used as "... in cardiology research"
    # What the user read of theirs, as a noun phrase without "your", e.g.
    # "2024 JAMA Cardiology paper on home blood pressure monitoring".
    connection_point: str = ""
    email: str = ""


@dataclass(frozen=True)
class ThreadFields:
    """The ask's thread (``thread.*``); ``subject`` is the original subject, ``replied``
    whether the mentor ever answered in it (a follow-up then must not read as if they
    had not)."""

    subject: str = ""
    replied: bool = False


@dataclass(frozen=True)
class ApplicationFields:
    """The application a letter is for (``application.*``)."""

    name: str  # e.g. "ERAS 2027 Internal Medicine"
    deadline: date | None = None  # the letter deadline
    programs: tuple[str, ...] = ()
    instructions: str = ""  # how the letter is submitted
    system: str = ""  # e.g. "ERAS"


@dataclass(frozen=True)
class AttachmentFields:
    """One attached file (``attachments[*]``): what it is and its file name."""

    label: str  # e.g. "CV", "Personal statement (draft)"
    filename: str

    @classmethod
    def from_path(cls, label: str, path: Path) -> AttachmentFields:
        return cls(label=label, filename=path.name)


@dataclass(frozen=True)
class TemplateContext:
    """Everything a template may use.

    Names seen by templates: ``me``, ``mentor``, ``thread``, ``application``,
    ``attachments`` and ``user`` (the fields the user supplies at approval time).
    """

    me: Identity
    mentor: MentorFields
    thread: ThreadFields = ThreadFields()
    application: ApplicationFields | None = None
    attachments: tuple[AttachmentFields, ...] = ()
    user: Mapping[str, str] = field(default_factory=dict)

    def with_user(self, **fields: str) -> TemplateContext:
        """A copy with more user-supplied fields (later values win)."""
        return dataclasses.replace(self, user={**self.user, **fields})

    def namespace(self) -> dict[str, Any]:
        """The variables the template sees; blank values are left out so they are missing."""
        ns: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = _expose(f.name, getattr(self, f.name))
            if value is not None:
                ns[f.name] = value
        # An empty group still names the missing field ("user.outcome", not "user").
        ns.setdefault("thread", _Fields("thread", {}))
        ns.setdefault("user", _Fields("user", {}))
        return ns


class _Fields:
    """A read-only group of fields as templates see it.

    Unlike a dict it has no public methods that could shadow a field (``items``, ``get``),
    and it remembers its path so a missing field is reported as ``mentor.x``.
    """

    __slots__ = ("_path", "_values")

    def __init__(self, path: str, values: Mapping[str, Any]) -> None:
        self._path = path
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __repr__(self) -> str:
        return f"<fields {self._path}>"


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, tuple | list | Mapping):
        return len(value) == 0
    return False


def _expose(path: str, value: object) -> Any:
    """Convert context values into what templates see; ``None`` means "leave it out"."""
    if _is_blank(value):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _fields_of(path, items)
    if isinstance(value, Mapping):
        return _fields_of(path, value)
    if isinstance(value, tuple | list):
        return tuple(_expose(f"{path}[{i}]", v) for i, v in enumerate(value) if not _is_blank(v))
    return value


def _fields_of(path: str, items: Mapping[str, Any]) -> _Fields:
    exposed = {}
    for key, val in items.items():
        converted = _expose(f"{path}.{key}", val)
        if converted is not None:
            exposed[key] = converted
    return _Fields(path, exposed)


# --------------------------------------------------------------------- the environment


class _MissingField(jinja2.StrictUndefined):
    """StrictUndefined whose message names the field as the template wrote it."""

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        obj = self._undefined_obj
        if obj is missing:
            return f"missing field {name}"
        if isinstance(obj, _Fields):
            return f"missing field {obj._path}.{name}"
        return f"{type(obj).__name__} value has no field {name!r}"


def _finalize(value: object) -> object:
    # Runs on every {{ ... }} output: dates read as people write them, and a whole group
    # of fields (e.g. {{ mentor }}) must never print as a Python repr in an email.
    if isinstance(value, _Fields):
        raise jinja2.TemplateRuntimeError(
            f"{value._path} is a group of fields; use one of them, e.g. {value._path}.name"
        )
    if value is None:
        raise jinja2.TemplateRuntimeError("an expression rendered as nothing (None)")
    if isinstance(value, date):
        return longdate(value)
    return value


def longdate(value: date) -> str:
    """``Friday, September 25``: how a deadline reads in a short email."""
    return f"{value:%A}, {value:%B} {value.day}"


def ucfirst(value: str) -> str:
    """Upper-case only the first letter (Jinja's ``capitalize`` would turn PGY into Pgy)."""
    return value[:1].upper() + value[1:]


# Letters whose spoken name starts with a vowel sound ("an MS3", "an ICU nurse").
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")
_CONSONANT_SOUND_PREFIXES = ("uni", "use", "usu", "uro", "eu", "one", "once")


def with_article(value: str) -> str:
    """Prefix "a" or "an": ``internal medicine resident`` -> ``an internal medicine resident``."""
    word = value.split(maxsplit=1)[0] if value.strip() else ""
    letters = re.sub(r"[^A-Za-z].*$", "", word)
    if len(letters) >= 2 and letters.isupper():
        # An acronym is read letter by letter.
        article = "an" if letters[0] in _VOWEL_SOUND_LETTERS else "a"
    elif word.lower().startswith(_CONSONANT_SOUND_PREFIXES):
        article = "a"
    else:
        article = "an" if word[:1].lower() in "aeiou" else "a"
    return f"{article} {value}"


def join_and(values: Iterable[str]) -> str:
    """``A``, ``A and B``, ``A, B, and C``."""
    items = [str(v) for v in values]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _split(text: str, file: str, template: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """Split an email template into (subject source, line) and (body source, first line)."""
    lines = text.split("\n")
    subject: tuple[str, int] | None = None
    for index, line in enumerate(lines):
        lineno = index + 1
        if not line.strip():
            break
        if line.lstrip().startswith("#"):
            continue
        match = _SUBJECT_RE.match(line)
        if match is None:
            raise TemplateError(
                template,
                "expected 'Subject: ...' or a '#' comment here; a blank line must separate "
                "the subject from the body",
                file,
                lineno,
            )
        if subject is not None:
            raise TemplateError(template, "a second Subject: line", file, lineno)
        subject = (match.group(1), lineno)
    else:
        raise TemplateError(template, "no blank line and no body after the subject", file, 1)
    if subject is None:
        raise TemplateError(template, "no 'Subject: ...' line before the blank line", file, 1)
    body_start = index + 2
    body = "\n".join(lines[index + 1 :])
    if not body.strip():
        # Reported at the blank separator line: it exists in every such file.
        raise TemplateError(template, "the body is empty", file, index + 1)
    return subject, (body, body_start)


class _Loader(jinja2.BaseLoader):
    """Finds ``NAME.j2`` in the override directory, then the package defaults.

    ``NAME.j2#subject`` and ``NAME.j2#body`` load one part of an email template, padded
    with newlines so Jinja's line numbers are those of the file.
    """

    def __init__(self, override_dir: Path | None) -> None:
        self.override_dir = override_dir
        self.default_dir: Traversable = resources.files("maild").joinpath("templates")

    def locate(self, filename: str) -> tuple[Traversable, TemplateSource] | None:
        if self.override_dir is not None:
            candidate = self.override_dir / filename
            if candidate.is_file():
                return candidate, "override"
        default = self.default_dir.joinpath(filename)
        if default.is_file():
            return default, "default"
        return None

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        filename, _, part = template.partition("#")
        name = filename.removesuffix(_SUFFIX)
        # Template names come from users (CLI, {% include %}); only plain names may reach
        # the file system, never paths.
        if not filename.endswith(_SUFFIX) or not _NAME_RE.match(name) or part not in ("", *_PARTS):
            raise jinja2.TemplateNotFound(template)
        found = self.locate(filename)
        if found is None:
            raise jinja2.TemplateNotFound(filename)
        where, _origin = found
        text = _read(where, name)
        path = str(where)
        if part:
            subject, body = _split(text, path, name)
            source, first_line = subject if part == "subject" else body
            text = "\n" * (first_line - 1) + source
        return text, path, self._uptodate(filename, where)

    def _uptodate(self, filename: str, where: Traversable) -> Callable[[], bool]:
        # A long-running daemon must see edits, and a newly created override must replace
        # a cached default.
        def stamp() -> tuple[bool, int | None]:
            override = self.override_dir / filename if self.override_dir else None
            has_override = override is not None and override.is_file()
            mtime = where.stat().st_mtime_ns if isinstance(where, Path) else None
            return has_override, mtime

        try:
            before = stamp()
        except OSError:
            return lambda: False

        def uptodate() -> bool:
            try:
                return stamp() == before
            except OSError:
                return False

        return uptodate


def _read(where: Traversable, name: str) -> str:
    try:
        text = where.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(name, f"not UTF-8 text ({exc.reason})", str(where)) from None
    except OSError as exc:
        raise TemplateError(name, f"cannot read: {exc.strerror}", str(where)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _environment(loader: _Loader) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=loader,
        undefined=_MissingField,
        finalize=_finalize,
        autoescape=False,  # plain-text email, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        longdate=longdate, ucfirst=ucfirst, with_article=with_article, join_and=join_and,
        with_the=wording.with_the, sentence=wording.sentence, question=wording.question,
    )
    return env


def _syntax_error(name: str, exc: jinja2.TemplateSyntaxError) -> TemplateError:
    return TemplateError(name, exc.message or "syntax error", exc.filename, exc.lineno)


def _not_found(name: str, exc: jinja2.TemplateNotFound) -> TemplateError:
    file, line = _template_frame(exc)
    return TemplateError(name, f"included template {exc.name!r} not found", file, line)


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in a Jinja-rewritten traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(_SUFFIX):
            return frame.filename, frame.lineno
    return None, None


def _check_subject(subject: str, name: str, file: str | None, line: int | None) -> str:
    for char in subject:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            kind = "a line break" if char in "\r\n\u2028\u2029" else f"control character {char!r}"
            raise TemplateError(
                name, f"the rendered subject contains {kind}; a subject is one line", file, line
            )
    subject = subject.strip()
    if not subject:
        raise TemplateError(name, "the rendered subject is empty", file, line)
    # "Re: " + a subject that already starts with "Re:" must not become "Re: Re:".
    return _RE_PREFIX_RE.sub("Re: ", subject)


def normalize_name(name: str) -> str:
    """Accept ``cold_initial`` or ``cold_initial.j2``; reject anything that is not a name."""
    bare = name.removesuffix(_SUFFIX)
    if not _NAME_RE.match(bare):
        raise UsageError(
            f"{name!r} is not a template name (lower-case letters, digits and _, "
            "e.g. cold_initial)"
        )
    return bare


# ---------------------------------------------------------------------------- the set


class TemplateSet:
    """The templates of one maild home: overrides in ``override_dir``, then defaults."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self.override_dir = override_dir
        self._loader = _Loader(override_dir)
        self._env = _environment(self._loader)
        # Parsed trees by template name, with the source they came from: every draft
        # made asks which fields and variables its template uses, and parsing was most
        # of the cost of making one. A template the user edits is parsed again.
        self._trees: dict[str, tuple[str, nodes.Template]] = {}

    @classmethod
    def for_home(cls, home: Path) -> TemplateSet:
        return cls(override_dir(home))

    # ---- discovery

    def _files(self) -> Iterator[tuple[str, Traversable]]:
        yield from ((e.name, e) for e in self._loader.default_dir.iterdir())
        if self.override_dir is not None and self.override_dir.is_dir():
            yield from ((p.name, p) for p in self.override_dir.iterdir())

    def names(self, *, partials: bool = False) -> list[str]:
        """Email templates (defaults and user-added ones), sorted; with partials if asked."""
        found: set[str] = set()
        for filename, entry in self._files():
            name = filename.removesuffix(_SUFFIX)
            if not filename.endswith(_SUFFIX) or not _NAME_RE.match(name) or not entry.is_file():
                continue
            if name.startswith("_") and not partials:
                continue
            found.add(name)
        known = [n for n in TEMPLATE_NAMES if n in found]
        return known + sorted(found - set(TEMPLATE_NAMES))

    def info(self, name: str) -> TemplateInfo:
        name = normalize_name(name)
        found = self._loader.locate(name + _SUFFIX)
        if found is None:
            raise TemplateError(name, _NO_SUCH)
        where, origin = found
        return TemplateInfo(name=name, source=origin, path=str(where))

    def source(self, name: str) -> str:
        """The text of the effective template file."""
        info = self.info(name)
        found = self._loader.locate(info.name + _SUFFIX)
        assert found is not None  # info() just found it
        return _read(found[0], info.name)

    def default_source(self, name: str) -> str | None:
        name = normalize_name(name)
        default = self._loader.default_dir.joinpath(name + _SUFFIX)
        return _read(default, name) if default.is_file() else None

    # ---- rendering

    def _get(self, name: str, part: str) -> jinja2.Template:
        try:
            return self._env.get_template(f"{name}{_SUFFIX}#{part}")
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(name, exc) from None
        except jinja2.TemplateNotFound as exc:
            if exc.name and exc.name.startswith(name + _SUFFIX):
                raise TemplateError(name, _NO_SUCH) from None
            raise _not_found(name, exc) from None

    def _render_part(self, name: str, part: str, ns: Mapping[str, Any]) -> tuple[str, str | None]:
        template = self._get(name, part)
        try:
            return template.render(ns), template.filename
        except TemplateError:
            raise
        except jinja2.TemplateSyntaxError as exc:  # in an included partial
            raise _syntax_error(name, exc) from None
        except jinja2.TemplateNotFound as exc:
            raise _not_found(name, exc) from None
        except Exception as exc:
            # User-written templates can fail in any way a filter or operator can; each
            # must become a reportable problem rather than a crash of the daemon.
            file, line = _template_frame(exc)
            message = str(exc) if isinstance(exc, jinja2.TemplateError) else repr(exc)
            raise TemplateError(name, message, file or template.filename, line) from None

    def render(self, name: str, context: TemplateContext) -> RenderedEmail:
        """Render one email; any problem raises :class:`TemplateError`."""
        name = normalize_name(name)
        if name.startswith("_"):
            raise TemplateError(name, "a partial (for {% include %}), not an email")
        ns = context.namespace()
        raw_subject, file = self._render_part(name, "subject", ns)
        # Drop the newlines that pad the subject to its line in the file (see _Loader).
        raw_subject = raw_subject.lstrip("\n")
        subject_line = self._subject_line(name)
        subject = _check_subject(raw_subject, name, file, subject_line)
        body, _ = self._render_part(name, "body", ns)
        body = body.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        if not body.strip():
            raise TemplateError(name, "the rendered body is empty", file)
        return RenderedEmail(subject=subject, body=body + "\n")

    def _subject_line(self, name: str) -> int | None:
        found = self._loader.locate(name + _SUFFIX)
        if found is None:
            return None
        (_, line), _ = _split(_read(found[0], name), str(found[0]), name)
        return line

    # ---- what a template reads

    def _tree(self, template_name: str) -> nodes.Template:
        source, file, _ = self._loader.get_source(self._env, template_name)
        known = self._trees.get(template_name)
        if known is not None and known[0] == source:
            return known[1]
        tree = self._env.parse(source, template_name, file)
        self._trees[template_name] = (source, tree)
        return tree

    def user_fields(self, name: str) -> tuple[str, ...]:
        """The ``user.*`` fields a template needs, in order of first use (partials included)."""
        name = normalize_name(name)
        ordered: dict[str, None] = {}
        seen: set[str] = set()

        def visit(template_name: str) -> None:
            if template_name in seen:
                return
            seen.add(template_name)
            try:
                tree = self._tree(template_name)
            except jinja2.TemplateSyntaxError as exc:
                raise _syntax_error(name, exc) from None
            except jinja2.TemplateNotFound as exc:
                raise TemplateError(name, f"included template {exc.name!r} not found") from None
            for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Include)):
                if isinstance(node, nodes.Include):
                    if isinstance(node.template, nodes.Const) and isinstance(
                        node.template.value, str
                    ):
                        visit(node.template.value)
                    continue
                if isinstance(node, nodes.Getattr) and _is_user(node.node):
                    ordered.setdefault(node.attr, None)
                elif (
                    isinstance(node, nodes.Getitem)
                    and _is_user(node.node)
                    and isinstance(node.arg, nodes.Const)
                    and isinstance(node.arg.value, str)
                ):
                    ordered.setdefault(node.arg.value, None)

        if name.startswith("_"):
            visit(name + _SUFFIX)
        else:
            for part in _PARTS:
                visit(f"{name}{_SUFFIX}#{part}")
        return tuple(ordered)

    def uses(self, name: str, variable: str) -> bool:
        """Whether the template (or a partial it includes) reads the top-level ``variable``
        (e.g. ``attachments``: a template that lists files promises to attach them)."""
        name = normalize_name(name)
        seen: set[str] = set()

        def visit(template_name: str) -> bool:
            if template_name in seen:
                return False
            seen.add(template_name)
            try:
                tree = self._tree(template_name)
            except jinja2.TemplateSyntaxError as exc:
                raise _syntax_error(name, exc) from None
            except jinja2.TemplateNotFound:
                return False
            for node in tree.find_all((nodes.Name, nodes.Include)):
                if isinstance(node, nodes.Include):
                    if isinstance(node.template, nodes.Const) and visit(str(node.template.value)):
                        return True
                elif isinstance(node, nodes.Name) and node.name == variable \
                        and node.ctx == "load":
                    return True
            return False

        return any(visit(f"{name}{_SUFFIX}#{part}") for part in _PARTS)

    # ---- checking

    def check(self, sample: TemplateContext | None = None) -> list[Problem]:
        """Render every template against ``sample`` and report every problem found."""
        base = sample if sample is not None else sample_context()
        problems: list[Problem] = []
        for name in self.names(partials=True):
            try:
                if name.startswith("_"):
                    # Partials are rendered through the emails that include them; here
                    # only their syntax is checked, so an unused broken one still shows.
                    self._env.get_template(name + _SUFFIX)
                    continue
                needed = self.user_fields(name)
                extra = {f: _SAMPLE_USER.get(f, f"[{f}]") for f in needed if f not in base.user}
                self.render(name, base.with_user(**extra))
            except TemplateError as exc:
                problems.append(Problem(name, exc.problem, exc.file, exc.line))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(Problem(name, exc.message or "syntax error", exc.filename,
                                        exc.lineno))
        problems.extend(self._misnamed_overrides())
        for missing_name in TEMPLATE_NAMES:
            if self._loader.locate(missing_name + _SUFFIX) is None:
                problems.append(Problem(missing_name, "no template (and no default) found"))
        # A broken partial breaks every email that includes it: report it once.
        unique: dict[tuple[str | None, int | None, str], Problem] = {}
        for problem in problems:
            key = (problem.file or problem.template, problem.line, problem.message)
            unique.setdefault(key, problem)
        return list(unique.values())

    def _misnamed_overrides(self) -> Iterator[Problem]:
        # An override named e.g. "Cold-Initial.j2" silently does nothing; say so.
        if self.override_dir is None or not self.override_dir.is_dir():
            return
        for path in sorted(self.override_dir.glob("*" + _SUFFIX)):
            if not _NAME_RE.match(path.name.removesuffix(_SUFFIX)):
                yield Problem(
                    path.stem,
                    "ignored: template names use lower-case letters, digits and _",
                    str(path),
                )

    # ---- overrides

    def ensure_override(self, name: str) -> Path:
        """The override file for ``name``, created from the default if it does not exist."""
        name = normalize_name(name)
        if self.override_dir is None:
            raise UsageError("no override directory configured")
        path = self.override_dir / (name + _SUFFIX)
        if path.exists():
            return path
        default = self.default_source(name)
        if default is None:
            raise TemplateError(name, _NO_SUCH)
        paths.private_dir(self.override_dir)
        paths.write_private(path, default)
        log.info("copied default template %s to %s", name, path)
        return path


def _is_user(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "user"


def override_dir(home: Path) -> Path:
    """Where the user's templates live for a maild home."""
    return paths.templates_dir(home)


def check_templates(home: Path) -> list[Problem]:
    """Render every template of ``home`` against the sample context; list the problems."""
    return TemplateSet.for_home(home).check()


def describe_user_field(name: str) -> str:
    """A prompt for a ``user.*`` field, for the approval step."""
    return USER_FIELD_PROMPTS.get(name, name.replace("_", " ").capitalize())


# ----------------------------------------------------------------------------- sample

_SAMPLE_USER: Mapping[str, str] = {
    "paper_question": (
        "Did the benefit of home monitoring hold for patients over 75, who were a small "
        "part of the cohort?"
    ),
    "introduced_by": "Dr. Priya Patel",
    "work_together": "the home blood pressure monitoring project last spring",
    "summary": (
        "- The retrospective cohort is feasible with the clinic registry.\n"
        "- I will start with the 2019-2023 data."
    ),
    "next_step": "I will send you a one-page project outline by Friday, March 6.",
    "follow_up_line": "I have finished the project outline and shared it in our team folder.",
    "update_line": "Our abstract was accepted as a poster at the spring research symposium.",
    "outcome": "I matched in Internal Medicine at Lakeside University Hospital!",
    "work_summary": (
        "Over eight months on the home blood pressure project I cleaned the registry data, "
        "ran the survival analysis and presented the poster at the spring symposium."
    ),
    "talking_points": (
        "- How I handled the missing-data problem on my own initiative.\n"
        "- My teaching of the two first-year students who joined in the spring."
    ),
}


def sample_context() -> TemplateContext:
    """A realistic context with every field filled, used by ``maild template check``."""
    return TemplateContext(
        me=Identity(
            name="Jordan Lee",
            email="jordan.lee@lakeside.edu",
            role="third-year medical student",
            institution="Lakeside University School of Medicine",
        ),
        mentor=MentorFields(
            name="Elena Rivera",
            salutation="Dr. Rivera",
            title="Dr.",
            last_name="Rivera",
            institution="Lakeside University Hospital",
            department="Department of Medicine",
            specialty="cardiology",
            connection_point="2024 JAMA Cardiology paper on home blood pressure monitoring",
            email="elena.rivera@lakeside.edu",
        ),
        thread=ThreadFields(
            subject="Letter of recommendation request: ERAS 2027 Internal Medicine"
        ),
        application=ApplicationFields(
            name="ERAS 2027 Internal Medicine",
            deadline=date(2026, 9, 25),
            programs=(
                "Lakeside University Hospital, Internal Medicine",
                "Northbrook Medical Center, Internal Medicine",
            ),
            instructions=(
                "ERAS will email you a link to the Letter of Recommendation Portal; "
                "the letter ID is 2027-123456."
            ),
            system="ERAS",
        ),
        attachments=(
            AttachmentFields("CV", "Jordan_Lee_CV.pdf"),
            AttachmentFields("Personal statement draft", "Jordan_Lee_personal_statement.pdf"),
            AttachmentFields("Summary of our work together", "work_summary.pdf"),
            AttachmentFields("Talking points", "talking_points.pdf"),
        ),
        user=dict(_SAMPLE_USER),
    )
