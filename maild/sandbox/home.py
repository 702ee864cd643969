"""A maild home wired to the sandbox servers: what the demo, the tests and the
benchmarks all need, written once.

The account logs in to both servers with the same user and password (as with a real
provider): IMAP in plain text on loopback, SMTP with STARTTLS verified against the
sandbox's own certificate authority. The password comes from an environment variable,
never from the file.
"""

from __future__ import annotations

from pathlib import Path

from maild import paths
from maild.sandbox.base import ImapSandbox
from maild.sandbox.smtp import SmtpSandbox

IDENTITY = """\
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
role = "third-year medical student"
institution = "Example School of Medicine"
timezone = "America/New_York"

# A sandbox's page takes any free port: tests run side by side, and a real maild of the
# same user may hold the default one.
[ui]
port = 0
serve = {ui_serve}
"""

ACCOUNT = """
[[accounts]]
name = "school"
email = "alex@school.example.edu"
username = "{user}"
imap = {{ host = "{imap_host}", port = {imap_port}, security = "none" }}
smtp = {{ host = "{smtp_host}", port = {smtp_port}, security = "starttls", ca_file = "{ca}" }}
password = {{ env = "{password_env}" }}
save_sent_copy = "{save}"
"""


def sandbox_config(imap: ImapSandbox, smtp: SmtpSandbox, user: str, *,
                   password_env: str, save_sent_copy: str = "always", extra: str = "",
                   ui_serve: bool = True) -> str:
    return IDENTITY.format(ui_serve="true" if ui_serve else "false") + ACCOUNT.format(
        user=user, imap_host=imap.host, imap_port=imap.port, smtp_host=smtp.host,
        smtp_port=smtp.port, ca=smtp.ca_path, password_env=password_env,
        save=save_sent_copy) + extra


def write_sandbox_home(home: Path, imap: ImapSandbox, smtp: SmtpSandbox, user: str, *,
                       password_env: str, save_sent_copy: str = "always",
                       extra: str = "", ui_serve: bool = True) -> Path:
    """Create ``home`` with a config.toml for the sandbox; returns the config's path."""
    imap.account(user)  # Cyrus creates the login here; Dovecot takes any name as is
    paths.ensure_home(home)
    path = paths.config_path(home)
    path.write_text(sandbox_config(imap, smtp, user, password_env=password_env,
                                   save_sent_copy=save_sent_copy, extra=extra,
                                   ui_serve=ui_serve),
                    encoding="utf-8")
    return path
