"""A throwaway Cyrus IMAP server for tests: the second IMAP implementation.

Owns everything about running Cyrus IMAP 3.x unprivileged from a temporary directory,
the same shape as ``maild.sandbox.dovecot``: the generated ``imapd.conf`` and
``cyrus.conf``, the ``master`` process (started, stopped, killed, restarted on the
same port), accounts in a private sasldb, and direct access to the mail spool so tests
can model what a client cannot: mail that arrives while the server is down, and a
folder that gets a new UIDVALIDITY.

Debian's ``cyrus-imapd`` package conflicts with ``dovecot-imapd``, so only
``cyrus-common`` (master, reconstruct, ...) and ``sasl2-bin`` are installed as
packages and the ``cyrus-imapd`` .deb (imapd, idled) is unpacked into a private root
(``tests/bootstrap.sh`` does both; ``MAILD_CYRUS_ROOT`` names another root).

Cyrus logs only through syslog(3), i.e. to ``/dev/log``. When nothing listens there
(a container, CI), the server binds it itself and files each line under the instance
that wrote it (``syslog_prefix``), so ``log_tail()`` can show why a start failed.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from maild.sandbox.base import (
    LOOPBACK,
    ImapAccount,
    RunAs,
    SandboxError,
    SandboxServer,
    free_port,
    stop_process_group,
    wait_for_greeting,
)

logger = logging.getLogger(__name__)

DEFAULT_PASSWORD = "sandbox-password"

# Where the unpacked cyrus-imapd .deb may live (bootstrap's choice first), and where
# an ordinary package install puts the binaries.
_PRIVATE_ROOTS = (
    "/usr/local/lib/maild/cyrus-imapd",
    os.path.expanduser("~/.local/lib/maild/cyrus-imapd"),
    "/",
)
_LIBEXEC = "usr/lib/cyrus/bin"
_SASLPASSWD = ("/usr/sbin/saslpasswd2", "/usr/bin/saslpasswd2")
# The account Debian's cyrus-common creates, else the usual unprivileged ones.
_UNPRIVILEGED_USERS = ("cyrus", "nobody")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_SYSTEM_FLAGS = {"\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft"}
_DEV_LOG = "/dev/log"
# "<30>Dec  3 17:37:22 maild-cyrus-ab12/imap[22414]: text" -> the instance tag.
_SYSLOG_LINE = re.compile(rb"^<\d+>(?:\w{3} [ \d]\d \d\d:\d\d:\d\d )?([^/\s\[:]+)")

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class CyrusBinaries:
    """The programs the sandbox runs, found on this machine."""

    master: str
    imapd: str
    idled: str
    ctl_cyrusdb: str
    reconstruct: str
    mbpath: str
    mbexamine: str
    saslpasswd: str


def find_cyrus() -> CyrusBinaries | None:
    """The Cyrus programs, or None when something needed is not installed."""
    roots = [os.environ["MAILD_CYRUS_ROOT"]] if os.environ.get("MAILD_CYRUS_ROOT") else []
    roots.extend(_PRIVATE_ROOTS)
    imapd = idled = None
    for root in roots:
        candidate = os.path.join(root, _LIBEXEC, "imapd")
        if os.access(candidate, os.X_OK):
            imapd, idled = candidate, os.path.join(root, _LIBEXEC, "idled")
            break
    common = os.path.join("/", _LIBEXEC)
    tools = {name: os.path.join(common, name)
             for name in ("master", "ctl_cyrusdb", "reconstruct", "mbpath", "mbexamine")}
    saslpasswd = next((p for p in _SASLPASSWD if os.access(p, os.X_OK)), None)
    if (imapd is None or idled is None or saslpasswd is None
            or not all(os.access(p, os.X_OK) for p in (idled, *tools.values()))):
        return None
    return CyrusBinaries(imapd=imapd, idled=idled, saslpasswd=saslpasswd, **tools)


class SyslogCapture:
    """Receives what Cyrus writes to /dev/log while no syslog daemon does.

    Lines go to ``<dir>/<tag>.log`` by their syslog tag, so several sandboxes (also in
    other processes, e.g. pytest-xdist workers) can share the one socket: whichever
    holds it files everyone's lines. Never takes /dev/log from a live syslog daemon.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sock: socket.socket | None = None
        self._inode: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def active(self) -> bool:
        return self._sock is not None

    def ensure(self) -> bool:
        """Hold /dev/log if it is free; True when someone (we or another sandbox) does."""
        if self._sock is not None:
            return True
        if _someone_listens(_DEV_LOG):
            return True
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_DEV_LOG)  # a stale socket nobody reads
            sock.bind(_DEV_LOG)
            os.chmod(_DEV_LOG, 0o666)
        except OSError as exc:
            sock.close()
            logger.debug("cannot capture %s (%s); Cyrus logs go to the system log",
                         _DEV_LOG, exc)
            return False
        self._inode = os.stat(_DEV_LOG).st_ino
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cyrus-syslog", daemon=True)
        self._thread.start()
        return True

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        sock.close()
        # Only our own socket is removed, never one a syslog daemon made meanwhile.
        with contextlib.suppress(OSError):
            if os.stat(_DEV_LOG).st_ino == self._inode:
                os.unlink(_DEV_LOG)

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            match = _SYSLOG_LINE.match(data)
            tag = match.group(1).decode("ascii", "replace") if match else "unknown"
            if not tag.startswith("maild-cyrus-"):
                continue
            with contextlib.suppress(OSError), open(self.directory / f"{tag}.log", "ab") as f:
                f.write(data.rstrip(b"\n\x00") + b"\n")


def _someone_listens(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


class CyrusServer(SandboxServer):
    """One Cyrus IMAP instance on 127.0.0.1, living in its own temporary directory.

    Behaves like ``DovecotServer``: any username logs in with the sandbox password
    (the account and its INBOX, Drafts, Sent, Trash and Junk are created on first use),
    ``stop()`` keeps the spool, and ``deliver()`` / ``reset_uidvalidity()`` work
    whether the server runs or not.
    """

    name = "cyrus"

    def __init__(
        self,
        *,
        password: str = DEFAULT_PASSWORD,
        port: int | None = None,
        binaries: CyrusBinaries | None = None,
        base_dir: Path | None = None,
        keep: bool = False,
    ) -> None:
        if not password or any(ch in password for ch in "\r\n\x00"):
            raise SandboxError("the sandbox password must be one non-empty line")
        found = binaries or find_cyrus()
        if found is None:
            raise SandboxError(
                "Cyrus IMAP is not installed (Debian: apt-get install cyrus-common "
                "cyrus-admin sasl2-bin, then unpack the cyrus-imapd .deb: "
                "bash tests/bootstrap.sh does both)"
            )
        self.bin = found
        self.password = password
        self.host = LOOPBACK
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.keep = keep or os.environ.get("MAILD_SANDBOX_KEEP") == "1"
        self.run_as = RunAs.choose(_UNPRIVILEGED_USERS, "Cyrus")
        self.base_dir = base_dir if base_dir is not None else _make_base_dir()
        # The syslog tag and SASL realm: one per instance, stable across restarts.
        self.tag = f"maild-cyrus-{uuid.uuid4().hex[:10]}"
        self._process: subprocess.Popen[bytes] | None = None
        self._users: set[str] = set()
        # Flags of messages delivered while stopped: (user, folder, uid, flags), set
        # over IMAP at the next start (reconstruct knows nothing of flags).
        self._pending_flags: list[tuple[str, str, int, tuple[str, ...]]] = []
        self._syslog = SyslogCapture(Path(tempfile.gettempdir()))
        self.last_start_seconds: float | None = None
        for sub in ("conf", "spool", "sieve", "run/socket", "run/proc", "run/lock",
                    *(f"conf/{d}" for d in ("db", "socket", "proc", "log", "msg", "user",
                                            "quota", "sieve", "lock", "sync"))):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        self._give_away(self.base_dir, recursive=True)

    # -- accounts ----------------------------------------------------------------------

    def account(self, user: str) -> ImapAccount:
        """Login details for ``user`` (a fresh name is a fresh, empty mailbox)."""
        name = _check_user(user).lower()  # Cyrus lower-cases usernames at login
        if name not in self._users:
            self._run(self.bin.saslpasswd, "-p", "-c", "-f", str(self.sasldb), "-u",
                      self.tag, name, stdin=self.password.encode())
            self._users.add(name)
        return ImapAccount(self.host, self.port, user, self.password)

    # -- paths ---------------------------------------------------------------------------

    @property
    def imapd_conf(self) -> Path:
        return self.base_dir / "imapd.conf"

    @property
    def cyrus_conf(self) -> Path:
        return self.base_dir / "cyrus.conf"

    @property
    def sasldb(self) -> Path:
        return self.base_dir / "sasldb2"

    @property
    def syslog_path(self) -> Path:
        return self._syslog.directory / f"{self.tag}.log"

    @property
    def stderr_path(self) -> Path:
        return self.base_dir / "master.stderr"

    def folder_path(self, user: str, folder: str) -> Path:
        """The spool directory of ``folder`` (asks Cyrus's own ``mbpath``)."""
        name = _check_user(user).lower()
        mailbox = f"user/{name}" if folder.upper() == "INBOX" else f"user/{name}/{folder}"
        result = self._run(self.bin.mbpath, "-C", str(self.imapd_conf), mailbox, check=False)
        path = result.stdout.decode().strip()
        if result.returncode != 0 or not path:
            raise SandboxError(f"{user} has no folder {folder!r} on the Cyrus sandbox "
                               "(log in once to create the mailbox)")
        return Path(path)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Cyrus and return once it greets with ``* OK`` on its port."""
        if self.running:
            return
        started = time.monotonic()
        self._syslog.ensure()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except SandboxError:
                if attempt == _START_ATTEMPTS or self._fixed_port or \
                        "Address already in use" not in self.log_tail():
                    raise
                self.port = free_port()
        self._apply_pending_flags()
        self.last_start_seconds = time.monotonic() - started
        logger.info("cyrus sandbox listening on %s:%d (started in %.3f s, dir %s)",
                    self.host, self.port, self.last_start_seconds, self.base_dir)

    def _start_once(self) -> None:
        self.imapd_conf.write_text(self._imapd_conf(), encoding="utf-8")
        self.cyrus_conf.write_text(self._cyrus_conf(), encoding="utf-8")
        self._give_away(self.imapd_conf)
        self._give_away(self.cyrus_conf)
        switch = self.run_as.needs_switch
        log_start = _size(self.syslog_path)
        with open(self.stderr_path, "ab") as stderr:
            # -D keeps master in the foreground: this Popen is the master, and its own
            # process group lets kill() take it down with every child at once.
            self._process = subprocess.Popen(
                [self.bin.master, "-D", "-C", str(self.imapd_conf), "-M", str(self.cyrus_conf),
                 "-p", str(self.base_dir / "run" / "master.pid")],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=self.base_dir,
                start_new_session=True,
                user=self.run_as.uid if switch else None,
                group=self.run_as.gid if switch else None,
                extra_groups=[] if switch else None,
            )
        # The servername (our tag) is in the greeting: proof that what answers is us.
        def alive() -> bool:
            # master keeps running without the listener it could not bind: its log
            # line is the only sign, and waiting for the greeting would be in vain.
            return self.running and not _logged_since(self.syslog_path, log_start,
                                                      b"unable to create imap listener")

        if wait_for_greeting(self.host, self.port, b"* OK", _START_TIMEOUT, alive=alive,
                             contains=self.tag.encode()):
            return
        self._terminate()
        raise SandboxError(f"cyrus did not start on {self.host}:{self.port}; last lines of "
                           "its logs:\n" + self.log_tail())

    def stop(self) -> None:
        """Stop Cyrus (and every IMAP session it serves); the spool stays."""
        if self._process is None:
            return
        self._terminate()
        logger.info("cyrus sandbox on port %d stopped", self.port)

    def kill(self) -> None:
        """Kill Cyrus and all its processes at once, like a crash (no BYE is sent)."""
        if self._process is None:
            return
        self._terminate(graceful=False)
        logger.info("cyrus sandbox on port %d killed", self.port)

    def _terminate(self, *, graceful: bool = True) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process_group(process, self.base_dir / "run" / "master.pid",
                           graceful=graceful, timeout=_STOP_TIMEOUT)

    def restart(self, *, graceful: bool = True) -> None:
        """Stop (or kill) and start again on the same port, serving the same spool."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory (unless ``keep`` was asked for)."""
        self.kill()
        self._syslog.close()
        if self.keep:
            logger.info("keeping cyrus sandbox directory %s", self.base_dir)
            return
        shutil.rmtree(self.base_dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.syslog_path.unlink()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines Cyrus logged (captured syslog) and of master's stderr."""
        parts: list[str] = []
        for path in (self.syslog_path, self.stderr_path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            tail = text.splitlines()[-lines:]
            if tail:
                parts.append(f"== {path.name} ==")
                parts.extend(tail)
        if not self._syslog.ensure():
            parts.append(f"(Cyrus logs to the system log under the tag {self.tag})")
        return "\n".join(parts) if parts else "(no log output)"

    # -- the spool -------------------------------------------------------------------------

    def deliver(
        self,
        user: str,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        received: float | None = None,
    ) -> Path:
        """Put a message into ``folder`` like an MDA would; returns its spool file.

        While the server runs this is an APPEND as the user (so IDLE clients hear of
        it at once); when Cyrus refuses the bytes (NUL characters, broken headers) or
        the server is down, the file is written into the spool and ``reconstruct``
        adds it, which is what delivery does underneath.
        """
        wanted = tuple(flags)
        for flag in wanted:
            if flag.lower() not in _SYSTEM_FLAGS:
                raise SandboxError(f"deliver() takes IMAP system flags only, not {flag!r}")
        if self.running:
            uid = self._append(user, folder, raw, wanted, received)
            if uid is not None:
                return self.folder_path(user, folder) / f"{uid}."
        path = self._deliver_to_spool(user, folder, raw, received)
        if wanted:
            self._pending_flags.append((user, folder, int(path.name[:-1]), wanted))
            if self.running:
                self._apply_pending_flags()
        return path

    def _apply_pending_flags(self) -> None:
        pending, self._pending_flags = self._pending_flags, []
        for user, folder, uid, flags in pending:
            account = self.account(user)
            client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
            try:
                client.login(account.user, account.password)
                client.select_folder(folder)
                client.add_flags([uid], list(flags), silent=True)
            finally:
                with contextlib.suppress(IMAPClientError, imaplib.IMAP4.error, OSError):
                    client.logout()

    def _append(self, user: str, folder: str, raw: bytes, flags: tuple[str, ...],
                received: float | None) -> int | None:
        account = self.account(user)
        when = datetime.fromtimestamp(received, UTC) if received is not None else None
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(account.user, account.password)
            try:
                answer = client.append(folder, raw, flags=flags, msg_time=when)
            except (IMAPClientError, imaplib.IMAP4.error) as exc:
                logger.debug("cyrus refused the APPEND (%s); delivering to the spool", exc)
                return None
            found = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer)
            return int(found.group(1)) if found else None
        finally:
            with contextlib.suppress(IMAPClientError, imaplib.IMAP4.error, OSError):
                client.logout()

    def _deliver_to_spool(self, user: str, folder: str, raw: bytes,
                          received: float | None) -> Path:
        directory = self.folder_path(user, folder)
        taken = [int(p.name[:-1]) for p in directory.glob("*.") if p.name[:-1].isdigit()]
        path = directory / f"{max(taken, default=0) + 1}."
        path.write_bytes(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        if received is not None:
            os.utime(path, (received, received))
        self._give_away(path)
        self._reconstruct(user)
        return path

    def reset_uidvalidity(self, user: str, folder: str) -> None:
        """Make Cyrus give ``folder`` a new UIDVALIDITY, keeping its messages.

        Removes the folder's index and cache and lets ``reconstruct`` rebuild them from
        the spool, which is what a server that lost its index does. A running server is
        killed and started again around the change.
        """
        was_running = self.running
        directory = self.folder_path(user, folder)
        old = self._uidvalidity(user, folder)
        self.kill()
        for _ in range(3):
            for name in ("cyrus.index", "cyrus.cache"):
                with contextlib.suppress(FileNotFoundError):
                    (directory / name).unlink()
            self._reconstruct(user)
            if self._uidvalidity(user, folder) != old:
                break
            # Cyrus takes the new UIDVALIDITY from the clock in seconds: within the
            # second the folder was made it comes out the same, so try in the next one.
            time.sleep(1.0 - time.time() % 1.0 + 0.01)
        else:
            raise SandboxError(f"UIDVALIDITY of {user}/{folder} did not change")
        if was_running:
            self.start()

    def _uidvalidity(self, user: str, folder: str) -> int:
        name = _check_user(user).lower()
        mailbox = f"user/{name}" if folder.upper() == "INBOX" else f"user/{name}/{folder}"
        text = self._run(self.bin.mbexamine, "-C", str(self.imapd_conf), mailbox).stdout
        found = re.search(rb"UIDValidity: (\d+)", text)
        if found is None:
            raise SandboxError(f"cannot read the UIDVALIDITY of {user}/{folder}")
        return int(found.group(1))

    def _reconstruct(self, user: str) -> None:
        conf = str(self.imapd_conf)
        if not self.running:
            # After a kill the databases need the recovery master would run at start.
            self._run(self.bin.ctl_cyrusdb, "-C", conf, "-r")
        self._run(self.bin.reconstruct, "-C", conf, "-q", "-u", _check_user(user).lower())

    # -- internals ---------------------------------------------------------------------------

    def _run(self, *args: str, stdin: bytes | None = None,
             check: bool = True) -> subprocess.CompletedProcess[bytes]:
        switch = self.run_as.needs_switch
        result = subprocess.run(
            list(args), input=stdin, capture_output=True, timeout=60, check=False,
            cwd=self.base_dir, user=self.run_as.uid if switch else None,
            group=self.run_as.gid if switch else None, extra_groups=[] if switch else None)
        if check and result.returncode != 0:
            raise SandboxError(f"{Path(args[0]).name} failed ({result.returncode}): "
                               f"{result.stderr.decode(errors='replace').strip()[:300]}")
        return result

    def _give_away(self, path: Path, *, recursive: bool = False) -> None:
        """Hand a path we created as root to the account Cyrus runs as."""
        if not self.run_as.needs_switch:
            return
        os.chown(path, self.run_as.uid, self.run_as.gid)
        if recursive:
            for dirpath, dirnames, filenames in os.walk(path):
                for name in (*dirnames, *filenames):
                    os.chown(os.path.join(dirpath, name), self.run_as.uid, self.run_as.gid)

    def _imapd_conf(self) -> str:
        return _IMAPD_CONF.format(base=self.base_dir, tag=self.tag)

    def _cyrus_conf(self) -> str:
        return _CYRUS_CONF.format(conf=self.imapd_conf, imapd=self.bin.imapd,
                                  idled=self.bin.idled, ctl_cyrusdb=self.bin.ctl_cyrusdb,
                                  host=self.host, port=self.port)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _logged_since(path: Path, offset: int, text: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return text in f.read()
    except FileNotFoundError:
        return False


def _make_base_dir() -> Path:
    # Under /tmp: the unprivileged account must reach it, and unix sockets need a
    # short path.
    parent = "/tmp" if os.path.isdir("/tmp") else None
    path = Path(tempfile.mkdtemp(prefix="maild-cyrus-", dir=parent))
    path.chmod(0o755)
    return path


def _check_user(user: str) -> str:
    if not _USERNAME_RE.match(user) or user.startswith("."):
        raise SandboxError(f"not a Cyrus sandbox username (letters, digits, . _ -): {user!r}")
    return user


# Why the unusual lines are there:
# * altnamespace + unixhierarchysep: folders are "Sent", "Drafts" (not "INBOX.Sent"),
#   with "/" as separator, as in the Dovecot sandbox.
# * autocreate_*: a user's mailbox and special-use folders exist from the first login.
#   Cyrus announces their flags in lower case (\sent, \drafts), as real servers do.
# * servername is the instance tag: it shows in the greeting (what start() waits
#   for) and is the SASL realm of the sasldb accounts.
# * imapidlepoll: IDLE falls back to polling this often should idled be missing.
_IMAPD_CONF = """\
# Generated by maild.sandbox.cyrus for a throwaway test server; do not edit.
configdirectory: {base}/conf
partition-default: {base}/spool
defaultpartition: default
proc_path: {base}/run/proc
mboxname_lockpath: {base}/run/lock
sievedir: {base}/sieve
idlesocket: {base}/run/socket/idle
lmtpsocket: {base}/run/socket/lmtp
notifysocket: {base}/run/socket/notify
servername: {tag}
syslog_prefix: {tag}
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {base}/sasldb2
sasl_mech_list: PLAIN LOGIN
altnamespace: yes
unixhierarchysep: yes
virtdomains: off
autocreate_quota: 0
autocreate_inbox_folders: Drafts|Sent|Trash|Junk
autocreate_subscribe_folder: Drafts|Sent|Trash|Junk
xlist-drafts: Drafts
xlist-sent: Sent
xlist-trash: Trash
xlist-junk: Junk
imapidlepoll: 1
umask: 077
"""

_CYRUS_CONF = """\
# Generated by maild.sandbox.cyrus for a throwaway test server; do not edit.
START {{
  recover cmd="{ctl_cyrusdb} -C {conf} -r"
}}
SERVICES {{
  imap cmd="{imapd} -C {conf}" listen="{host}:{port}" prefork=0 maxchild=500
}}
EVENTS {{
}}
DAEMON {{
  idled cmd="{idled} -C {conf}"
}}
"""
