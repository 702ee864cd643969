"""``maild inspect FILE... [--json]``: show what maild understands of saved messages.

One file prints DESIGN.md's JSON object (``--json``) or a readable summary. Several
files print one JSON object per line (JSON Lines) with a ``"file"`` key, in order; a
file that cannot be inspected — not an email, unreadable, or one that trips a bug —
gets an ``"error"`` key on its own line and the rest still run (without ``--json``, a
``maild: error: ...`` line on stderr). A single bad file is a one-line error on stderr,
as for every command, and exit code 2. ``-`` reads stdin. No traceback reaches the
terminal: maild's and its libraries' details go to the log at debug level (-vv).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from maild.cli.terminal import for_terminal
from maild.errors import MessageParseError
from maild.understand.inspect import Inspection, inspect_message

log = logging.getLogger(__name__)

# Same bound as the parser: reading a 2 GB file to inspect its headers helps no one.
_MAX_READ = 64 * 1024 * 1024


def _error(exc: MessageParseError) -> None:
    click.echo(f"maild: error: {for_terminal(exc.message)}", err=True)


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(_MAX_READ)
    path = Path(name)
    try:
        with path.open("rb") as handle:
            return handle.read(_MAX_READ)
    except IsADirectoryError as exc:
        raise MessageParseError(f"{name}: is a directory") from exc
    except FileNotFoundError as exc:
        raise MessageParseError(f"{name}: no such file") from exc
    except OSError as exc:
        raise MessageParseError(f"{name}: cannot read ({exc.strerror})") from exc


def _inspect_file(name: str) -> Inspection:
    raw = _read(name)
    try:
        return inspect_message(raw)
    except MessageParseError as exc:
        raise MessageParseError(f"{name}: {exc.message}") from exc
    except Exception as exc:  # inspect_message is not meant to raise; one file never
        # stops a batch, and the user gets a line, not a traceback.
        log.debug("inspecting %s failed", name, exc_info=True)
        raise MessageParseError(f"{name}: cannot inspect ({type(exc).__name__})") from exc


def _summary(result: Inspection) -> str:
    lines = [f"kind:        {result.kind} / {result.subkind}  ({result.kind_evidence})"]
    if result.intent is not None:
        sure = f"  (confidence {result.confidence:.2f})" if result.confidence is not None else ""
        review = "  - needs your review" if result.needs_review else ""
        lines.append(f"intent:      {result.intent}{sure}{review}")
    if result.kind in ("human", "notification"):
        because = result.evidence_sentences or ((result.evidence,) if result.evidence else ())
        for idx, sentence in enumerate(because[:4]):
            lines.append(("because:     " if idx == 0 else "             ") + sentence)
    for idx, question in enumerate(result.questions):
        lines.append(("asks:        " if idx == 0 else "             ") + question)
    if result.kind == "auto_reply":
        back = result.return_date.isoformat() if result.return_date else "not stated"
        lines.append(f"back on:     {back}")
    if result.bounce is not None:
        b = result.bounce
        lines.append(f"failed:      {', '.join(b.recipients) or '(recipient not stated)'}")
        lines.append(f"status:      {b.status or 'none given'}"
                     + ("  (delayed, still retrying)" if b.delayed else ""))
        lines.append("address:     " + ("INVALID - ask for a new address" if b.address_invalid
                                         else "looks valid (temporary or policy failure)"))
        if b.original_message_id:
            lines.append(f"original:    {b.original_message_id}")
    if result.reply_text:
        lines.append("reply text:")
        lines.extend("  " + line for line in result.reply_text.splitlines()[:40])
    return "\n".join(lines)


@click.command("inspect")
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (JSON Lines for several files).")
def inspect_command(files: tuple[str, ...], as_json: bool) -> None:
    """Show how maild classifies saved messages (FILE may be '-' for stdin)."""
    if len(files) == 1:
        try:
            result = _inspect_file(files[0])
        except MessageParseError as exc:
            _error(exc)
            sys.exit(exc.exit_code)
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            click.echo(for_terminal(_summary(result), multiline=True))
        return
    failed = False
    shown = 0
    for name in files:
        try:
            result = _inspect_file(name)
        except MessageParseError as exc:
            failed = True
            if as_json:
                click.echo(json.dumps({"file": name, "error": exc.message}, ensure_ascii=False))
            else:
                _error(exc)  # the message names the file
            continue
        if as_json:
            record: dict[str, object] = {"file": name, **result.to_json()}
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            if shown:
                click.echo("")
            click.echo(f"== {for_terminal(name)}\n"
                       + for_terminal(_summary(result), multiline=True))
            shown += 1
    if failed:
        # Every line was printed; the status still tells a script that some files failed.
        sys.exit(MessageParseError.exit_code)
