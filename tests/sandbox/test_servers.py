"""Round trips against the real sandbox servers (Dovecot IMAP, aiosmtpd SMTP).

These prove the fixtures behave like the servers maild will meet: the IMAP features
the watcher relies on (IDLE, CONDSTORE, SPECIAL-USE, BODY.PEEK leaving flags alone),
the down-time and renumbering cases, and the SMTP submission rules (STARTTLS with a
verifiable certificate, AUTH only over TLS) plus the failures tests can inject.
"""

from __future__ import annotations

import ssl
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import aiosmtplib
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from maild.sandbox.base import ImapAccount, ImapSandbox
from maild.sandbox.mail import Appended, append, make_message, make_reply

if TYPE_CHECKING:
    # Only for annotations: without aiosmtpd/trustme the smtp_server fixture skips
    # (or fails under CI=true) instead of this module failing to import.
    from maild.sandbox.smtp import SmtpSandbox

# The fixtures' promises hold on both IMAP implementations.
pytestmark = pytest.mark.both_imap_servers

TRAINEE = "Sam Trainee <sam@student.example>"
MENTOR = "Dr. Ada Mentor <ada@hospital.example>"


def _outreach() -> bytes:
    return make_message(
        sender=TRAINEE,
        to=MENTOR,
        subject="Research mentorship in cardiology",
        body="Dear Dr. Mentor,\n\nI read your paper on heart failure...\n\nSam",
        date=datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
    )


def _reply(original: bytes, text: str = "Happy to meet next week.") -> bytes:
    return make_reply(original, body=text)


def _append(account: ImapAccount, folder: str, raw: bytes, **options: Any) -> Appended:
    return append(
        account.host, account.port, account.user, account.password, folder, raw, **options
    )


def _login(account: ImapAccount) -> Any:
    client = IMAPClient(account.host, port=account.port, ssl=False, timeout=10)
    client.login(account.user, account.password)
    return client


# -- IMAP ---------------------------------------------------------------------------


def test_capabilities_and_special_use_folders(imap_client: Any) -> None:
    caps = set(imap_client.capabilities())
    assert {b"IDLE", b"CONDSTORE", b"SPECIAL-USE", b"UIDPLUS"} <= caps
    assert imap_client.find_special_folder(b"\\Sent") == "Sent"
    assert imap_client.find_special_folder(b"\\Drafts") == "Drafts"
    names = {name for _flags, _sep, name in imap_client.list_folders()}
    assert {"INBOX", "Sent", "Drafts", "Trash", "Junk"} <= names


def test_login_append_fetch_leaves_flags_unchanged(
    imap_account: ImapAccount, imap_client: Any
) -> None:
    original = _outreach()
    reply = _reply(original)
    appended = _append(imap_account, "INBOX", reply)
    assert appended.uid == 1

    info = imap_client.select_folder("INBOX")
    assert info[b"UIDVALIDITY"] == appended.uidvalidity
    assert imap_client.search("ALL") == [appended.uid]
    before = imap_client.get_flags([appended.uid])[appended.uid]
    fetched = imap_client.fetch([appended.uid], ["BODY.PEEK[]", "MODSEQ"])[appended.uid]
    after = imap_client.get_flags([appended.uid])[appended.uid]

    assert fetched[b"BODY[]"] == reply
    assert fetched[b"MODSEQ"][0] > 0  # CONDSTORE is live, not just advertised
    assert b"\\Seen" not in after
    assert set(before) == set(after)


def test_reply_is_threaded_like_a_real_client(imap_account: ImapAccount) -> None:
    import email
    import email.policy

    original = _outreach()
    reply = email.message_from_bytes(_reply(original), policy=email.policy.default)
    sent = email.message_from_bytes(original, policy=email.policy.default)
    assert reply["Subject"] == "Re: Research mentorship in cardiology"
    assert reply["In-Reply-To"] == sent["Message-ID"]
    assert reply["References"].split()[-1] == sent["Message-ID"]
    assert reply["To"].addresses[0].addr_spec == "sam@student.example"
    assert reply["From"].addresses[0].display_name == "Dr. Ada Mentor"
    assert reply["From"].addresses[0].addr_spec == "ada@hospital.example"
    assert reply["Message-ID"].endswith("@hospital.example>")
    assert "> I read your paper" in reply.get_content()
    # Replying to the reply does not grow "Re: Re:".
    again = email.message_from_bytes(make_reply(reply, body="Thanks!"))
    assert again["Subject"] == "Re: Research mentorship in cardiology"


def test_wrong_password_is_refused(imap_account: ImapAccount) -> None:
    client = IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        client.login(imap_account.user, "not-the-password")
    client.shutdown()


def test_idle_client_sees_an_append(imap_account: ImapAccount, imap_client: Any) -> None:
    imap_client.select_folder("INBOX", readonly=True)
    imap_client.idle()
    started = time.monotonic()
    _append(imap_account, "INBOX", _reply(_outreach()))
    responses = imap_client.idle_check(timeout=5)
    seen_after = time.monotonic() - started
    imap_client.idle_done()
    assert (1, b"EXISTS") in responses
    assert seen_after < 2.0


def test_idle_client_sees_a_delivery_on_disk(
    imap_server: ImapSandbox, imap_account: ImapAccount, imap_client: Any
) -> None:
    imap_client.select_folder("INBOX", readonly=True)
    imap_client.idle()
    imap_server.deliver(imap_account.user, "INBOX", _reply(_outreach()))
    responses = imap_client.idle_check(timeout=5)
    imap_client.idle_done()
    assert (1, b"EXISTS") in responses


def test_delivery_while_stopped_is_there_after_restart(
    imap_server: ImapSandbox, imap_account: ImapAccount
) -> None:
    original = _outreach()
    _append(imap_account, "Sent", original, flags=["\\Seen"])
    _append(imap_account, "Archive/2026", _outreach(), create=True)
    imap_server.stop()
    assert not imap_server.running
    reply = _reply(original)
    imap_server.deliver(imap_account.user, "INBOX", reply)
    imap_server.deliver(imap_account.user, "Archive/2026", reply, flags=["\\Seen"])
    imap_server.start()

    client = _login(imap_account)
    try:
        client.select_folder("INBOX", readonly=True)
        reply_id = reply.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()
        uids = client.search(["HEADER", "Message-ID", reply_id])
        assert len(uids) == 1
        assert client.fetch(uids, ["BODY.PEEK[]"])[uids[0]][b"BODY[]"] == reply
        assert client.select_folder("Sent", readonly=True)[b"EXISTS"] == 1
        client.select_folder("Archive/2026", readonly=True)
        flags = client.get_flags(client.search("ALL"))
        assert [b"\\Seen" in f for f in flags.values()] == [False, True]
    finally:
        client.logout()


def test_kill_drops_clients_and_restart_serves_same_port(
    imap_server: ImapSandbox, imap_account: ImapAccount, imap_client: Any
) -> None:
    port = imap_server.port
    imap_client.select_folder("INBOX")
    imap_server.kill()
    with pytest.raises((OSError, IMAPClient.AbortError, IMAPClient.Error)):
        imap_client.noop()
    imap_server.start()
    assert imap_server.port == port
    _login(imap_account).logout()


def test_uidvalidity_reset_renumbers_but_keeps_messages(
    imap_server: ImapSandbox, imap_account: ImapAccount
) -> None:
    for text in ("First answer.", "Second answer."):
        _append(imap_account, "INBOX", _reply(_outreach(), text))
    client = _login(imap_account)
    old = client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"]
    client.logout()

    imap_server.reset_uidvalidity(imap_account.user, "INBOX")

    client = _login(imap_account)
    try:
        info = client.select_folder("INBOX", readonly=True)
        assert info[b"UIDVALIDITY"] != old
        assert info[b"EXISTS"] == 2
    finally:
        client.logout()


def test_a_failed_start_reports_the_log(imap_server: ImapSandbox) -> None:
    from maild.sandbox.base import SandboxError

    # The session server holds this port, so a second server cannot bind it.
    other = type(imap_server)(port=imap_server.port)  # type: ignore[call-arg]
    try:
        with pytest.raises(SandboxError, match=r"(?s)== .*(log|stderr) ==.*in use"):
            other.start()
    finally:
        other.close()


# -- SMTP ---------------------------------------------------------------------------


async def test_starttls_auth_send_is_recorded(smtp_server: SmtpSandbox) -> None:
    raw = _outreach()
    async with aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=True,
        cert_bundle=str(smtp_server.ca_path),  # the trustme CA: real verification
    ) as client:
        await client.login(smtp_server.username, smtp_server.password)
        await client.sendmail("sam@student.example", ["ada@hospital.example"], raw)

    (received,) = await smtp_server.wait_for_async(1)
    assert received.mail_from == "sam@student.example"
    assert received.rcpt_tos == ("ada@hospital.example",)
    assert received.raw == raw
    assert received.message["Subject"] == "Research mentorship in cardiology"
    assert received.auth_user == smtp_server.username
    assert received.tls


async def test_certificate_is_not_trusted_without_the_ca(smtp_server: SmtpSandbox) -> None:
    client = aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=True,
        tls_context=ssl.create_default_context(),  # system CAs only
    )
    with pytest.raises((ssl.SSLError, aiosmtplib.SMTPException)) as caught:
        await client.connect()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    client.close()


async def test_auth_without_tls_is_refused(smtp_server: SmtpSandbox) -> None:
    async with aiosmtplib.SMTP(
        hostname=smtp_server.host, port=smtp_server.port, start_tls=False
    ) as client:
        await client.ehlo()
        assert not client.supports_extension("auth")
        response = await client.execute_command(b"AUTH", b"PLAIN", b"AGFiYwBkZWY=")
        assert response.code == 538
        with pytest.raises(aiosmtplib.SMTPResponseException) as caught:
            await client.sendmail("sam@student.example", ["ada@hospital.example"], b"x\r\n")
        assert caught.value.code == 530
    assert smtp_server.messages == []


async def test_wrong_password_is_refused_over_tls(smtp_server: SmtpSandbox) -> None:
    async with aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=True,
        tls_context=smtp_server.client_ssl_context(),
    ) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.login(smtp_server.username, "wrong")
        assert caught.value.code == 535


async def test_injected_failures_are_seen_by_the_client(smtp_server: SmtpSandbox) -> None:
    smtp_server.fail_next("DATA", "451 4.3.0 Mail server temporarily rejected message")
    smtp_server.fail_next("RCPT", "550 5.1.1 No such user", times=1)
    async with aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=True,
        tls_context=smtp_server.client_ssl_context(),
    ) as client:
        await client.login(smtp_server.username, smtp_server.password)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await client.sendmail("sam@student.example", ["nobody@hospital.example"], b"x\r\n")
        assert refused.value.recipients[0].code == 550
        with pytest.raises(aiosmtplib.SMTPDataError) as data_error:
            await client.sendmail("sam@student.example", ["ada@hospital.example"], b"x\r\n")
        assert data_error.value.code == 451
        # Failures are used up: the next attempt goes through.
        await client.sendmail("sam@student.example", ["ada@hospital.example"], _outreach())
    assert len(await smtp_server.wait_for_async(1)) == 1


async def test_disconnect_after_data_records_but_client_never_hears(
    smtp_server: SmtpSandbox,
) -> None:
    smtp_server.disconnect_after_next_data()
    client = aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=True,
        tls_context=smtp_server.client_ssl_context(),
        timeout=5,
    )
    await client.connect()
    await client.login(smtp_server.username, smtp_server.password)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.sendmail("sam@student.example", ["ada@hospital.example"], _outreach())
    client.close()
    assert len(await smtp_server.wait_for_async(1)) == 1


async def test_implicit_tls_round_trip(smtp_server_implicit_tls: SmtpSandbox) -> None:
    server = smtp_server_implicit_tls
    async with aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=True,
        tls_context=server.client_ssl_context(),
    ) as client:
        await client.login(server.username, server.password)
        await client.sendmail("sam@student.example", ["ada@hospital.example"], _outreach())
    (received,) = await server.wait_for_async(1)
    assert received.tls and received.auth_user == server.username
