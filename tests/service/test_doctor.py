"""`maild doctor` against the real Dovecot and SMTP sandbox, run as a real process.

The account is configured like a user's would be (IMAP without TLS on loopback, SMTP
with STARTTLS and the sandbox's CA, the password from an environment variable); the SMTP
server accepts the same login as the IMAP user. Every run also checks that neither the
right nor a wrong password ever appears in what the user sees, and that the SMTP check
never sends a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from maild.config import parse
from maild.runtime import doctor
from maild.runtime.lock import DaemonLock
from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.smtp import SmtpSandbox
from maild.store import SCHEMA_VERSION, Store
from tests.rawdb import raw

PW_ENV = "MAILD_TEST_PASSWORD"
WRONG = "not-the-password-9431"
# The systems tests run on differ; the doctor's time zone check must see one that
# agrees with identity.timezone for an "all ok" run.
TZ = "America/New_York"

ACCOUNT = """
[[accounts]]
name = "{name}"
email = "alex@school.example.edu"
username = "{user}"
imap = {{ host = "{imap_host}", port = {imap_port}, security = "none" }}
smtp = {{ host = "{smtp_host}", port = {smtp_port}, security = "starttls", ca_file = "{ca}" }}
password = {password}
{extra}
"""

IDENTITY = """
[identity]
name = "Alex Kim"
email = "alex@school.example.edu"
timezone = "America/New_York"
"""

KEYRING_BACKEND = textwrap.dedent("""
    import json, os
    from keyring.backend import KeyringBackend

    class FileKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            with open(os.environ["TEST_KEYRING_FILE"]) as f:
                return json.load(f).get(f"{service}/{username}")

        def set_password(self, service, username, password):
            raise NotImplementedError

        def delete_password(self, service, username):
            raise NotImplementedError
""")


def account_toml(dovecot: DovecotServer, smtp: SmtpSandbox, user: str, *, name: str = "school",
                 password: str = f'{{ env = "{PW_ENV}" }}', extra: str = "") -> str:
    return ACCOUNT.format(name=name, user=user, imap_host=dovecot.host, imap_port=dovecot.port,
                          smtp_host=smtp.host, smtp_port=smtp.port, ca=smtp.ca_path,
                          password=password, extra=extra)


@pytest.fixture
def smtp_for_user(dovecot: DovecotServer, imap_user: str) -> Iterator[SmtpSandbox]:
    """An SMTP server that accepts the same login as the IMAP user, as providers do."""
    with SmtpSandbox(username=imap_user, password=dovecot.password) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
         imap_user: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        IDENTITY + account_toml(dovecot, smtp_for_user, imap_user), encoding="utf-8")
    return home


def run_doctor(home: Path, *args: str, password: str | None, secrets: tuple[str, ...] = (),
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in (PW_ENV, "MAILD_NOW", "TZ")}
    full.update({"TZ": TZ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                 **(env or {})})
    if password is not None:
        full[PW_ENV] = password
    done = subprocess.run([sys.executable, "-m", "maild", "--home", str(home), "doctor", *args],
                          capture_output=True, text=True, env=full, timeout=120, check=False)
    for secret in (*secrets, *(p for p in (password,) if p)):
        assert secret not in done.stdout and secret not in done.stderr
    assert "Traceback" not in done.stderr
    return done


def lines_by_name(stdout: str) -> dict[str, tuple[str, str]]:
    """{check name: (status, rest of the line)} from the human output."""
    out = {}
    for line in stdout.splitlines()[:-1]:  # the last line is the summary
        status, _, rest = line.partition(" ")
        name, _, text = rest.strip().partition(": ")
        if name in ("school", "other"):  # account checks: "school: IMAP login: ..."
            sub, _, text = text.partition(": ")
            name = f"{name}: {sub}"
        out[name] = (status, text)
    return out


ACCOUNT_CHECKS = ("password", "IMAP connection", "IMAP login", "IMAP capabilities",
                  "Sent and Drafts", "SMTP connection", "SMTP login")
MACHINE_CHECKS = ("config", "keyring", "attachments", "clock", "time zone", "database",
                  "service", "daemon")


def test_everything_ok_against_the_sandbox(home: Path, dovecot: DovecotServer,
                                           smtp_for_user: SmtpSandbox, imap_user: str) -> None:
    done = run_doctor(home, password=dovecot.password)
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines_by_name(done.stdout)
    expected = {*MACHINE_CHECKS, *(f"school: {c}" for c in ACCOUNT_CHECKS)}
    assert set(found) == expected
    assert {status for status, _ in found.values()} == {"ok"}, done.stdout
    assert done.stdout.splitlines()[-1] == f"all {len(expected)} checks passed"

    assert found["school: password"][1] == (
        f"obtained from the environment variable {PW_ENV} (not shown)")
    assert found["school: IMAP login"][1].startswith(f"logged in as {imap_user} (")
    assert found["school: IMAP capabilities"][1] == "IDLE, SPECIAL-USE, CONDSTORE"
    assert found["school: Sent and Drafts"][1] == ("Sent = 'Sent' (SPECIAL-USE), "
                                                   "Drafts = 'Drafts' (SPECIAL-USE)")
    smtp_line = found["school: SMTP connection"][1]
    assert smtp_line.startswith(f"{smtp_for_user.host}:{smtp_for_user.port} "
                                "(security = 'starttls'), TLSv1.")
    assert "certificate verified (issuer maild sandbox)" in smtp_line
    assert found["school: SMTP login"][1].endswith("; nothing was sent")
    assert found["keyring"][1] == "not needed (no account reads its password from the keyring)"
    assert found["time zone"][1] == (f"system {TZ} and identity.timezone {TZ} agree "
                                     "(UTC-05:00)") or "UTC-04:00" in found["time zone"][1]
    # Logging in to SMTP is all the doctor does there.
    assert smtp_for_user.messages == []

    report = json.loads(run_doctor(home, "--json", password=dovecot.password).stdout)
    assert report["ok"] is True and report["problems"] == 0 and report["warnings"] == 0
    assert [c["name"] for c in report["checks"]][:3] == ["config", "keyring", "school: password"]
    assert all(c["status"] == "ok" and c["fix"] == "" for c in report["checks"])


def test_wrong_password_names_the_failing_checks_and_the_fix(
        home: Path, dovecot: DovecotServer, imap_user: str) -> None:
    done = run_doctor(home, password=WRONG, secrets=(dovecot.password,))
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    problems = {name for name, (status, _) in found.items() if status == "problem"}
    assert problems == {"school: IMAP login", "school: SMTP login"}
    fix = (f"check the password in ${PW_ENV} (Gmail, iCloud and Fastmail need an app "
           "password; Microsoft 365 often OAuth2)")
    assert found["school: IMAP login"][1] == (
        f"IMAP login refused by {dovecot.host} for {imap_user}: [AUTHENTICATIONFAILED] "
        f"Authentication failed. — {fix}")
    assert found["school: SMTP login"][1].startswith(
        f"SMTP login refused by 127.0.0.1 for {imap_user}: 535 ")
    assert found["school: SMTP login"][1].endswith(f" — {fix}")
    # The connections themselves work; what needs a login is skipped, not failed again.
    assert found["school: IMAP connection"][0] == "ok"
    assert found["school: SMTP connection"][0] == "ok"
    assert found["school: IMAP capabilities"] == ("skipped", "needs an IMAP login")
    assert done.stdout.splitlines()[-1] == "2 problems in 15 checks"

    report = json.loads(run_doctor(home, "--json", password=WRONG).stdout)
    assert report["ok"] is False and report["problems"] == 2
    failing = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failing] == ["school: IMAP login", "school: SMTP login"]
    assert all(c["fix"] == fix for c in failing)


def test_wrong_keyring_password_points_at_auth_set(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "kr-home"
    home.mkdir()
    (home / "config.toml").write_text(IDENTITY + account_toml(
        dovecot, smtp_for_user, imap_user, password='{ keyring = "maild" }'))
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "testkeyring.py").write_text(KEYRING_BACKEND)
    entries = tmp_path / "keyring.json"
    entries.write_text(json.dumps({f"maild/{imap_user}": WRONG}))
    env = {"PYTHONPATH": str(plugin), "TEST_KEYRING_FILE": str(entries),
           "PYTHON_KEYRING_BACKEND": "testkeyring.FileKeyring"}

    done = run_doctor(home, password=None, env=env, secrets=(WRONG, dovecot.password))
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    assert found["keyring"] == ("ok", "backend FileKeyring (used by school)")
    assert found["school: password"] == (
        "ok", f"obtained from the keyring (maild/{imap_user}) (not shown)")
    assert found["school: IMAP login"][0] == "problem"
    assert found["school: IMAP login"][1].endswith(
        "— check the password: `maild auth set school` (Gmail, iCloud and Fastmail need an "
        "app password; Microsoft 365 often OAuth2)")

    entries.write_text(json.dumps({f"maild/{imap_user}": dovecot.password}))
    assert run_doctor(home, password=None, env=env).returncode == 0


def test_no_keyring_backend_is_one_problem_with_the_alternatives(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "kr-home"
    home.mkdir()
    (home / "config.toml").write_text(IDENTITY + account_toml(
        dovecot, smtp_for_user, imap_user, password='{ keyring = "maild" }'))
    done = run_doctor(home, password=None)  # the fail backend: a headless server
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    status, text = found["keyring"]
    assert status == "problem"
    assert "no usable keyring backend, but school read their password from it" in text
    assert 'password = {command = "pass show mail/school"}' in text
    assert found["school: password"][0] == "problem"
    assert found["school: IMAP connection"] == ("skipped", "needs the password")
    assert found["school: SMTP login"] == ("skipped", "needs a working SMTP connection")


def test_imap_server_down_fails_the_connection_check(
        home: Path, dovecot: DovecotServer) -> None:
    dovecot.stop()  # the autouse fixture starts it again for the next test
    done = run_doctor(home, password=dovecot.password)
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    assert found["school: IMAP connection"] == (
        "problem", f"cannot connect to {dovecot.host}:{dovecot.port} (security = 'none'): "
                   "connection refused (nothing listens there) — the server is down, or "
                   "accounts[0].imap.host / accounts[0].imap.port in config.toml are wrong "
                   f"(now {dovecot.host}:{dovecot.port})")
    assert found["school: IMAP login"] == ("skipped", "needs a working IMAP connection")
    assert found["school: Sent and Drafts"] == ("skipped", "needs an IMAP login")
    # SMTP is another server: it is still checked.
    assert found["school: SMTP login"][0] == "ok"


def test_smtp_server_down_fails_the_connection_check(
        home: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox) -> None:
    smtp_for_user.stop()
    done = run_doctor(home, password=dovecot.password)
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    status, text = found["school: SMTP connection"]
    assert status == "problem"
    assert text.startswith(f"cannot connect to 127.0.0.1:{smtp_for_user.port} "
                           "(security = 'starttls'): connection refused")
    assert "accounts[0].smtp.host / accounts[0].smtp.port" in text
    assert found["school: SMTP login"] == ("skipped", "needs a working SMTP connection")
    assert found["school: IMAP login"][0] == "ok"


def test_untrusted_smtp_certificate_is_a_tls_problem(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "tls-home"
    home.mkdir()
    # Without the sandbox's CA the certificate cannot be verified, as with a bridge
    # whose CA the user did not configure.
    text = account_toml(dovecot, smtp_for_user, imap_user).replace(
        f', ca_file = "{smtp_for_user.ca_path}"', "")
    (home / "config.toml").write_text(IDENTITY + text)
    done = run_doctor(home, password=dovecot.password)
    assert done.returncode == 1
    status, line = lines_by_name(done.stdout)["school: SMTP connection"]
    assert status == "problem"
    assert "TLS failed: the server's certificate was not accepted" in line
    assert "set accounts[0].smtp.ca_file" in line


def test_missing_password_is_named_by_its_source(home: Path) -> None:
    done = run_doctor(home, password=None)
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    assert found["school: password"] == (
        "problem", f"cannot be obtained from the environment variable {PW_ENV}: environment "
                   f"variable {PW_ENV} is not set (nor a systemd credential of that name) — "
                   f"set {PW_ENV} in the environment maild runs in (for the systemd service: "
                   f"a credential named {PW_ENV} via LoadCredential=)")
    assert found["school: IMAP connection"] == ("skipped", "needs the password")


def test_configured_sent_folder_that_does_not_exist(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "folders-home"
    home.mkdir()
    (home / "config.toml").write_text(IDENTITY + account_toml(
        dovecot, smtp_for_user, imap_user, extra='folders = { sent = "Sent Items" }'))
    done = run_doctor(home, password=dovecot.password)
    assert done.returncode == 1
    status, text = lines_by_name(done.stdout)["school: Sent and Drafts"]
    assert status == "problem"
    assert text.startswith("the configured sent folder 'Sent Items' does not exist on the "
                           "server (folders: ")
    assert text.endswith("— set accounts[0].folders.sent in config.toml to one of those")


def test_account_filter_and_unknown_account(
        tmp_path: Path, dovecot: DovecotServer, smtp_for_user: SmtpSandbox,
        imap_user: str) -> None:
    home = tmp_path / "two"
    home.mkdir()
    broken = account_toml(dovecot, smtp_for_user, "someone-else", name="other",
                          password='{ env = "MAILD_DOCTOR_UNSET" }')
    (home / "config.toml").write_text(IDENTITY + account_toml(dovecot, smtp_for_user,
                                                              imap_user) + broken)
    everything = run_doctor(home, password=dovecot.password)
    assert everything.returncode == 1
    assert "problem  other: password:" in everything.stdout

    only = run_doctor(home, "--account", "school", password=dovecot.password)
    assert only.returncode == 0, only.stdout
    assert "other:" not in only.stdout

    unknown = run_doctor(home, "--account", "nope", password=dovecot.password)
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert "no account named 'nope' (known: school, other)" in unknown.stderr


def test_broken_config_is_a_problem_and_the_machine_is_still_checked(tmp_path: Path) -> None:
    home = tmp_path / "bad"
    home.mkdir()
    (home / "config.toml").write_text(IDENTITY + '[[accounts]]\nname = "x"\nemail = "x"\n')
    done = run_doctor(home, password=None)
    assert done.returncode == 1
    found = lines_by_name(done.stdout)
    assert found["config"] == (
        "problem", f"{home / 'config.toml'}: accounts[0].email: 'x' is not an email "
                   f"address — edit {home / 'config.toml'} (`maild config edit`) and run "
                   "`maild doctor` again")
    assert set(found) == {"config", "clock", "time zone", "database", "service", "daemon"}

    missing = run_doctor(tmp_path / "nothing-here", password=None)
    assert missing.returncode == 1
    assert lines_by_name(missing.stdout)["config"][1].endswith("— run `maild init` to create it")


def test_database_and_a_running_daemon(home: Path, dovecot: DovecotServer) -> None:
    Store.open(home / "maild.db").close()
    with DaemonLock.acquire(home):
        done = run_doctor(home, password=dovecot.password)
    assert done.returncode == 0, done.stdout
    found = lines_by_name(done.stdout)
    assert found["database"] == ("ok", f"{home / 'maild.db'}: schema version {SCHEMA_VERSION} "
                                       "(current), 0 asks, 0 open")
    assert found["daemon"] == ("ok", f"running for {home} (pid {os.getpid()})")


def test_database_written_by_a_newer_maild(tmp_path: Path) -> None:
    with Store.open(tmp_path / "maild.db") as store:
        raw(store).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    check = doctor.check_database(tmp_path)
    assert not check.ok
    assert "but this maild supports up to" in check.detail
    assert check.fix == "upgrade maild"


def test_database_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "maild.db").write_bytes(b"this is not sqlite" * 100)
    check = doctor.check_database(tmp_path)
    assert check.status == doctor.Status.PROBLEM
    assert "restore" in check.fix


# -- the pure parts ------------------------------------------------------------------


def _config(tz: str = "America/New_York") -> Any:
    data = {
        "identity": {"name": "A", "email": "a@b.example", "timezone": tz},
        "accounts": [{"name": "x", "email": "a@b.example", "imap": {"host": "imap.gmail.com"},
                      "smtp": {"host": "smtp.gmail.com"}, "password": {"keyring": "maild"}}],
    }
    return parse(data, Path("config.toml"))


def test_time_zone_mismatch_is_a_warning_not_a_failure() -> None:
    config = _config("Asia/Tokyo")  # no DST, so the offset is fixed
    check = doctor.check_timezone(config, {"TZ": "Europe/London"}, local_offset=timedelta(0))
    assert check.ok and check.status == doctor.Status.WARNING
    assert check.detail == ("the system is on Europe/London (UTC+00:00) but "
                            "identity.timezone is Asia/Tokyo (UTC+09:00)")
    same = doctor.check_timezone(config, {"TZ": "Asia/Tokyo"}, local_offset=timedelta(hours=9))
    assert same.status == doctor.Status.OK


def test_maild_now_is_a_warning_and_a_bad_one_a_problem() -> None:
    assert doctor.check_clock({}).status == doctor.Status.OK
    fixed = doctor.check_clock({"MAILD_NOW": "2026-11-23T09:00:00-05:00"})
    assert fixed.status == doctor.Status.WARNING
    assert fixed.fix == "unset MAILD_NOW for real use"
    bad = doctor.check_clock({"MAILD_NOW": "next tuesday"})
    assert bad.status == doctor.Status.PROBLEM and bad.fix == "fix or unset MAILD_NOW"


def test_keyring_only_matters_when_an_account_uses_it() -> None:
    config = _config()
    assert doctor.check_keyring(config.accounts, lambda: (True, "SecretService")).detail == \
        "backend SecretService (used by x)"
    down = doctor.check_keyring(config.accounts, lambda: (False, "nope"))
    assert not down.ok and "command" in down.fix and "env" in down.fix


def test_provider_hint_for_a_gmail_account() -> None:
    [account] = _config().accounts
    assert doctor._password_fix(account) == (
        "check the password: `maild auth set x` (Gmail / Google Workspace: use an app "
        "password (Google Account > Security > App passwords))")


def test_a_secret_echoed_by_a_server_is_redacted() -> None:
    check = doctor.failed("x: IMAP login", "server said: bad password hunter22", "retry")
    assert doctor.redact(check, "hunter22").detail == "server said: bad password [redacted]"
    assert doctor.redact(check, None) is check


def test_attachments_are_checked_for_the_letter_packet(tmp_path: Path) -> None:
    # Issue 11.3: doctor never mentioned [attachments].
    assert "none configured" in doctor.check_attachments(_config()).detail
    cv = tmp_path / "cv.pdf"
    cv.write_bytes(b"%PDF")
    config = _config()
    ok = doctor.check_attachments(replace(config, attachments={"cv": str(cv)}))
    assert ok.status == doctor.Status.OK and ok.detail == "1 readable: cv (cv.pdf)"
    gone = doctor.check_attachments(replace(config, attachments={
        "cv": str(cv), "personal_statement": str(tmp_path / "statement.pdf")}))
    assert gone.status == doctor.Status.PROBLEM
    assert gone.detail == (f"personal_statement = {tmp_path / 'statement.pdf'}: "
                           "No such file or directory")
    assert "[attachments]" in gone.fix
