"""The exceptions maild raises: one base class, each formatting its own message.

Library exceptions (sqlite3, imapclient, aiosmtplib, keyring, tomllib, jinja2) are
translated into these at the adapter boundary. The CLI turns any ``MaildError`` into a
one-line message on stderr and the exit code the class carries.
"""

from __future__ import annotations


class MaildError(Exception):
    """Base of every error maild reports to the user.

    ``exit_code`` follows the Unix convention the CLI uses: 1 for an operation that
    failed, 2 for bad input (a bad file, a bad argument).
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(MaildError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class ConfigError(MaildError):
    """config.toml is missing, unreadable or invalid."""

    exit_code = 2

    def __init__(self, path: str, problem: str, key: str | None = None) -> None:
        where = f"{path}: {key}: " if key else f"{path}: "
        super().__init__(f"{where}{problem}")
        self.path = path
        self.key = key
        self.problem = problem


class StoreError(MaildError):
    """The database cannot be opened, migrated or written."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer maild than this one."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"{path} has schema version {found}, but this maild supports up to {supported}; "
            "upgrade maild (or point --home at another directory)"
        )
        self.found = found
        self.supported = supported


class NotFoundError(MaildError):
    """A mentor, ask, step or draft named by the user does not exist."""

    exit_code = 2

    def __init__(self, noun: str, ident: object) -> None:
        super().__init__(f"no {noun} {ident!r}")
        self.noun = noun
        self.ident = ident


class MessageParseError(MaildError):
    """Bytes that were given as an email are not one."""

    exit_code = 2


class CredentialError(MaildError):
    """A password or token could not be obtained. Never carries the secret itself."""


class ProtocolError(MaildError):
    """An IMAP or SMTP conversation failed (after translation from the library's error)."""


class TransitionRefused(MaildError):
    """A status change the lifecycle does not allow (a bug, or a race lost)."""

    def __init__(self, noun: str, ident: object, old: str | None, new: str) -> None:
        was = f"from {old} " if old is not None else "as a new row "
        super().__init__(f"{noun} {ident}: {was}to {new} is not an allowed change")
        self.noun = noun
        self.old = old
        self.new = new
