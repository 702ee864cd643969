"""A throwaway Dovecot IMAP server for tests and ``maild demo``.

Owns everything about running Dovecot unprivileged from a temporary directory: the
generated configuration, the process (started, stopped, restarted on the same port),
and direct access to the users' maildirs on disk. Direct access is what lets tests
model the cases a client cannot produce over IMAP: mail that arrives while the server
is down, and a server that renumbers a folder (a new UIDVALIDITY).

Any username logs in with the sandbox password, and each username gets its own empty
mailbox, so a test that wants a clean mailbox just uses a new name.

The OAuth2 variant (``oauth=TokenCheck(...)``) also accepts XOAUTH2 and OAUTHBEARER,
validating each token with Dovecot's own oauth2 passdb against an introspection
endpoint (RFC 7662), as a provider's IMAP server checks a bearer token; the password
logins stay as they are. Without ``oauth`` the configuration is exactly the plain one.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from imapclient import imap_utf7

from maild.sandbox.base import (
    LOOPBACK,
    ImapAccount,
    RunAs,
    SandboxError,
    SandboxServer,
    TokenCheck,
    free_port,
    stop_process_group,
    wait_for_greeting,
)

__all__ = ["DEFAULT_PASSWORD", "DovecotServer", "ImapAccount", "TokenCheck", "find_dovecot"]

logger = logging.getLogger(__name__)

DEFAULT_PASSWORD = "sandbox-password"

# Where Dovecot lives when it is not on PATH: Debian puts it in /usr/sbin, which is
# not on an unprivileged user's PATH; Homebrew uses /usr/local or /opt/homebrew.
_CANDIDATE_PATHS = (
    "/usr/sbin/dovecot",
    "/usr/local/sbin/dovecot",
    "/opt/homebrew/sbin/dovecot",
    "/usr/local/opt/dovecot/sbin/dovecot",
)

# When we are root, Dovecot must run as someone else (it refuses to run its login
# processes as root). These accounts exist wherever the dovecot package is installed
# (dovenull, dovecot) or on every Unix (nobody).
_UNPRIVILEGED_USERS = ("dovenull", "dovecot", "nobody")

# Dovecot's own default auth_username_chars, so a name we accept is one it accepts.
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]+$")

# Maildir "info" letters for the IMAP system flags (maildir spec, sorted when written).
_FLAG_LETTERS = {
    "\\draft": "D",
    "\\flagged": "F",
    "\\answered": "R",
    "\\seen": "S",
    "\\deleted": "T",
}

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_START_ATTEMPTS = 3


def find_dovecot() -> str | None:
    """Return the path of the dovecot binary, or None when it is not installed.

    ``MAILD_DOVECOT`` (an explicit path) wins over PATH and the usual locations.
    """
    explicit = os.environ.get("MAILD_DOVECOT")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in _CANDIDATE_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class DovecotServer(SandboxServer):
    """One Dovecot instance on 127.0.0.1, living in its own temporary directory.

    Use as a context manager (start on enter; stop and remove the directory on exit)
    or call ``start()`` / ``close()`` yourself. ``stop()`` keeps the directory, so the
    maildirs survive for ``deliver()`` and ``reset_uidvalidity()`` and a later
    ``start()`` serves them again on the same port.
    """

    def __init__(
        self,
        *,
        password: str = DEFAULT_PASSWORD,
        port: int | None = None,
        binary: str | None = None,
        base_dir: Path | None = None,
        keep: bool = False,
        oauth: TokenCheck | None = None,
    ) -> None:
        if not password or any(ch.isspace() for ch in password):
            # The password goes into the static passdb's args, which split on spaces.
            raise SandboxError("the sandbox password must be non-empty without whitespace")
        found = binary or find_dovecot()
        if found is None:
            raise SandboxError(
                "dovecot is not installed (Debian/Ubuntu: apt-get install dovecot-imapd; "
                "macOS: brew install dovecot)"
            )
        self.name = "dovecot"
        self.binary = found
        self.password = password
        self.oauth = oauth
        self.host = LOOPBACK
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.keep = keep or os.environ.get("MAILD_SANDBOX_KEEP") == "1"
        self.run_as = RunAs.choose(_UNPRIVILEGED_USERS, "Dovecot")
        self.base_dir = base_dir if base_dir is not None else self._make_base_dir()
        self._process: subprocess.Popen[bytes] | None = None
        self._deliveries = itertools.count()
        self.last_start_seconds: float | None = None
        for sub in ("run", "state", "home"):
            (self.base_dir / sub).mkdir(exist_ok=True)
        self._give_away(self.base_dir, recursive=True)

    def account(self, user: str) -> ImapAccount:
        """Login details for ``user`` (any valid name works: a fresh name, a fresh mailbox)."""
        return ImapAccount(self.host, self.port, _check_user(user), self.password)

    # -- paths ---------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.base_dir / "dovecot.conf"

    @property
    def oauth_config_path(self) -> Path:
        return self.base_dir / "dovecot-oauth2.conf.ext"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "dovecot.log"

    @property
    def stderr_path(self) -> Path:
        return self.base_dir / "dovecot.stderr"

    def home(self, user: str) -> Path:
        """The user's home directory (Dovecot lower-cases usernames at login)."""
        return self.base_dir / "home" / _check_user(user).lower()

    def maildir(self, user: str) -> Path:
        """The root of the user's maildir, which is also the INBOX folder."""
        return self.home(user) / "Maildir"

    def folder_path(self, user: str, folder: str) -> Path:
        """The maildir directory holding ``folder`` (Maildir++ layout, "/" separator)."""
        root = self.maildir(user)
        if folder.upper() == "INBOX":
            return root
        if not folder or folder.startswith("/") or ".." in folder:
            raise SandboxError(f"not a folder name the sandbox can map to disk: {folder!r}")
        # Maildir++ stores folder "a/b" as ".a.b", with names in modified UTF-7 as on
        # the wire.
        encoded: str = imap_utf7.encode(folder).decode("ascii")
        return root / ("." + encoded.replace("/", "."))

    # -- lifecycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Dovecot and return once it greets with ``* OK`` on its port."""
        if self.running:
            return
        started = time.monotonic()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except SandboxError:
                # free_port() can race with another process taking the port; only a
                # port we picked ourselves may be changed, and only for that reason.
                if (
                    attempt == _START_ATTEMPTS
                    or self._fixed_port
                    or "Address already in use" not in self.log_tail()
                ):
                    raise
                self.port = free_port()
        self.last_start_seconds = time.monotonic() - started
        logger.info(
            "dovecot sandbox listening on %s:%d (started in %.3f s, dir %s)",
            self.host,
            self.port,
            self.last_start_seconds,
            self.base_dir,
        )

    def _start_once(self) -> None:
        # A token in the greeting proves that what answers on the port is this very
        # start, not some other server that already held the port.
        token = uuid.uuid4().hex[:12]
        self.config_path.write_text(self._render_config(token), encoding="utf-8")
        self._give_away(self.config_path)
        if self.oauth is not None:
            self.oauth_config_path.write_text(self._render_oauth_config(self.oauth),
                                              encoding="utf-8")
            # It holds the introspection client's secret: readable by Dovecot alone.
            self.oauth_config_path.chmod(0o600)
            self._give_away(self.oauth_config_path)
        switch = self.run_as.needs_switch
        with open(self.stderr_path, "ab") as stderr:
            # -F keeps the master in the foreground, so this Popen *is* the master and
            # stop() can signal and reap it without going through master.pid.
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                cwd=self.base_dir,
                # Its own process group, so kill() can take the master and all its
                # children down at once, like a crash or power loss would.
                start_new_session=True,
                # Root drops to the sandbox account (no supplementary groups) here.
                user=self.run_as.uid if switch else None,
                group=self.run_as.gid if switch else None,
                extra_groups=[] if switch else None,
            )
        if wait_for_greeting(
            self.host,
            self.port,
            b"* OK",
            _START_TIMEOUT,
            alive=lambda: self.running,
            contains=token.encode(),
        ):
            return
        self._terminate()
        raise SandboxError(
            f"dovecot did not start on {self.host}:{self.port}; last lines of its logs:\n"
            + self.log_tail()
        )

    def stop(self) -> None:
        """Stop Dovecot (and every IMAP session it serves); the maildirs stay."""
        if self._process is None:
            return
        self._terminate()
        logger.info("dovecot sandbox on port %d stopped", self.port)

    def kill(self) -> None:
        """Kill Dovecot and all its processes at once, like a crash (no BYE is sent).

        Much faster than ``stop()`` (which takes about a second because the master
        waits for its children), and the maildirs stay just the same.
        """
        if self._process is None:
            return
        self._terminate(graceful=False)
        logger.info("dovecot sandbox on port %d killed", self.port)

    def _terminate(self, *, graceful: bool = True) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process_group(process, self.base_dir / "run" / "master.pid",
                           graceful=graceful, timeout=_STOP_TIMEOUT)

    def restart(self, *, graceful: bool = True) -> None:
        """Stop (or kill) and start again on the same port, serving the same maildirs."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory (unless ``keep`` was asked for)."""
        # kill, not stop: nothing is left to shut down gracefully for, and stop()
        # costs a second of the master waiting for its children.
        self.kill()
        if self.keep:
            logger.info("keeping dovecot sandbox directory %s", self.base_dir)
            return
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of Dovecot's log and of its stderr (start-up failures)."""
        parts: list[str] = []
        for path in (self.log_path, self.stderr_path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            tail = text.splitlines()[-lines:]
            if tail:
                parts.append(f"== {path.name} ==")
                parts.extend(tail)
        return "\n".join(parts) if parts else "(no log output)"

    # -- the maildirs on disk --------------------------------------------------------

    def deliver(
        self,
        user: str,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        received: float | None = None,
    ) -> Path:
        """Write a message straight into the user's maildir, like an MDA would.

        Works whether the server runs or not: a running Dovecot notices the new file
        (IDLE clients are told); a stopped one finds it at the next start. ``flags``
        are IMAP system flags such as ``\\Seen``; ``received`` (epoch seconds) sets
        the INTERNALDATE. Returns the path of the new file.
        """
        folder_dir = self._ensure_folder(user, folder)
        letters = "".join(sorted({_flag_letter(flag) for flag in flags}))
        unique = (
            f"{int(time.time())}.M{time.time_ns() // 1000 % 1_000_000}"
            f"P{os.getpid()}Q{next(self._deliveries)}.{socket.gethostname().replace('/', '_')}"
        )
        tmp = folder_dir / "tmp" / unique
        tmp.write_bytes(raw)
        if received is not None:
            os.utime(tmp, (received, received))
        self._give_away(tmp)
        # Maildir delivery is write-to-tmp then rename, so Dovecot never sees a
        # half-written file. Flagged mail goes to cur/ with its info suffix.
        final = (
            folder_dir / "cur" / f"{unique}:2,{letters}" if letters else folder_dir / "new" / unique
        )
        tmp.rename(final)
        logger.debug("delivered %d bytes to %s/%s on disk", len(raw), user, folder)
        return final

    def reset_uidvalidity(self, user: str, folder: str) -> None:
        """Make Dovecot give ``folder`` a new UIDVALIDITY, keeping its messages.

        Deletes the folder's UID list and indexes (and the mailbox list index that
        caches them), which is what a server that lost or rebuilt its index does. A
        running server is killed and started again around the change, since its
        processes hold the indexes open.
        """
        was_running = self.running
        self.kill()
        folder_dir = self.folder_path(user, folder)
        if not folder_dir.is_dir():
            raise SandboxError(f"{user} has no folder {folder!r} on disk")
        doomed = [folder_dir / "dovecot-uidlist", *folder_dir.glob("dovecot.index*")]
        doomed.extend(self.maildir(user).glob("dovecot.list.index*"))
        for path in doomed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        # Make sure the next UIDVALIDITY Dovecot hands out is a different number
        # even when it is derived from the clock within the same second.
        time.sleep(0.01)
        if was_running:
            self.start()

    def _ensure_folder(self, user: str, folder: str) -> Path:
        root = self.maildir(user)
        folder_dir = self.folder_path(user, folder)
        for directory in (self.home(user), root, folder_dir):
            if not directory.exists():
                directory.mkdir(mode=0o700)
                self._give_away(directory)
        for sub in ("cur", "new", "tmp"):
            path = folder_dir / sub
            if not path.exists():
                path.mkdir(mode=0o700)
                self._give_away(path)
        if folder_dir != root:
            # Dovecot writes this marker into every Maildir++ subfolder it creates.
            marker = folder_dir / "maildirfolder"
            if not marker.exists():
                marker.touch()
                self._give_away(marker)
        return folder_dir

    # -- internals -------------------------------------------------------------------

    def _make_base_dir(self) -> Path:
        # Under /tmp rather than $TMPDIR: the unprivileged account must be able to
        # reach it (not under /root), and Dovecot's unix sockets need a short path.
        parent = "/tmp" if os.path.isdir("/tmp") else None
        return Path(tempfile.mkdtemp(prefix="maild-dovecot-", dir=parent))

    def _give_away(self, path: Path, *, recursive: bool = False) -> None:
        """Hand a path we created as root to the account Dovecot runs as."""
        if not self.run_as.needs_switch:
            return
        os.chown(path, self.run_as.uid, self.run_as.gid)
        if recursive:
            for dirpath, dirnames, filenames in os.walk(path):
                for name in (*dirnames, *filenames):
                    os.chown(os.path.join(dirpath, name), self.run_as.uid, self.run_as.gid)

    def _render_config(self, token: str) -> str:
        text = _CONFIG_TEMPLATE.format(
            token=token,
            base=self.base_dir,
            instance=f"maild-sandbox-{self.port}",
            user=self.run_as.name,
            group=self.run_as.group,
            uid=self.run_as.uid,
            gid=self.run_as.gid,
            password=self.password,
            host=self.host,
            port=self.port,
        )
        if self.oauth is None:
            return text
        text = text.replace("auth_mechanisms = plain login\n",
                            "auth_mechanisms = plain login xoauth2 oauthbearer\n")
        # The password passdb keeps PLAIN and LOGIN; tokens go to the oauth2 passdb only,
        # so a token is never compared with the sandbox password (nor the reverse).
        text = text.replace("passdb {\n  driver = static\n",
                            "passdb {\n  driver = static\n  mechanisms = plain login\n")
        return text + _OAUTH_PASSDB.format(path=self.oauth_config_path)

    @staticmethod
    def _render_oauth_config(check: TokenCheck) -> str:
        parts = urlsplit(check.introspection_url)
        if parts.scheme != "http" or parts.hostname != LOOPBACK:
            raise SandboxError(f"the sandbox checks tokens on {LOOPBACK} over http only, "
                               f"not {check.introspection_url!r}")
        # Dovecot sends the URL's userinfo as HTTP Basic credentials (the RFC 7662 client).
        netloc = (f"{quote(check.client_id, safe='')}:{quote(check.client_secret, safe='')}"
                  f"@{parts.netloc}")
        return _OAUTH_CONFIG_TEMPLATE.format(url=urlunsplit(parts._replace(netloc=netloc)))


def _check_user(user: str) -> str:
    if not _USERNAME_RE.match(user) or user.startswith("."):
        raise SandboxError(f"not a sandbox username (letters, digits, . _ @ -): {user!r}")
    return user


def _flag_letter(flag: str) -> str:
    try:
        return _FLAG_LETTERS[flag.lower()]
    except KeyError:
        raise SandboxError(f"deliver() takes IMAP system flags only, not {flag!r}") from None


# Everything Dovecot needs, nothing from /etc/dovecot. Why each unusual line is there:
# * chroot is cleared for every service that has one: chroot() needs root.
# * first_valid_uid = 1: the sandbox account is a system account below the default 500.
# * auth_failure_delay = 0: wrong-password tests would otherwise wait 2 s each.
# * mail_max_userip_connections: watchers open one connection per folder, and tests
#   reuse 127.0.0.1 for every user.
# * mailbox_idle_check_interval = 1 s: only the fallback when inotify misses a change.
# * mail_fsync = never: a throwaway server needs no durability; it makes APPEND fast.
_CONFIG_TEMPLATE = """\
# Generated by maild.sandbox.dovecot for a throwaway test server; do not edit.
base_dir = {base}/run
state_dir = {base}/state
instance_name = {instance}
listen = {host}
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_username_format = %Lu
log_path = {base}/dovecot.log
login_greeting = maild sandbox {token} ready.
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 1000
mailbox_idle_check_interval = 1 secs
mail_fsync = never
mail_location = maildir:~/Maildir

passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # Without this listener the auth process cannot reach anvil's penalty table,
  # which disables the 2-15 s delay Dovecot adds after a failed login from an IP
  # (every test connects from 127.0.0.1; one wrong-password test slowed the rest).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service indexer {{
  chroot =
}}
service ipc {{
  chroot =
}}
service aggregator {{
  chroot =
}}
service auth-worker {{
  user = $default_internal_user
}}
"""

# The oauth2 passdb of the OAuth2 variant (Dovecot 2.3): every XOAUTH2/OAUTHBEARER login
# is checked by POSTing the token to the introspection endpoint; "active" must be true
# and "username" the login name. No caching (auth_cache_size is 0), so a revoked or
# expired token is refused at the very next login.
_OAUTH_PASSDB = """
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {path}
}}
"""

_OAUTH_CONFIG_TEMPLATE = """\
# Generated by maild.sandbox.dovecot for a throwaway test server; do not edit.
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
timeout_msecs = 5000
"""
