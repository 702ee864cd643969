"""`maild init --ca-file`: a local bridge's (or a private) certificate authority, trusted
for IMAP and SMTP, written by init and used by the real connection checks.

The sandbox SMTP server's certificate comes from its own authority, as a local bridge's
(ProtonMail Bridge) does: without the flag the certificate cannot be verified.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from tests.service.test_doctor import PW_ENV, lines_by_name, run_doctor


@pytest.fixture
def smtp_for_user(dovecot: DovecotServer, imap_user: str) -> Iterator[SmtpSandbox]:
    with SmtpSandbox(username=imap_user, password=dovecot.password) as server:
        yield server


def init(home: Path, dovecot: DovecotServer, smtp: SmtpSandbox, user: str,
         *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--home", str(home), "init", "--no-input", "--name", "Alex Kim",
            "--email", "alex@school.example.edu", "--role", "medical student",
            "--institution", "Example School", "--timezone", "America/New_York",
            "--provider", "other", "--account-name", "school", "--username", user,
            "--imap-host", dovecot.host, "--imap-port", str(dovecot.port),
            "--imap-security", "none", "--smtp-host", smtp.host,
            "--smtp-port", str(smtp.port), "--smtp-security", "starttls",
            "--password-env", PW_ENV, *extra]
    return subprocess.run([sys.executable, "-m", "maild", *args], capture_output=True,
                          text=True, check=False, timeout=60)


def test_ca_file_is_written_for_both_servers_and_verifies(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "home"
    done = init(home, dovecot, smtp_for_user, imap_user, "--ca-file", str(smtp_for_user.ca_path))
    assert done.returncode == 0, done.stderr
    account = tomllib.loads((home / "config.toml").read_text())["accounts"][0]
    assert account["imap"]["ca_file"] == account["smtp"]["ca_file"] == \
        str(smtp_for_user.ca_path.resolve())
    checked = run_doctor(home, password=dovecot.password)
    found = lines_by_name(checked.stdout)
    assert found["school: SMTP connection"][0] == "ok", checked.stdout
    assert "certificate verified (issuer maild sandbox)" in found["school: SMTP connection"][1]
    assert found["school: SMTP login"][0] == "ok", checked.stdout


def test_without_the_ca_file_the_bridge_certificate_is_not_trusted(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "home"
    assert init(home, dovecot, smtp_for_user, imap_user).returncode == 0
    report = json.loads(run_doctor(home, "--json", password=dovecot.password).stdout)
    [smtp] = [c for c in report["checks"] if c["name"] == "school: SMTP connection"]
    assert smtp["status"] == "problem"
    assert "certificate" in smtp["detail"] + smtp["fix"] and "ca_file" in smtp["fix"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "No such file or directory"),
    ("this is not a certificate\n", "not a readable PEM certificate file"),
])
def test_a_bad_ca_file_is_one_line_and_writes_nothing(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox, imap_user: str,
        content: str | None, message: str) -> None:
    bad = tmp_path / "bridge.pem"
    if content is not None:
        bad.write_text(content)
    home = tmp_path / "home"
    done = init(home, dovecot, smtp_for_user, imap_user, "--ca-file", str(bad))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (home / "config.toml").exists()
