"""Recognise delivery-failure notices and read what failed, why, and for which message.

A bounce is recognised from, in order of authority: an RFC 3464 delivery-status part
whose Action is ``failed`` or ``delayed``; an ``X-Failed-Recipients`` header; a sender
that is a mail system (MAILER-DAEMON, postmaster, "Mail Delivery System") together with
a failure subject or failure wording; failure subject and wording together; flufl.bounce
(Mailman's detectors) agreeing with any one of those signals.

Reading a bounce yields the failed recipients, the enhanced status code, whether the
address itself is invalid (user unknown, host unknown, moved) as opposed to a temporary
or policy failure, and the Message-ID of the original message when the bounce carries
its headers.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from flufl.bounce import all_failures

from maild.understand.message import ParsedMessage

log = logging.getLogger(__name__)


def _quiet_flufl() -> None:
    """Keep flufl.bounce's own log records out of maild's output.

    flufl logs every detector it runs at INFO and a full traceback when one of them
    fails on an odd message, then re-raises; ``_flufl`` catches that and logs one line
    at debug. Without this the traceback reaches stderr (Python's last-resort handler,
    or maild's own handler under the daemon) for a message maild handled fine.
    """
    flufl_log = logging.getLogger("flufl.bounce")
    if not any(isinstance(h, logging.NullHandler) for h in flufl_log.handlers):
        flufl_log.addHandler(logging.NullHandler())
    flufl_log.propagate = False


_quiet_flufl()

_SCAN_CHARS = 32 * 1024
# A failure notice's own words fit in a few kilobytes; the rest is the returned message.
_NOTICE_CHARS = 12 * 1024

_DAEMON_LOCALPART = re.compile(
    r"^(mailer-?daemon|postmaster|post_master|poostmaster|mail\.delivery\.system|mdaemon"
    r"|mail-?daemon|double-bounce|bounces?|mailerdaemon|ndr|sysadmin|nobody)$",
    re.IGNORECASE,
)
_DAEMON_NAME = re.compile(
    r"mail(er)?[ -]?daemon|mail deliver(y)? (sub)?system|postmaster|mail delivery|"
    r"NDR Administrator|Mail Administrator|Delivery Status Notification|InterScan",
    re.IGNORECASE,
)
_SUBJECT = re.compile(
    r"undeliver|undelivered|not delivered|delivery (status notification|failure|failed|has failed"
    r"|notification|problem|report)|failure notice|failure delivery|failed delivery"
    r"|delivery failure|mail delivery failed|\bmail error\b|returned mail|returning message|mail s"
    r"ystem error"
    r"|could not (be )?(delivered|send)|non[- ]?deliver|nondeliver|delivery status|"
    r"delivery notification|message delayed|delayed mail|delayed \d+ hours?|warning: message"
    r"|warning--could not send|unable to deliver|error sending your mail|mail failure|"
    r"bounce|rejected|returned to sender|no se ha podido entregar|unzustellbar|"
    r"non remis|配信できません|メールエラー|не доставлено|failed mail|mail failed"
    r"|delivery (has )?expired",
    re.IGNORECASE,
)
_BODY = re.compile(
    r"could not be delivered|couldn'?t be delivered|was not delivered|wasn'?t delivered"
    r"|can ?not be delivered|undeliverable|delivery (to the following recipients? )?(has )?failed|"
    r"permanent(ly)? (error|fatal"
    r"|failure)|the following address(es)? failed|delivery has failed|returned to sender"
    r"|unable to deliver|could not deliver|delivery to .{1,80} failed|message delivery failed"
    r"|i'?m (afraid|sorry) (i|that i) (wasn'?t|couldn'?t|could not)|was rejected|"
    r"this is the mail system at host|the original message was received at|"
    r"this message was created automatically by mail delivery software|"
    r"mail delivery (sub)?system|delivery status notification|"
    r"your message (did not|didn'?t|could not|couldn'?t|cannot|can'?t) (reach|be delivered)"
    r"|has not yet been delivered|delivery attempts? (will continue|failed)|"
    r"message (could not|has not|was not|wasn'?t) (be )?(delivered|sent)|"
    r"(user|mailbox|recipient|address) (unknown|not found|unavailable|does not exist)"
    r"|hi\. this is the qmail-send program|sorry, i wasn'?t able to establish an smtp connection"
    r"|sorry, i couldn'?t find any host|smtp error from remote (mail server|mailer)|"
    r"remote host said:|host .{1,80} said:|\b(550|551|552|553|554)[ -][45]\.\d\.\d"
    r"|\"notificationtype\"\s*:\s*\"bounce\"|not a member|loop alert|invalid (user|recipient)"
    r"( address)?|transcript of session follows|送信できませんでした|配信できませんでした",
    re.IGNORECASE,
)

# Words of a refusal that count when the sender is null (Return-Path: <>): gateways
# reject in plain prose, under the original subject, with auto-reply headers.
_REJECTION = re.compile(
    r"\b(?:has been|have been|was|were|is being)\s+(?:rejected|refused|returned|bounced|blocked"
    r"|discarded|not (?:delivered|accepted))\b|\bnot a valid (?:e-?mail )?(?:address|mailbox"
    r"|recipient)\b|\bno longer accepts\b|\b(?:address|mailbox|recipient|user) (?:does not"
    r"|doesn't) exist\b|\bcould not be delivered\b",
    re.IGNORECASE,
)
_ABSENCE = re.compile(r"out of (?:the )?office|on (?:vacation|holiday|leave)|away from"
                      r"|abwesend|absent", re.IGNORECASE)
# "expired" is not RFC 3464 but some MTAs write it for a message that timed out.
_FAILING_ACTIONS = frozenset({"failed", "delayed", "expired"})
_INVALID_TEXT = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address|account|domain)"
    r"|(user|mailbox|address|account|recipient|addressee)( name)? (does not|doesn'?t|did not) exist"
    r"|(user|mailbox|address|recipient|account) (is )?(not found|unknown|invalid)"
    r"|invalid (recipient|mailbox|address|user|email address)|unknown (recipient|mailbox|local[- ]"
    r"part"
    r"|address|or illegal alias)|recipient address rejected: (user unknown|unknown|undeliverable)"
    r"|host (or domain name )?not found|host unknown|unknown host|domain (name )?(not found"
    r"|does not exist|unknown|is not valid)|unrouteable address|nxdomain|no mx (record|host)"
    r"|no mailbox here by that name|bad destination mailbox|recipientnotfound|wasn'?t found at"
    r"|couldn'?t be found|is not a valid (e-?mail )?(address|mailbox|user)|isn'?t a valid"
    r"|account that you tried to reach does not exist|has moved|address (has )?changed|"
    r"no longer (valid|in use|available|active)|not our customer|unknown address|"
    r"mailbox not found|invalid address|no such person|not listed in|inactive email address"
    r"|requested action not taken: mailbox unavailable"
    r"|does not have an account|null mx|user doesn'?t have a .{1,30} account|"
    r"recipient (rejected|not found|unknown)|domain (has no|without) mx|does not accept mail"
    r"|no smtp service|invalid final delivery|no valid recipients|not our user"
    r"|host [\w.-]{1,100} not found|domain (may not|does not) exist|domain is not reachable"
    # more servers' words for "no such mailbox" (CommuniGate, Exchange, Gmail, Yahoo, Exim)
    r"|(account|user|mailbox|address) is not known|not a known user|unknown account"
    r"|recipnotfound|nosuchuser|delivery error: dd |non-?existent (host|domain|mailbox|user)"
    r"|no longer accepts? (mail|e-?mail|messages)|user not known|no such local user"
    r"|mailbox (is )?unavailable|unknown or illegal alias|address does not exist",
    re.IGNORECASE,
)
# Unknown-user words that recipient-side filters also use for a content rejection; they
# mean a bad address only with a bad-address code or the RCPT stage named (sisimai:
# "filtered" otherwise). Postfix's relayed "Recipient address rejected: User unknown" and
# Exchange's "Recipient Not Found" read the same way.
_USER_UNKNOWN = re.compile(
    r"user unknown|unknown user|no such user"
    r"|recipient address rejected: (user unknown|unknown)|recipient not found",
    re.IGNORECASE,
)
_SOFT_TEXT = re.compile(
    r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (the )?(storage|quota)|insufficient"
    r" (system )?storage|blocked|blacklist|block ?list|spam|policy|rate limit|too many|"
    r"try again later|temporar|timed? ?out|deferred|reverse dns|\bptr\b|\bspf\b|\bdkim\b|dmarc|"
    r"authenticat|message (size|too (large|big))|too large|virus|suspended|disabled|inactive|"
    r"relay(ing)? (access )?denied|not permitted to relay|greylist|connection refused|"
    r"reputation|tls|content rejected|rejected due to|filtered|securit"
    # A recipient's own filter (Facebook "refused due to recipient preferences") and
    # DNS trouble ("name service error", "malformed … name server reply") are not a
    # bad address even under 5.1.1 / 5.4.4.
    r"|recipient preferences|refuses? to (accept|receive)|user reject|name service error"
    r"|name server reply",
    re.IGNORECASE,
)
# 5.1.0 is "other address status": RFC 3463 puts it with the bad-address codes, and the
# servers that send it ("550 #5.1.0 Address rejected") mean the address does not exist.
_INVALID_STATUS = frozenset({"5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.4.4"})
# Statuses about the mailbox (5.2.x: disabled, full), about our side (5.1.7/5.1.8: bad
# sender) or about security policy (5.7.x) do not mean that the recipient's address is
# wrong, whatever the words say — unless the server refused the address itself at
# RCPT TO (see _address_invalid).
_NOT_INVALID_STATUS = re.compile(r"^(4\.|2\.|5\.2\.[0-4]$|5\.1\.[78]$|5\.3\.4$|5\.7\.)")
# The SMTP command a rejection answered, as MTAs report it: Postfix "(in reply to RCPT TO
# command)", Exim "after RCPT TO:" / "after end of data", DragonFly "did not like our RCPT
# TO", Yahoo "[RCPT_TO]", qmail "RCPT TO response", sendmail ">>> RCPT To: / <<< 550".
# Read from whitespace-folded text because Postfix wraps "(in reply to RCPT\n  TO command)".
# The first of these in the notice names the command the failure answered. A rejection
# after the message body was sent is a content filter, not an address check, even when
# the server words it "user unknown" (sisimai: "filtered"). sendmail's ">>> DATA / <<< 550
# … User unknown" transcript is not one: with PIPELINING the refusal it shows is the
# deferred answer to RCPT TO (the "503 Need RCPT" that follows says no recipient was
# taken), so it is not read as a DATA-stage marker.
_STAGE: Mapping[str, re.Pattern[str]] = MappingProxyType({
    "rcpt": re.compile(
        r"in reply to rcpt to command|after rcpt( to\b| command)|did not like our rcpt to"
        r"|\[rcpt_to\]|>>> rcpt to:\S* <<< [45]\d\d|rcpt to response|smtp:rcpt host",
        re.IGNORECASE,
    ),
    "data": re.compile(r"in reply to (end of )?data command|after (end of )?data\b",
                       re.IGNORECASE),
    "mail": re.compile(r">>> mail from:\S* <<< [45]\d\d", re.IGNORECASE),
})
# Words that say "no such recipient" only when they answer RCPT TO: Postfix relays the
# next hop's bare "Recipient address rejected." and Microsoft's directory-based edge
# blocking says "Recipient address rejected: Access denied" for a mailbox that does not
# exist. After other commands the same words are policy.
_RCPT_INVALID = re.compile(
    r"recipient address rejected(: access denied|\.(?!\w)|\s*\(in reply)", re.IGNORECASE
)
# A domain that does not exist is a bad address at whatever stage it is reported:
# Exim relays "553 example.com does not exist" after end of data.
_DOMAIN_GONE = re.compile(
    r"(?<![@\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}\.? does not exist"
    # 5.3.2 / 521 and null MX (RFC 7505): the host takes no mail for anyone, ever.
    r"|system not accepting network messages|host does not accept mail|null mx",
    re.IGNORECASE,
)
# A Diagnostic-Code of type X-Unix is the local delivery program's own error (procmail,
# a .forward pipe): the mailer failed, the address is fine (sisimai: "mailererror").
_LOCAL_MAILER = re.compile(r"(^|\s)x-unix;", re.IGNORECASE)
# What a local delivery program says when the account is missing, and the errors that
# are the program's own (procmail cannot write, the pipe died, the disk is full).
_LOCAL_USER_UNKNOWN = re.compile(r"user unknown|unknown user|no such user|user not found"
                                 r"|no such (?:account|mailbox)", re.IGNORECASE)
_PROGRAM_ERROR = re.compile(
    r"procmail|couldn'?t create|can(?:no|')t (?:create|open|write)|permission denied"
    r"|command (?:died|failed|output: (?!mail\.local))|exit(?:ed)? (?:status|code)|lock failure"
    r"|temporary failure|quota|disk|no space", re.IGNORECASE)
# sendmail's local mailer saying the account does not exist: the final host's own verdict
# on the user, as definite as a refusal at RCPT TO.
_LOCAL_NO_USER = re.compile(r"mail\.local: unknown user", re.IGNORECASE)
# The enhanced code that follows a quoted reply code ("550 5.2.2", "550-'5.7.1", "550
# #5.1.0") is the remote server's own; a relay's wrapper code (Amazon SES "5.1.0 - Unknown
# address error 550-'5.2.2 … Mailbox Full'") or a bare "Status: 5.0.0" says less.
_QUOTED_STATUS = re.compile(r"\b[245]\d\d[ -]['#]?#?([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
# A failure that answered MAIL FROM is about our sender address; a "MAIL FROM: x" line in
# a listing of the message's details (Verizon) is not.
_SENDER_SIDE = re.compile(r"sender (address )?(rejected|denied|verify failed)|sender rejected"
                          r"|(after|in reply to) mail from", re.IGNORECASE)
# Where the copy of the original message starts in a bounce; what follows is the user's
# own mail, not the failure notice, and must not be read as diagnostics.
_COPY_START = re.compile(
    r"^(-{2,}\s*(This is a copy|Below this line|Original message|Returned message|The header of"
    r" the original|Original Message Header)|[ \t]*-+ ?Returned Message|Original message follows"
    r"|(Received|Return-Path|DKIM-Signature|Message-I[Dd]|X-[A-Za-z-]+|Date|MIME-Version)\s*:\s*\S"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
# Starts only where a word starts, so a long run of letters costs one pass, not n².
_ADDRESS_ONLY = re.compile(r"(?<![\w.+=-])[\w.+=-]{0,64}@[\w.-]{1,255}")
_HEADERISH = re.compile(r"[ \t]*(From|To|Cc|Reply-To|Return-Path|Sender|Message-ID|Received)"
                        r"[ \t]*:", re.IGNORECASE)
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
)


@dataclass(frozen=True)
class BounceInfo:
    """What a delivery-failure notice says."""

    recipients: tuple[str, ...]
    status: str | None
    address_invalid: bool
    delayed: bool
    original_message_id: str | None
    diagnostic: str | None
    evidence: str

    def to_json(self) -> dict[str, object]:
        return {
            "address_invalid": self.address_invalid,
            "recipients": list(self.recipients),
            "status": self.status,
        }


def sender_is_mail_system(msg: ParsedMessage) -> bool:
    """Whether From names a mail system (MAILER-DAEMON, postmaster, …)."""
    address = msg.from_address
    if not address and "<>" in msg.from_header:
        return True  # From: "Jetmail System" <> — only mail systems send from the null address
    local = address.split("@", 1)[0] if address else ""
    if local and _DAEMON_LOCALPART.match(local):
        return True
    return bool(_DAEMON_NAME.search(msg.from_header))


def bounce_evidence(msg: ParsedMessage) -> str | None:
    """Why ``msg`` is a bounce, or None when it is not one."""
    actions = {d.action for d in msg.delivery_status}
    if actions & _FAILING_ACTIONS:
        return "delivery-status part with Action: " + "/".join(
            sorted(a for a in actions if a in _FAILING_ACTIONS)
        )
    if msg.report_type == "delivery-status" and msg.delivery_status and not (
        actions & _FAILING_ACTIONS
    ) and actions - {None}:
        # A DSN whose every recipient was delivered/relayed/expanded is a success notice.
        return None
    if msg.get("X-Failed-Recipients"):
        return "X-Failed-Recipients header"
    if msg.report_type == "feedback-report":
        return None
    daemon = sender_is_mail_system(msg)
    subject_hit = _SUBJECT.search(msg.subject)
    body = msg.all_text[:_SCAN_CHARS]
    body_hit = _BODY.search(body)
    if daemon and (subject_hit or body_hit):
        hit = subject_hit or body_hit
        assert hit is not None
        return f"mail-system sender and {hit.group(0)!r}"
    if subject_hit and body_hit:
        return f"subject {subject_hit.group(0)!r} and body {body_hit.group(0)!r}"
    null_sender = (msg.get("Return-Path") or "").strip() in ("<>", "<MAILER-DAEMON>")
    if body_hit and null_sender:
        return f"null Return-Path and body {body_hit.group(0)!r}"
    if null_sender:
        refused = _REJECTION.search(body[:_NOTICE_CHARS])
        if refused and not _ABSENCE.search(msg.subject + " " + body[:_NOTICE_CHARS]):
            return f"null Return-Path and refusal {refused.group(0)!r}"
    if daemon or subject_hit or body_hit or msg.get("Return-Path") in ("<>", "<MAILER-DAEMON>"):
        temporary, permanent = _flufl(msg)
        if temporary or permanent:
            return "flufl.bounce detector"
    return None


def analyze_bounce(msg: ParsedMessage, evidence: str) -> BounceInfo:
    """Read recipients, status, invalidity and the original Message-ID of a bounce."""
    failing = [d for d in msg.delivery_status if d.action in _FAILING_ACTIONS]
    recipients: list[str] = []
    for block in failing:
        address = block.final_recipient or block.original_recipient
        if address and "@" in address:
            recipients.append(address)
    if not recipients:
        header = msg.get("X-Failed-Recipients")
        if header:
            recipients = [a.lower() for _, a in email.utils.getaddresses([header]) if "@" in a]
    if not recipients and not failing:
        temporary, permanent = _flufl(msg)
        recipients = sorted(_decode_addr(a) for a in permanent | temporary)
        recipients = [r for r in recipients if r]
    if not recipients:
        recipients = _addresses_near_failure(msg)
    if not recipients:
        to = msg.original("To")
        if to:
            recipients = [a.lower() for _, a in email.utils.getaddresses([to]) if "@" in a]
    recipients = list(dict.fromkeys(r.strip("<>.,;") for r in recipients))[:20]

    diagnostics = " ".join(d.diagnostic for d in failing if d.diagnostic)
    status = _best_status([d.status for d in failing if d.status])
    text = notice_text(msg)
    if status is None or status.endswith(".0.0"):
        # A generic or missing Status: take the remote server's own code from its quoted
        # reply, as long as it agrees on failure vs. delay (same class digit).
        quoted = _QUOTED_STATUS.search(diagnostics or text)
        if quoted and _STATUS.fullmatch(quoted.group(1)) and quoted.group(1)[0] == (
            status or quoted.group(1)
        )[0]:
            status = quoted.group(1)
    if status is None:
        status = _best_status([m.group(0) for m in _STATUS.finditer(diagnostics + "\n" + text)])
    delayed = bool(failing) and all(d.action == "delayed" for d in failing)
    if not failing:
        delayed = bool(re.search(r"delay|not yet been delivered|will (continue|retry)|still being"
                                 r" retried|warning", msg.subject, re.IGNORECASE))
    invalid = _address_invalid(status, diagnostics, text, delayed)
    return BounceInfo(
        recipients=tuple(recipients),
        status=status,
        address_invalid=invalid,
        delayed=delayed,
        original_message_id=_original_message_id(msg),
        diagnostic=(diagnostics or None),
        evidence=evidence,
    )


def notice_text(msg: ParsedMessage) -> str:
    """The bounce's own words: its text parts up to the copy of the original message."""
    text = msg.all_text[:_NOTICE_CHARS]
    for cut in _COPY_START.finditer(text):
        if not cut.group(0).rstrip().endswith(":") and ":" in cut.group(0)[:40] and not (
            _header_block_at(text, cut.end())
        ):
            continue  # one "Subject: …" line inside the notice is not the copied message
        return text[: cut.start()]
    return text


def _header_block_at(text: str, pos: int) -> bool:
    """Whether the two lines after ``pos`` continue a header block."""
    following = text[pos:].split("\n", 3)[1:3]
    return len(following) == 2 and all(
        re.match(r"^([\w-]{1,40}:\s|[ \t]+\S)", line) for line in following
    )


def _address_invalid(status: str | None, diagnostics: str, text: str, delayed: bool) -> bool:
    """Whether the failure says the address itself does not exist.

    In order: a delay is never final; a local delivery program's error (X-Unix) is the
    program's unless it says the user does not exist; a refusal at MAIL FROM is about our
    sender; a domain that does not exist is a bad address at any stage; then the status
    code, then the words. Soft words (quota, spam, policy, virus) can override a hard
    bad-address status only inside the server's own reply, never from a footer.
    """
    if delayed:
        return False
    diagnostics = diagnostics[:_NOTICE_CHARS]  # a server's reason fits in far less
    if _LOCAL_MAILER.search(diagnostics):
        local = _fold(diagnostics)
        return bool(_LOCAL_USER_UNKNOWN.search(local)) and not _PROGRAM_ERROR.search(local)
    # The words of an address are not the server's words: a mailbox called "filtered@…"
    # says nothing about why it failed. Servers wrap long replies: fold the lines.
    focus = _fold(_ADDRESS_ONLY.sub("<>", diagnostics or text))
    folded = _fold(_ADDRESS_ONLY.sub("<>", text + " " + diagnostics))
    stage = _smtp_stage(folded)
    if stage == "mail" or _SENDER_SIDE.search(focus):
        return False  # refused at MAIL FROM: our sender or our server, not their address
    if (
        _DOMAIN_GONE.search(focus)
        and not _SOFT_TEXT.search(focus)
        and not (status or "").startswith("4.")  # a 4xx "no mail here" may yet change
    ):
        return True
    if stage == "data" and status not in _INVALID_STATUS:
        # After the body only a bad-address code still means the address; "user
        # unknown" words alone are a content filter's.
        return False
    first_invalid = _INVALID_TEXT.search(focus)
    invalid_hit = first_invalid or _LOCAL_NO_USER.search(text)
    soft_hit = _SOFT_TEXT.search(focus)
    if (stage == "rcpt" or _LOCAL_NO_USER.search(text)) and (
        invalid_hit or _RCPT_INVALID.search(focus)
    ):
        # The server refused the address itself when it was named: that is the address
        # failing, whatever enhanced code (4.1.1, 5.2.1, 5.7.1) came with it — unless the
        # words first give a policy or mailbox reason.
        first = invalid_hit or _RCPT_INVALID.search(focus)
        assert first is not None
        return not (soft_hit and soft_hit.start() < first.start())
    if status is not None and _NOT_INVALID_STATUS.match(status):
        return False
    if status in _INVALID_STATUS:
        # The code says "bad address". Only the server's own reply can say it was really
        # a policy rejection that borrowed the code (recipient preferences, DNS trouble).
        reply = _server_reply(status, diagnostics, text)
        return not (_SOFT_TEXT.search(reply) and not _INVALID_TEXT.search(reply))
    if first_invalid and _only_bare_user_unknown(focus, first_invalid) and (
        status is None or not status.startswith(("5.1.", "5.4."))
    ):
        # A bare "user unknown" without a bad-address code and without the RCPT stage
        # named is how recipient-side filters word a content rejection (sisimai:
        # "filtered"); a second, specific phrase ("… or invalid mailbox") is not.
        return False
    if invalid_hit and not soft_hit:
        return True
    if invalid_hit and soft_hit:
        return invalid_hit.start() < soft_hit.start()
    return False


def _only_bare_user_unknown(focus: str, first: re.Match[str]) -> bool:
    """Whether every "no such address" phrase in ``focus`` is a bare "user unknown"."""
    if not _USER_UNKNOWN.fullmatch(first.group(0)):
        return False
    return all(_USER_UNKNOWN.fullmatch(m.group(0))
               for m in _INVALID_TEXT.finditer(focus, first.end()))


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _server_reply(status: str, diagnostics: str, text: str) -> str:
    """The server's reply that carries ``status``, without the notice around it.

    A Diagnostic-Code is all reply. In a plain-text notice the reply is the line with
    the code and the lines it wraps onto, up to a blank line or a "--" footer rule:
    a virus scanner's or spam filter's footer is not the server's reason.
    """
    if diagnostics.strip():
        return _fold(_ADDRESS_ONLY.sub("<>", diagnostics))
    lines = text.split("\n")
    code = re.compile(r"(?<![\d.])" + re.escape(status) + r"(?![\d.])")
    for idx, line in enumerate(lines):
        if not code.search(line):
            continue
        reply = [line]
        for following in lines[idx + 1 : idx + 5]:
            if not following.strip() or following.lstrip().startswith("--"):
                break
            reply.append(following)
        return _fold(_ADDRESS_ONLY.sub("<>", " ".join(reply)))
    return ""


def _smtp_stage(folded: str) -> str | None:
    """The SMTP command ("mail", "rcpt", "data") the failure answered, when it says."""
    found = [(m.start(), stage) for stage, rx in _STAGE.items() if (m := rx.search(folded))]
    return min(found)[1] if found else None


def _best_status(candidates: list[str]) -> str | None:
    """The most specific enhanced status code: a failure over a warning, x.y.z over x.0.0."""
    valid = [c for c in candidates if _STATUS.fullmatch(c)]
    if not valid:
        return None

    def rank(code: str) -> tuple[int, int]:
        klass, subject, detail = code.split(".")
        return (2 if klass == "5" else 1 if klass == "4" else 0,
                (1 if subject != "0" else 0) + (1 if detail != "0" else 0))

    return max(valid, key=rank)


def _original_message_id(msg: ParsedMessage) -> str | None:
    value = msg.original("Message-ID")
    if not value:
        # Many bounces quote the original headers as plain text instead of attaching them.
        found = re.search(r"^[ \t]*Message-I[Dd]:[ \t]*(<[^<>\s]{3,250}>)",
                          msg.all_text[: _SCAN_CHARS * 2],
                          re.MULTILINE | re.IGNORECASE)
        own = msg.get("Message-ID")
        if found and found.group(1) != (own or "").strip():
            return found.group(1)
        return None
    found_id = re.search(r"<[^<>\s]{3,250}>", value)
    return found_id.group(0) if found_id else value.strip() or None


def _addresses_near_failure(msg: ParsedMessage) -> list[str]:
    own = {msg.from_address}
    for field in ("To", "Return-Path", "Delivered-To", "X-Original-To"):
        for _, address in email.utils.getaddresses(msg.get_all(field)):
            own.add(address.lower())
    found: list[str] = []
    for line in notice_text(msg).split("\n")[:500]:
        if _HEADERISH.match(line):
            continue
        for match in _ADDRESS.finditer(line):
            address = match.group(0).lower().rstrip(".")
            local = address.split("@", 1)[0]
            if address in own or _DAEMON_LOCALPART.match(local):
                continue
            found.append(address)
        if len(found) >= 3:
            break
    return found[:1]


def _flufl(msg: ParsedMessage) -> tuple[frozenset[bytes], frozenset[bytes]]:
    try:
        small = email.message_from_bytes(msg.raw_head, policy=email.policy.compat32)
        temporary, permanent = all_failures(small)
    except Exception as exc:
        # flufl's heuristics index into odd structures and decode with the message's
        # own charset; a failure there is not ours, and not worth a traceback.
        log.debug("flufl.bounce failed on this message: %s", exc)
        return frozenset(), frozenset()
    return frozenset(temporary), frozenset(permanent)


def _decode_addr(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value.strip().strip("<>").lower()
