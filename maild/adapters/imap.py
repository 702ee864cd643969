"""IMAP: one connection to one account, and the read-only operations maild needs.

This module owns the protocol: connecting (TLS, STARTTLS or plain on loopback), logging
in (password, or XOAUTH2 with an access token renewed once when refused), finding the
Sent and Drafts folders, fetching what is new since a cursor, searching, appending
maild's own messages. It never sets a flag, moves or deletes the user's mail (invariant
7): messages are read with BODY.PEEK and folders are selected read-only; the one
exception is ``remove_own_copy``, which removes a draft copy maild appended itself,
recognised by its exact bytes. imapclient's and the socket
layer's exceptions are translated here into ``ProtocolError`` / ``ImapAuthError``.
"""

from __future__ import annotations

import errno
import imaplib
import logging
import select
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.response_parser import parse_response

from maild.adapters.credentials import Secret
from maild.config import Account, Endpoint
from maild.errors import ConfigError, ProtocolError

log = logging.getLogger(__name__)


# The headers matching and classification need; bodies are fetched only for matches.
HEADER_FIELDS: tuple[str, ...] = (
    "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "TO", "CC", "REPLY-TO", "SUBJECT",
    "DATE", "AUTO-SUBMITTED", "X-AUTOREPLY", "X-AUTORESPOND", "X-AUTO-RESPONSE-SUPPRESS",
    "PRECEDENCE", "CONTENT-TYPE", "RETURN-PATH", "X-MS-EXCHANGE-GENERATED-MESSAGE-SOURCE",
    "X-MS-EXCHANGE-INBOX-RULES-LOOP", "LIST-ID", "X-FAILED-RECIPIENTS",
)
_HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]"
# A reply with a 20 MB attachment is still only read up to this many bytes.
BODY_LIMIT = 2 * 1024 * 1024
FETCH_CHUNK = 500
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail",
              "[Google Mail]/Sent Mail", "INBOX.Sent", "INBOX/Sent")
DRAFTS_NAMES = ("Drafts", "[Gmail]/Drafts", "[Google Mail]/Drafts", "INBOX.Drafts",
                "INBOX/Drafts")


class ImapAuthError(ProtocolError):
    """The server refused the login (wrong password, app password needed, ...)."""


class CertificateError(ProtocolError):
    """The server's certificate could not be verified: permanent until the user acts
    (retrying cannot help, and verification is never turned off). The message says
    what to fix."""


def certificate_problem(exc: BaseException | None) -> str | None:
    """The verification failure in ``exc`` or what caused it, or None when there is
    none (a TLS failure of another kind, a refused connection)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return str(exc.verify_message or exc.reason or exc)
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return str(exc).splitlines()[0][:200]
        exc = exc.__cause__ or exc.__context__
    return None


def certificate_fix(endpoint: Endpoint, key: str, problem: str) -> str:
    """One line: what failed and how the user fixes it."""
    return (f"the certificate of {endpoint.host}:{endpoint.port} could not be verified "
            f"({problem}); check that {key}.host is your provider's server name, or, for "
            f"a server with its own certificate authority (a local bridge), set "
            f"{key}.ca_file to that authority's certificate; maild never sends a password "
            f"without verifying the server")


class ImapUnreachable(ProtocolError):
    """No connection to the server at all (refused, no route, DNS): it is down or we
    are offline, which ``reachable`` can tell cheaply when it changes."""


def reachable(endpoint: Endpoint, timeout: float = 2.0) -> bool:
    """Whether the server accepts a TCP connection now: a probe that costs the server
    nothing to speak of (no TLS, no login), cheap enough to repeat every few seconds
    while it is down."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Cursor:
    """How far a folder has been read: what catch-up resumes from."""

    uidvalidity: int
    highest_uid: int = 0
    highestmodseq: int | None = None


@dataclass(frozen=True)
class HeaderInfo:
    """One message as seen by a header-only fetch."""

    uid: int
    headers: bytes
    size: int
    # Gmail's thread id, when the server offers X-GM-EXT-1.
    gm_thrid: int | None = None


@dataclass(frozen=True)
class FolderNames:
    inbox: str
    sent: str | None
    drafts: str | None


@dataclass(frozen=True)
class NewMessages:
    cursor: Cursor
    messages: tuple[HeaderInfo, ...]
    # True when UIDVALIDITY changed and the messages come from a targeted SEARCH.
    rescanned: bool = False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn every library and socket error into a ProtocolError naming the operation."""
    try:
        yield
    except LoginError as exc:
        raise ImapAuthError(f"IMAP login refused: {_describe(exc)}") from None
    except (IMAPClientError, imaplib.IMAP4.error, OSError, EOFError, ssl.SSLError) as exc:
        raise ProtocolError(f"IMAP {what} failed: {type(exc).__name__}: {_describe(exc)}") \
            from None


def _login(client: imapclient.IMAPClient, account: Account, secret: str) -> None:
    with translated("login"):
        if account.auth in ("xoauth2", "oauth2"):
            client.oauth2_login(account.username, secret)
        else:
            client.login(account.username, secret)


def check_ca_file(path: str) -> None:
    """A ConfigError unless ``path`` holds certificates TLS can trust (PEM)."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or _describe(exc)
        raise ConfigError(path, f"not a readable PEM certificate file ({reason})") from None


def ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    """Certificate verification is always on; ca_file only adds a trusted authority."""
    context = ssl.create_default_context()
    if endpoint.ca_file:
        context.load_verify_locations(cafile=endpoint.ca_file)
    return context


def header_info(uid: int, headers: bytes, item: Mapping[bytes, Any]) -> HeaderInfo:
    """One FETCH answer as a HeaderInfo (RFC822.SIZE, and Gmail's thread id if any)."""
    thrid = item.get(b"X-GM-THRID")
    try:
        gm_thrid = int(thrid) if thrid is not None else None
    except (TypeError, ValueError):
        gm_thrid = None
    return HeaderInfo(uid=uid, headers=headers, size=int(item.get(b"RFC822.SIZE", 0) or 0),
                      gm_thrid=gm_thrid)


class ImapConnection:
    """A logged-in connection. Not thread-safe: each watcher thread owns its own."""

    def __init__(self, client: imapclient.IMAPClient, account: Account) -> None:
        self.client = client
        self.account = account
        self._capabilities: frozenset[str] | None = None

    @classmethod
    def open(cls, account: Account, secret: Secret, timeout: float = 30.0) -> ImapConnection:
        """Connect and log in. An OAuth2 access token the server refuses is renewed and
        tried once more before the refusal counts (``ImapAuthError``)."""
        endpoint = account.imap
        try:
            with translated(f"connection to {endpoint.host}:{endpoint.port}"):
                client = imapclient.IMAPClient(
                    endpoint.host, port=endpoint.port, ssl=endpoint.security == "tls",
                    ssl_context=ssl_context(endpoint) if endpoint.security != "none"
                    else None,
                    timeout=timeout,
                )
        except ProtocolError as exc:
            if _unreachable(exc.__context__):
                raise ImapUnreachable(exc.message) from None
            if (problem := certificate_problem(exc.__context__)) is not None:
                raise CertificateError(certificate_fix(endpoint, "imap", problem)) from None
            raise
        try:
            try:
                with translated("STARTTLS"):
                    if endpoint.security == "starttls":
                        client.starttls(ssl_context(endpoint))
            except ProtocolError as exc:
                if (problem := certificate_problem(exc.__context__)) is not None:
                    raise CertificateError(certificate_fix(endpoint, "imap", problem)) \
                        from None
                raise
            if isinstance(secret, str):
                _login(client, account, secret)
            else:
                try:
                    _login(client, account, secret.current())
                except ImapAuthError:
                    try:
                        _login(client, account, secret.renewed())
                    except ImapAuthError as again:
                        words = again.message.removeprefix("IMAP login refused: ")
                        hint = secret.rejected("IMAP: " + words)
                        raise ImapAuthError(f"IMAP login refused: {hint} ({words})") from None
                secret.accepted()
        except BaseException:
            _quietly(client.shutdown)
            raise
        return cls(client, account)

    def close(self) -> None:
        _quietly(self.client.logout)
        _quietly(self.client.shutdown)

    def __enter__(self) -> ImapConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def capabilities(self) -> frozenset[str]:
        if self._capabilities is None:
            with translated("CAPABILITY"):
                caps = self.client.capabilities()
            self._capabilities = frozenset(c.decode().upper() for c in caps)
        return self._capabilities

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def folders(self) -> FolderNames:
        """INBOX plus Sent and Drafts: configured names, SPECIAL-USE, then common names."""
        conf = self.account.folders
        with translated("LIST"):
            listed = self.client.list_folders()
        names = {name for _flags, _delim, name in listed}

        def pick(configured: str, flag: bytes, fallbacks: Sequence[str]) -> str | None:
            if configured:
                return configured
            for flags, _delim, name in listed:
                # Flags are case-insensitive atoms: Cyrus announces \sent, \drafts.
                if flag.lower() in (f.lower() for f in flags):
                    return str(name)
            lowered = {n.lower(): n for n in names}
            for candidate in fallbacks:
                if candidate.lower() in lowered:
                    return str(lowered[candidate.lower()])
            return None

        return FolderNames(
            inbox=conf.inbox,
            sent=pick(conf.sent, b"\\Sent", SENT_NAMES),
            drafts=pick(conf.drafts, b"\\Drafts", DRAFTS_NAMES),
        )

    def select(self, folder: str) -> Cursor:
        """Select read-only; the cursor holds UIDVALIDITY and HIGHESTMODSEQ (no UIDs yet)."""
        return self._select_with_uidnext(folder)[0]

    def uids_after(self, highest_uid: int) -> list[int]:
        # "N:*" always matches the last message even when its UID is below N.
        with translated("UID SEARCH"):
            found = self.client.search(["UID", f"{highest_uid + 1}:*"])
        return sorted(int(u) for u in found if int(u) > highest_uid)

    def search(self, criteria: list[Any]) -> list[int]:
        with translated("SEARCH"):
            return sorted(int(u) for u in self.client.search(criteria))

    def headers(self, uids: Sequence[int]) -> list[HeaderInfo]:
        out: list[HeaderInfo] = []
        items = [_HEADER_ITEM, "RFC822.SIZE"]
        if self.has("X-GM-EXT-1"):
            items.append("X-GM-THRID")
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = list(uids[start:start + FETCH_CHUNK])
            with translated("FETCH headers"):
                data = self.client.fetch(chunk, items)
            for uid in chunk:
                item = data.get(uid)
                if item is None:  # expunged meanwhile
                    continue
                raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
                out.append(header_info(uid, raw or b"", item))
        return out

    def body(self, uid: int) -> bytes | None:
        """The message (up to BODY_LIMIT bytes) without setting \\Seen."""
        item = f"BODY.PEEK[]<0.{BODY_LIMIT}>"
        with translated("FETCH body"):
            data = self.client.fetch([uid], [item])
        found = data.get(uid)
        if not found:
            return None
        raw = next((v for k, v in found.items() if k.startswith(b"BODY[")), None)
        return bytes(raw) if raw is not None else None

    def flags(self, uids: Sequence[int]) -> dict[int, tuple[bytes, ...]]:
        with translated("FETCH flags"):
            data = self.client.fetch(list(uids), ["FLAGS"])
        return {int(u): tuple(v[b"FLAGS"]) for u, v in data.items()}

    def fetch_new(self, folder: str, cursor: Cursor | None, since: date | None,
                  rescan: Callable[[ImapConnection], list[int]] | None = None) -> NewMessages:
        """Headers of what arrived in ``folder`` since ``cursor``.

        Without a cursor (first run) nothing old is fetched: maild starts watching from
        now. When UIDVALIDITY changed, the old UIDs mean nothing, so ``rescan`` (a
        server-side SEARCH for what matters) finds the messages instead of a download
        of the whole mailbox. The cost never depends on the mailbox size otherwise.
        """
        current, uidnext = self._select_with_uidnext(folder)
        # Whatever the SELECT reported is covered by this fetch; an EXISTS the server
        # pushes from here on (with a SEARCH or FETCH answer) is new: pending_changes().
        self.pending_changes()
        if cursor is None:
            top = uidnext - 1 if uidnext is not None else self._highest_uid()
            return NewMessages(replace(current, highest_uid=top), ())
        if cursor.uidvalidity != current.uidvalidity:
            log.warning("%s: UIDVALIDITY changed (%d -> %d); re-finding messages by SEARCH",
                        folder, cursor.uidvalidity, current.uidvalidity)
            # The new cursor is fixed before searching: a message arriving during the
            # SEARCH gets a UID above it and is fetched by the next sync, not lost.
            top = uidnext - 1 if uidnext is not None else self._highest_uid()
            uids = rescan(self) if rescan else (self.search(["SINCE", since]) if since else [])
            uids = [u for u in uids if u <= top]
            return NewMessages(replace(current, highest_uid=top),
                               tuple(self.headers(uids)), rescanned=True)
        if uidnext is not None and uidnext - 1 <= cursor.highest_uid:
            return NewMessages(replace(current, highest_uid=cursor.highest_uid), ())
        uids = self.uids_after(cursor.highest_uid)
        top = max(uids, default=cursor.highest_uid)
        return NewMessages(replace(current, highest_uid=top), tuple(self.headers(uids)))

    def search_any(self, keys: Sequence[Sequence[Any]], since: date | None = None,
                   chunk: int = 40) -> list[int]:
        """UIDs matching any of ``keys`` (each one search key, e.g. ``["FROM", addr]``).

        One SEARCH per ``chunk`` keys, each ``SINCE since OR k1 OR k2 ...``, so the
        answer (and what maild downloads next) is only the messages that matter, not
        the mailbox; the server does the scanning.
        """
        found: set[int] = set()
        for start in range(0, len(keys), chunk):
            group = keys[start:start + chunk]
            criteria: list[Any] = ["SINCE", since] if since is not None else []
            # Prefix notation: "OR OR k1 k2 k3" is (k1 or k2) or k3.
            criteria += ["OR"] * (len(group) - 1)
            for key in group:
                criteria += list(key)
            found.update(self.search(criteria))
        return sorted(found)

    def pending_changes(self) -> bool:
        """Whether the server announced new or vanished messages since the last check.

        Servers push EXISTS/EXPUNGE with the answer to any command; imaplib files them
        away where nobody looks. A message that arrives during a catch-up is announced
        that way (and not again when IDLE starts), so the watcher asks here after
        every catch-up instead of waiting for the next push.
        """
        untagged = self.client._imap.untagged_responses
        seen = False
        for key in ("EXISTS", "RECENT", "EXPUNGE"):
            if untagged.pop(key, None):
                seen = True
        return seen

    def _select_with_uidnext(self, folder: str) -> tuple[Cursor, int | None]:
        with translated(f"SELECT {folder}"):
            info = self.client.select_folder(folder, readonly=True)
        modseq = info.get(b"HIGHESTMODSEQ")
        uidnext = info.get(b"UIDNEXT")
        cursor = Cursor(uidvalidity=int(info[b"UIDVALIDITY"]),
                        highestmodseq=int(modseq) if modseq is not None else None)
        return cursor, int(uidnext) if uidnext is not None else None

    def _highest_uid(self) -> int:
        # "*" is the message with the highest UID; an empty folder matches nothing.
        with translated("UID SEARCH"):
            uids = self.client.search(["UID", "*"])
        return max((int(u) for u in uids), default=0)

    def find_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs in ``folder`` whose Message-ID header is ``message_id``."""
        self.select(folder)
        return self.search(["HEADER", "Message-ID", message_id])

    def replies_to(self, folder: str, message_ids: Sequence[str],
                   since: datetime | date | None = None) -> list[int]:
        """UIDs of messages in ``folder`` that reply to (or reference) any of the ids."""
        self.select(folder)
        found: set[int] = set()
        for mid in message_ids:
            for header in ("In-Reply-To", "References"):
                criteria: list[Any] = ["HEADER", header, mid]
                if since is not None:
                    criteria += ["SINCE", since if isinstance(since, date) else since.date()]
                found.update(self.search(criteria))
        return sorted(found)

    def append(self, folder: str, raw: bytes, flags: Sequence[bytes] = (b"\\Seen",),
               when: datetime | None = None) -> None:
        """Append maild's own message (a sent copy or a draft): the only write maild does,
        with ``remove_own_copy`` of what it appended itself."""
        with translated(f"APPEND to {folder}"):
            self.client.append(folder, raw, flags=tuple(flags), msg_time=when)

    def remove_own_copy(self, folder: str, message_id: str,
                        is_ours: Callable[[bytes], bool]) -> int:
        """Remove from ``folder`` the messages with ``message_id`` that ``is_ours`` (given
        the stored bytes) recognises as the very copy maild appended; returns how many.

        A message the user changed, or anyone else's, is never touched (invariant 7).
        Only ``UID EXPUNGE`` of exactly those UIDs is used: a plain EXPUNGE would also
        remove messages the user marked deleted, so without UIDPLUS nothing is removed.
        """
        if not self.has("UIDPLUS"):
            log.info("%s: the server has no UIDPLUS; maild's old copy stays", folder)
            return 0
        with translated(f"SELECT {folder}"):
            self.client.select_folder(folder, readonly=False)
        try:
            uids = self.search(["HEADER", "Message-ID", message_id])
            ours = []
            for uid in uids:
                raw = self.body(uid)
                if raw is not None and is_ours(raw):
                    ours.append(uid)
            if not ours:
                return 0
            with translated("STORE \\Deleted"):
                self.client.add_flags(ours, [imapclient.DELETED], silent=True)
            with translated("UID EXPUNGE"):
                self.client.uid_expunge(ours)
            return len(ours)
        finally:
            # Back to read-only with EXAMINE: CLOSE would expunge every \\Deleted message
            # of the folder, the user's included.
            with suppress(IMAPClientError, imaplib.IMAP4.error, OSError):
                self.client.select_folder(folder, readonly=True)

    # -- IDLE -------------------------------------------------------------------------

    def idle_start(self) -> None:
        with translated("IDLE"):
            self.client.idle()

    def idle_wait(self, timeout: float) -> list[Any]:
        """Untagged responses pushed during IDLE, waiting at most ``timeout`` seconds.

        Not imapclient's ``idle_check``: that one returns an empty list when the server
        closed the connection (a watcher would spin on a dead socket until the next
        renewal), misses responses already buffered with the "+ idling" line, and
        leaves the socket without its read timeout. Raises ProtocolError on EOF and BYE.
        """
        with translated("IDLE"):
            if not self._readable(timeout):
                return []
            responses: list[Any] = []
            while True:
                # Blocking read of one whole line, with the connection's timeout; EOF
                # raises imaplib's abort ("socket error: EOF").
                line = self.client._imap._get_line()
                response = _parse_untagged(line)
                if response and response[0] == b"BYE":
                    raise ProtocolError(f"IMAP server closed the connection: {line[:200]!r}")
                responses.append(response)
                if not self._readable(0):
                    return responses

    def idle_stop(self) -> list[Any]:
        """End IDLE; returns the untagged responses that came in before the server's OK."""
        with translated("DONE"):
            _text, responses = self.client.idle_done()
        return list(responses)

    def noop(self) -> None:
        with translated("NOOP"):
            self.client.noop()

    def _readable(self, timeout: float) -> bool:
        """Whether a line (or EOF) can be read without waiting longer than ``timeout``."""
        sock = self.client.socket()
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        if self._buffered(sock):
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(max(0.0, timeout) * 1000.0))

    def _buffered(self, sock: socket.socket) -> bool:
        # imaplib reads through a buffered file: bytes already pulled off the socket
        # (e.g. an EXISTS in the same packet as "+ idling") are invisible to poll().
        # peek() returns them without waiting while the socket is non-blocking.
        file = getattr(self.client._imap, "file", None)
        if file is None or not hasattr(file, "peek"):
            return False
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            return bool(file.peek(1))
        except (OSError, ValueError):
            return False
        finally:
            sock.settimeout(timeout)


def _parse_untagged(line: bytes) -> tuple[Any, ...]:
    """``* 3 EXISTS`` -> ``(3, b'EXISTS')``; ``* BYE bye`` -> ``(b'BYE', ...)``."""
    if not line.startswith(b"* "):
        return (line,)
    text = line[2:]
    if text.startswith((b"OK ", b"NO ", b"BYE ", b"BAD ")) or text in (b"BYE", b"OK"):
        return tuple(text.split(b" ", 1))
    try:
        return tuple(parse_response([text]))
    except Exception:  # an unparsable push is not worth dropping the connection for
        return (text,)


def _unreachable(exc: BaseException | None) -> bool:
    # Refused, reset before a word, no route, or no such host: nobody is there to
    # talk to. A TLS failure or a greeting that never comes means someone is.
    return isinstance(exc, (ConnectionRefusedError, ConnectionResetError, socket.gaierror,
                            TimeoutError)) or (
        isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)
        and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED))


def _quietly(func: Callable[[], object]) -> None:
    with suppress(IMAPClientError, imaplib.IMAP4.error, OSError, EOFError):
        func()
