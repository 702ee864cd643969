"""Log output on stderr: journald priorities under systemd, timestamps elsewhere.

Secrets never reach a log record in the first place (errors name sources, not values);
this module only decides the format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

# syslog priorities, which journald reads from a "<N>" prefix on each line.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        # One journal entry per line: continuation lines keep the priority.
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def configure(verbosity: int, env: Mapping[str, str], daemon: bool = False) -> None:
    """Set up the root logger: WARNING for commands, INFO for the daemon, -v/-vv more."""
    base = logging.INFO if daemon else logging.WARNING
    level = max(logging.DEBUG, base - 10 * verbosity)
    handler = logging.StreamHandler(sys.stderr)
    if env.get("JOURNAL_STREAM") or env.get("INVOCATION_ID"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter (imapclient protocol lines, apscheduler job runs) only with -vv.
    for noisy in ("imapclient", "apscheduler", "aiosmtplib", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
