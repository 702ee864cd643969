"""Server settings of common mail providers, so `maild init` asks only for an address,
and the OAuth2 sign-in presets of Microsoft 365 and Google (endpoints, scopes, client)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
    # The OAuth2 preset this provider's accounts sign in with ("" = passwords only), and
    # whether `maild init` chooses it by default (Microsoft 365 takes no passwords).
    oauth: str = ""
    oauth_by_default: bool = False


PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider("gmail", "Gmail / Google Workspace", "imap.gmail.com", 993, "tls",
                 "smtp.gmail.com", 465, "tls", True,
                 "use an app password (Google Account > Security > App passwords)",
                 oauth="google"),
        Provider("outlook", "Outlook / Microsoft 365", "outlook.office365.com", 993, "tls",
                 "smtp.office365.com", 587, "starttls", True,
                 "Microsoft 365 takes no passwords: sign in with `maild auth login ACCOUNT`",
                 oauth="microsoft", oauth_by_default=True),
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


@dataclass(frozen=True)
class OAuthPreset:
    """How to sign in to one provider with OAuth2 (see docs/signin.md).

    ``{tenant}`` in a URL is replaced by the account's tenant (Microsoft: "common", or a
    school's own tenant id or domain). ``device_url`` is empty where the provider does
    not allow the device-code flow for mail. The default client id (and secret) are
    what maild uses unless the account's config names its own.
    """

    key: str
    label: str
    authorize_url: str
    token_url: str
    device_url: str
    revoke_url: str
    scopes: tuple[str, ...]
    imap_scope: str
    smtp_scope: str
    client_id: str
    client_secret: str
    # The host in the loopback redirect URI: the one the provider lets a desktop app
    # register. maild always listens on 127.0.0.1 itself.
    redirect_host: str
    default_tenant: str
    # Where the user withdraws maild's access on the provider's side.
    revoke_help: str
    # Extra parameters of the authorization request (Google gives a refresh token only
    # with access_type=offline; prompt makes the provider ask which account to use).
    authorize_params: Mapping[str, str] = field(default_factory=dict)


# Mozilla Thunderbird's public client id, registered by Mozilla for IMAP, POP and SMTP
# with Microsoft 365 and used by many open-source mail tools; most school tenants
# already allow it. A school that blocks it needs a registration of its own (the guide
# in docs/signin.md), set as client_id in config.toml.
MICROSOFT_DEFAULT_CLIENT_ID = "9e5f94bc-e8a4-4e73-b8be-63364c29d753"
_MS = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
_OUTLOOK = "https://outlook.office.com"

OAUTH_PRESETS: dict[str, OAuthPreset] = {
    p.key: p
    for p in (
        OAuthPreset(
            key="microsoft", label="Microsoft 365",
            authorize_url=f"{_MS}/authorize", token_url=f"{_MS}/token",
            device_url=f"{_MS}/devicecode", revoke_url="",
            scopes=(f"{_OUTLOOK}/IMAP.AccessAsUser.All", f"{_OUTLOOK}/SMTP.Send",
                    "offline_access", "openid", "email"),
            imap_scope=f"{_OUTLOOK}/IMAP.AccessAsUser.All", smtp_scope=f"{_OUTLOOK}/SMTP.Send",
            client_id=MICROSOFT_DEFAULT_CLIENT_ID, client_secret="",
            redirect_host="localhost", default_tenant="common",
            revoke_help="https://myapps.microsoft.com (school accounts) or "
                        "https://account.live.com/consent/Manage (personal accounts)",
            authorize_params={"prompt": "select_account"},
        ),
        OAuthPreset(
            key="google", label="Google",
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            # Google refuses the device flow for the mail scope.
            device_url="", revoke_url="https://oauth2.googleapis.com/revoke",
            scopes=("https://mail.google.com/", "openid", "email"),
            imap_scope="https://mail.google.com/", smtp_scope="https://mail.google.com/",
            # Google's terms do not let one app use another's client; bring your own.
            client_id="", client_secret="",
            redirect_host="127.0.0.1", default_tenant="",
            revoke_help="https://myaccount.google.com/permissions",
            authorize_params={"access_type": "offline", "prompt": "consent"},
        ),
    )
}
