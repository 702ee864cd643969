"""`maild init`, `maild auth login|logout|check` and `maild doctor` for an OAuth2 account,
as real processes: the browser is a stand-in run through $BROWSER, the provider, IMAP
and SMTP servers are the sandbox ones, the keyring is a file. Every run also checks that
no token reaches what the user sees, config.toml or the database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from maild.sandbox.dovecot import DovecotServer
from maild.sandbox.oauth import OAuthSandbox
from maild.sandbox.smtp import SmtpSandbox
from tests.oauth.conftest import ROOT, Keyring, browser_env, oauth_config

TZ = "America/New_York"


class Maild:
    """Runs maild for one home, with the test's keyring and the sandbox's CA."""

    def __init__(self, home: Path, keyring: Keyring, provider: OAuthSandbox,
                 smtp_server: SmtpSandbox) -> None:
        self.home = home
        self.keyring = keyring
        self.provider = provider
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MAILD_NOW", "BROWSER", "MAILD_HOME")}
        # The SMTP sandbox's certificate authority, trusted the way a system CA is.
        self.env.update(TZ=TZ, SSL_CERT_FILE=str(smtp_server.ca_path), **keyring.env)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "maild", "--home", str(self.home), *args]

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 stdin: str = "") -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(*args), input=stdin, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, cwd=ROOT, timeout=120,
                              check=False)
        self.check_no_secrets(done.stdout + done.stderr, allow_refresh=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def check_no_secrets(self, text: str, allow_refresh: bool) -> None:
        for token in self.provider.tokens():
            assert token.access_token not in text
            if token.refresh_token and not allow_refresh:
                assert token.refresh_token not in text


@pytest.fixture
def maild(tmp_path: Path, file_keyring: Keyring, provider: OAuthSandbox,
          smtp_oauth: SmtpSandbox) -> Maild:
    home = tmp_path / "home"
    return Maild(home, file_keyring, provider, smtp_oauth)


def write_home(maild: Maild, user: str, dovecot: DovecotServer, smtp_server: SmtpSandbox,
               password: str = "") -> Path:
    maild.home.mkdir(exist_ok=True)
    path = maild.home / "config.toml"
    path.write_text(oauth_config(user, dovecot, smtp_server, maild.provider, password),
                    encoding="utf-8")
    return path


def doctor_report(maild: Maild) -> tuple[int, dict[str, dict[str, str]]]:
    done = maild("doctor", "--json")
    report = json.loads(done.stdout)
    return done.returncode, {c["name"]: c for c in report["checks"]}


def test_microsoft_365_user_runs_init_then_auth_login_and_doctor_is_green(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    done = maild("init", "--no-input", "--name", "Alex Kim", "--email",
                 "alex@school.example.edu", "--role", "third-year medical student",
                 "--institution", "Example School of Medicine", "--timezone", TZ,
                 "--provider", "outlook", "--account-name", "school", "--username", imap_user,
                 "--imap-host", "127.0.0.1", "--imap-port", str(dovecot_oauth.port),
                 "--imap-security", "none", "--smtp-host", "127.0.0.1", "--smtp-port",
                 str(smtp_oauth.port), "--smtp-security", "starttls",
                 "--oauth-server", provider.base_url)
    assert done.returncode == 0, done.stderr
    assert "Next: `maild auth login school` signs you in to Microsoft 365" in done.stdout
    config = (maild.home / "config.toml").read_text()
    assert 'auth = "oauth2"' in config and 'provider = "microsoft"' in config
    assert "password" not in config  # the refresh token goes to the keyring by default

    # Before signing in, the doctor says exactly what to do.
    code, checks = doctor_report(maild)
    assert code == 1
    assert checks["school: sign-in"]["status"] == "problem"
    assert "maild auth login school" in checks["school: sign-in"]["fix"]

    done = maild("auth", "login", "school", env=browser_env(imap_user, provider.password))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Signed in to Microsoft 365 as {imap_user}; the refresh "
                                  f"token is kept in the keyring (maild/oauth2:{imap_user})")
    assert "Your browser shows the sign-in page" in done.stderr
    [stored] = maild.keyring.entries().values()
    assert stored == provider.tokens(imap_user)[-1].refresh_token
    assert stored not in (maild.home / "config.toml").read_text()

    code, checks = doctor_report(maild)
    assert code == 0, checks
    assert {c["status"] for c in checks.values()} == {"ok"}, checks
    sign_in = checks["school: sign-in"]["detail"]
    assert sign_in.startswith(f"Microsoft 365 as {imap_user}; scopes: IMAP.AccessAsUser.All, "
                              "SMTP.Send, offline_access, openid, email; access token valid "
                              "until ")
    assert "refresh token from the keyring (maild/oauth2:" in sign_in
    assert checks["school: IMAP login"]["detail"].startswith(f"logged in as {imap_user}")
    assert checks["school: SMTP login"]["detail"].startswith(f"logged in as {imap_user}")
    assert smtp_oauth.messages == []  # the doctor never sends


def test_a_sign_in_as_someone_else_stores_nothing(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    done = maild("auth", "login", "school",
                 env=browser_env(f"{imap_user}-flatmate", provider.password))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"maild: error: you signed in as {imap_user}-flatmate, but account 'school' is "
        f"{imap_user}; nothing was stored. Run the command again and pick {imap_user} (sign "
        f"out of {imap_user}-flatmate in the browser first, or use a private window)")
    assert maild.keyring.entries() == {}


def test_declining_in_the_browser_is_one_clear_line(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    done = maild("auth", "login", "school", env={
        **browser_env(imap_user, provider.password), "MAILD_TEST_BROWSER_DECISION": "deny"})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "maild: error: Microsoft 365 did not sign you in (access_denied")
    assert maild.keyring.entries() == {}


def test_device_code_sign_in_from_the_command_line(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    proc = subprocess.Popen(maild.argv("auth", "login", "school", "--device"), cwd=ROOT,
                            env=maild.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        while not any("enter the code" in line for line in lines):
            line = proc.stderr.readline()
            assert line, f"maild ended without showing a code: {lines}"
            lines.append(line)
        shown = re.search(r"open (\S+) and enter the code (\S+)\.", "".join(lines))
        assert shown is not None, lines
        page, code = shown[1], shown[2]
        # The user, on another device.
        answer = requests.post(page, timeout=10, data={
            "user_code": code, "username": imap_user, "password": provider.password})
        assert answer.ok
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.startswith(f"Signed in to Microsoft 365 as {imap_user}")
    assert len(maild.keyring.entries()) == 1
    maild.check_no_secrets(out + err, allow_refresh=False)


def test_revoked_access_is_a_doctor_problem_until_the_user_signs_in_again(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    assert maild("auth", "login", "school",
                 env=browser_env(imap_user, provider.password)).returncode == 0
    provider.revoke_user(imap_user)
    code, checks = doctor_report(maild)
    assert code == 1
    sign_in = checks["school: sign-in"]
    assert sign_in["status"] == "problem"
    assert sign_in["detail"].startswith("Microsoft 365 no longer accepts maild's sign-in "
                                        "(Microsoft 365 refused the stored sign-in "
                                        "(invalid_grant")
    assert sign_in["fix"] == "sign in again: `maild auth login school`"
    assert checks["school: IMAP connection"]["status"] == "skipped"
    check = maild("auth", "check", "school")
    assert check.returncode == 1 and "maild auth login school" in check.stderr

    assert maild("auth", "login", "school",
                 env=browser_env(imap_user, provider.password)).returncode == 0
    code, checks = doctor_report(maild)
    assert code == 0 and checks["school: sign-in"]["status"] == "ok"


def test_a_refresh_token_kept_outside_the_keyring(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth,
               password='password = { env = "SCHOOL_REFRESH" }')
    refused = maild("auth", "login", "school", env=browser_env(imap_user, provider.password))
    assert refused.returncode == 2
    assert "maild cannot write; run `maild auth login school --print-refresh-token`" \
        in refused.stderr
    done = subprocess.run(maild.argv("auth", "login", "school", "--print-refresh-token"),
                          env={**maild.env, **browser_env(imap_user, provider.password)},
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    # Standard output carries the token alone, for `| pass insert -e ...`.
    assert done.stdout == token + "\n" and token == provider.tokens(imap_user)[-1].refresh_token
    assert token not in done.stderr and maild.keyring.entries() == {}
    check = maild("auth", "check", "school", env={"SCHOOL_REFRESH": token})
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"school: ok (signed in to Microsoft 365 as {imap_user}, "
                                   "access token valid for 5")


def test_logout_forgets_the_sign_in(maild: Maild, imap_user: str,
                                    dovecot_oauth: DovecotServer, smtp_oauth: SmtpSandbox,
                                    provider: OAuthSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    assert maild("auth", "login", "school",
                 env=browser_env(imap_user, provider.password)).returncode == 0
    done = maild("auth", "logout", "school")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "school: signed out (refresh token removed from the keyring)",
        "To withdraw maild's access on Microsoft 365's side too: https://myapps.microsoft.com "
        "(school accounts) or https://account.live.com/consent/Manage (personal accounts)"]
    assert maild.keyring.entries() == {}
    again = maild("auth", "logout", "school")
    assert again.stdout.startswith("school: not signed in")
    check = maild("auth", "check", "school")
    assert check.returncode == 1
    assert check.stderr.splitlines()[-1] == (
        f"maild: error: not signed in yet (nothing in the keyring under maild/oauth2:"
        f"{imap_user}); run `maild auth login school`")


def test_password_commands_point_at_the_right_one(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    done = maild("auth", "set", "school", "--stdin", stdin="hunter2\n")
    assert done.returncode == 2
    assert "signs in with OAuth2 (no password to store); run `maild auth login school`" \
        in done.stderr
    config = maild.home / "config.toml"
    config.write_text(config.read_text().replace('auth = "oauth2"', "")
                      .split("[accounts.oauth]")[0] + 'password = { env = "X" }\n')
    done = maild("auth", "login", "school")
    assert done.returncode == 2
    assert "logs in with auth = 'password', not OAuth2" in done.stderr


def test_init_for_google_needs_a_client_of_ones_own(maild: Maild) -> None:
    args = ("init", "--no-input", "--name", "Alex Kim", "--email", "alex@gmail.com", "--role",
            "student", "--institution", "School", "--timezone", TZ, "--provider", "gmail",
            "--auth", "oauth2")
    done = maild(*args)
    assert done.returncode == 2
    assert "Google needs --oauth-client-id (and --oauth-client-secret)" in done.stderr
    assert not (maild.home / "config.toml").exists()
    done = maild(*args, "--oauth-client-id", "123.apps.googleusercontent.com",
                 "--oauth-client-secret", "GOCSPX-not-secret")
    assert done.returncode == 0, done.stderr
    shown = maild("config", "show", "--json")
    account = json.loads(shown.stdout)["accounts"][0]
    assert account["auth"] == "oauth2"
    assert account["oauth"]["client_secret"] == "(set, not shown)"
    assert account["password"] == {"keyring": "maild"}


def test_login_waits_no_longer_than_asked(maild: Maild, imap_user: str,
                                          dovecot_oauth: DovecotServer,
                                          smtp_oauth: SmtpSandbox) -> None:
    write_home(maild, imap_user, dovecot_oauth, smtp_oauth)
    started = time.monotonic()
    done = maild("auth", "login", "school", "--no-browser", "--timeout", "10")
    assert done.returncode == 1
    assert time.monotonic() - started < 30
    assert "Open this address in a browser on this machine to sign in:" in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "maild: error: no answer from the browser within 10 s; run the command again (or use "
        "--device on a machine without a browser)")


def test_interactive_init_offers_to_sign_in_right_away(
        maild: Maild, imap_user: str, dovecot_oauth: DovecotServer,
        smtp_oauth: SmtpSandbox, provider: OAuthSandbox) -> None:
    # Every answer given as a flag but the packet's documents (Enter skips each) and the
    # last question: "Sign in now?" (Enter = yes).
    done = maild("init", "--name", "Alex Kim", "--email", "alex@school.example.edu",
                 "--role", "student", "--institution", "School", "--timezone", TZ,
                 "--provider", "outlook", "--account-name", "school", "--username", imap_user,
                 "--imap-host", "127.0.0.1", "--imap-port", str(dovecot_oauth.port),
                 "--imap-security", "none", "--smtp-host", "127.0.0.1", "--smtp-port",
                 str(smtp_oauth.port), "--smtp-security", "starttls",
                 "--oauth-server", provider.base_url,
                 env=browser_env(imap_user, provider.password), stdin="\n\n\n")
    assert done.returncode == 0, done.stderr
    assert "Your CV, to attach to letter packets" in done.stdout
    assert "Using Outlook / Microsoft 365 settings; sign-in with Microsoft 365 (OAuth2)." \
        in done.stdout
    assert "Sign in to Microsoft 365 now (your browser opens)? [Y/n]" in done.stdout
    assert f"Signed in to Microsoft 365 as {imap_user}" in done.stdout
    assert len(maild.keyring.entries()) == 1
