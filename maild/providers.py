"""Server settings of common mail providers, so `maild init` asks only for an address."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    # Providers that file every message sent through their SMTP server into Sent
    # themselves; appending our own copy there would show it twice.
    saves_sent_copy: bool
    password_hint: str


PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider("gmail", "Gmail / Google Workspace", "imap.gmail.com", 993, "tls",
                 "smtp.gmail.com", 465, "tls", True,
                 "use an app password (Google Account > Security > App passwords)"),
        Provider("outlook", "Outlook / Microsoft 365", "outlook.office365.com", 993, "tls",
                 "smtp.office365.com", 587, "starttls", True,
                 "many schools require OAuth2: set auth = \"xoauth2\" with a token command"),
        Provider("icloud", "iCloud Mail", "imap.mail.me.com", 993, "tls",
                 "smtp.mail.me.com", 587, "starttls", False,
                 "use an app-specific password (appleid.apple.com > Sign-In and Security)"),
        Provider("fastmail", "Fastmail", "imap.fastmail.com", 993, "tls",
                 "smtp.fastmail.com", 465, "tls", False,
                 "use an app password (Settings > Privacy & Security > App passwords)"),
        Provider("other", "Other (enter the servers yourself)", "", 993, "tls",
                 "", 465, "tls", False, "your mail password or an app password"),
    )
}


def guess(email: str) -> str:
    """The provider key an address most likely belongs to ("other" when unknown)."""
    domain = email.rpartition("@")[2].lower()
    if domain in ("gmail.com", "googlemail.com"):
        return "gmail"
    if domain in ("outlook.com", "hotmail.com", "live.com", "msn.com"):
        return "outlook"
    if domain in ("icloud.com", "me.com", "mac.com"):
        return "icloud"
    if domain in ("fastmail.com", "fastmail.fm"):
        return "fastmail"
    return "other"
