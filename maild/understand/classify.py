"""Decide what kind of message this is: bounce, auto_reply, notification or human.

``kind`` keeps DESIGN.md's four values; ``subkind`` says which variety it is, so that
new varieties never break the ``maild inspect --json`` contract:

| kind | subkind |
| --- | --- |
| ``bounce`` | ``failure`` (the message was not delivered) or ``delay`` (still retrying) |
| ``auto_reply`` | ``out_of_office``, ``autoresponder`` (no absence stated), ``read_receipt`` |
| ``notification`` | ``letter_service``, ``challenge`` (challenge/response: the recipient's
  filter asks the sender to verify), ``bulk`` (newsletters, lists), ``ticket`` (help-desk
  systems), ``delivery_report`` (a DSN without failure), ``feedback_report`` (ARF),
  ``automated`` (another machine-sent notice) |
| ``human`` | ``reply`` |

Signals, strongest first:

1. A challenge/response request ("add yourself to my approved senders", "confirm you
   are a real person to have your message delivered") is a ``notification``: the
   message is held, not refused — unless a delivery-status report says it failed.
2. bounce — see ``bounce.bounce_evidence`` (RFC 3464 reports, X-Failed-Recipients,
   mail-system senders with failure wording, null-sender rejections, flufl.bounce).
3. Other machine reports: an abuse/feedback report (ARF) or a delivery *success* notice
   is a ``notification``; a read receipt (RFC 8098) is an ``auto_reply``.
4. A letter service or portal ("a letter from Dr. X has been received") is a
   ``notification`` — checked before auto-reply headers, which such services also send.
5. ``auto_reply``: RFC 3834 ``Auto-Submitted: auto-replied``, ``X-Autoreply``,
   ``X-Autorespond``, ``Precedence: auto_reply|junk``, Apple's ``X-Apple-Action:
   VACATION``, Exchange's ``X-MS-Exchange-Inbox-Rules-Loop``, "Automatic reply:"-style
   subjects, a null Return-Path, and — when headers say nothing — out-of-office wording
   that is not part of a real answer. ``X-Auto-Response-Suppress`` alone is not a signal:
   Outlook puts it on ordinary mail too.
6. Mail that machines send without replying to anything — ``Auto-Submitted:
   auto-generated`` (ticket systems), ``Precedence: bulk|list``, ``List-Id`` — is a
   ``notification``, unless it states an absence (the Unix vacation program marks its
   replies ``Precedence: bulk``; some out-of-office tools say ``auto-generated``).
7. Otherwise ``human``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from maild.understand.bounce import bounce_evidence, sender_is_mail_system
from maild.understand.intent import detect_intent
from maild.understand.message import ParsedMessage

Kind = Literal["bounce", "auto_reply", "notification", "human"]
Subkind = Literal["failure", "delay", "out_of_office", "autoresponder", "read_receipt",
                  "letter_service", "challenge", "bulk", "ticket", "delivery_report",
                  "feedback_report", "automated", "reply"]

_AUTO_SUBJECT = re.compile(
    r"^\s*(\[?auto(matic|matische)?[- ]?(reply|response|respons|antwort|answer)\]?|auto:|autoreply"
    r"|out of (the )?office|ooo\b|away from (the |my )?(office|desk|email)|on vacation|vacation"
    r"( reply| message)?\s*:|abwesenheit|réponse automatique|respuesta automática"
    r"|risposta automatica|automatisch antwoord|i am (out|away)|currently (out|away))",
    re.IGNORECASE,
)
_OOF_BODY = re.compile(
    r"\b(i am|i'm|i will be|i'll be|i am currently|i'm currently)\s+(currently\s+)?(out of (the )?"
    r"office|away from (the |my )?(office|desk|email)|on (annual |parental |medical |maternity "
    r"|paternity |sick |study )?(leave|vacation|holiday|sabbatical)|travel+ing|attending a "
    r"(conference|meeting)|away|out)\b"
    r"|\b(limited|no|intermittent|restricted) access to (e-?mail|my e-?mail|email and phone)"
    r"|\b(respond|reply|get back to you|answer)\b[^.\n]{0,40}\b(upon|on|after|when) (my |i )?return"
    r"|\bthis (e-?mail )?(inbox|mailbox|address) is no longer in use"
    r"|\bthank you for your (e-?mail|message)\.\s+i am (currently )?(out|away)"
    r"|\bis closed (for|until)\b|\bwill (return|be back) (to the office )?on\b",
    re.IGNORECASE,
)
_NOTICE_SENDER = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|notifications?|notify|alerts?|mailer|system|portal"
    r"|support|admissions|eras|info|automated|auto)\b|noreply|no-reply|donotreply",
    re.IGNORECASE,
)
_LETTER_NOTICE = re.compile(
    r"\b(letter|recommendation|reference|evaluation|lor)s?\b[^.\n]{0,80}\b(received|uploaded|"
    r"submitted|added|sent to|request|outstanding|pending|completed)"
    r"|\b(has|have) (submitted|uploaded|completed) (a|an|the|their|your) (letter|recommendation|"
    r"evaluation|reference)"
    r"|\b(received|added) (a|an|the|your) (confidential )?(letter|recommendation|evaluation|refere"
    r"nce)"
    r"|\b(letter writer|recommender|evaluator|letter author)\b|\bdossier\b|\binterfolio\b"
    r"|\bletter request\b",
    re.IGNORECASE,
)
# Challenge/response filters (Spam Arrest, Boxbe, Mailblocks, sender verification): the
# message is held until the sender proves to be a person or gets on a list.
_CHALLENGE = re.compile(
    r"\b(?:approved|authori[sz]ed|allowed|accepted) senders?\b|\bguest ?list\b|\bwaitlisted\b"
    r"|\bwhite-?list(?:ed)?\b|\bchallenge[- ]response\b|\bsender verification\b"
    r"|\bpending (?:sender )?verification\b|\bverify (?:that )?you are (?:a )?(?:real|human)"
    r"|\bconfirm (?:that )?you are (?:a )?(?:real |human)|\bare you (?:a )?human\b"
    r"|\bto have your (?:message|e-?mail) delivered\b|\bspam ?arrest\b|\bboxbe\b"
    r"|\bmailblocks\b|\bbluebottle\b|\bverify your (?:e-?mail|address|message)\b",
    re.IGNORECASE,
)
_CHALLENGE_HEADERS = ("X-Spam-Arrest", "X-Boxbe-Notify", "X-Challenge", "X-Mailblocks")
# Help-desk and ticket systems (RT, Zendesk, Jira, Freshdesk, OTRS).
_TICKET = re.compile(
    r"\bticket\b|\brequest (?:#|id|number)|\brequest \(?#\d|\[[\w.-]+ #\d+\]|\bcase (?:#|number)"
    r"|\b[A-Z]{2,10}-\d{2,7}\b|\byour request\b[^.\n]{0,40}\bhas been (?:received|created|logged)"
    r"|\bsupport (?:team|staff)\b",
    re.IGNORECASE,
)
_AUTOMATED_WORDING = re.compile(
    r"do not reply|don'?t reply|automated message|automatically generated|notification-only"
    r"|not monitored|this mailbox is not|unsubscribe|log ?in to your account",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Classification:
    """The kind of a message, its variety, and the signal that decided it."""

    kind: Kind
    evidence: str
    bounce_evidence: str | None = None
    subkind: Subkind = "reply"


def classify(msg: ParsedMessage) -> Classification:
    """Classify one parsed message."""
    challenge = _challenge(msg)
    if challenge:
        return Classification("notification", challenge, subkind="challenge")
    evidence = bounce_evidence(msg)
    if evidence:
        return Classification("bounce", evidence, bounce_evidence=evidence, subkind="failure")
    if msg.report_type == "feedback-report" or "message/feedback-report" in msg.part_types:
        return Classification("notification", "abuse/feedback report (ARF)",
                              subkind="feedback_report")
    if msg.report_type == "disposition-notification" or (
        "message/disposition-notification" in msg.part_types
    ):
        return Classification("auto_reply", "read receipt (message/disposition-notification)",
                              subkind="read_receipt")
    if msg.delivery_status:
        return Classification("notification", "delivery-status report without a failure",
                              subkind="delivery_report")
    if sender_is_mail_system(msg) and _AUTOMATED_WORDING.search(msg.all_text[:16384]):
        return Classification("notification", "mail-system sender", subkind="automated")

    notice = _letter_service_notice(msg)
    if notice:
        return Classification("notification", notice, subkind="letter_service")
    machine = _machine_sent(msg)
    if machine:
        return machine
    header = _auto_reply_header(msg)
    if header:
        return Classification("auto_reply", header, subkind=_auto_reply_subkind(msg))
    body = _auto_reply_body(msg)
    if body:
        return Classification("auto_reply", body, subkind="out_of_office")
    if _NOTICE_SENDER.search(msg.from_address.split("@", 1)[0]) and _AUTOMATED_WORDING.search(
        msg.all_text[:16384]
    ):
        return Classification("notification", f"automated sender {msg.from_address}",
                              subkind="automated")
    return Classification("human", "no automated-message signal")


def _challenge(msg: ParsedMessage) -> str | None:
    """A challenge/response request, unless a delivery report says the message failed."""
    if any(d.action in ("failed", "delayed") for d in msg.delivery_status):
        return None
    for name in _CHALLENGE_HEADERS:
        if msg.get(name) is not None:
            return f"{name} header (challenge/response)"
    text = msg.subject + "\n" + msg.new_text[:8192]
    found = _CHALLENGE.search(text)
    if not found:
        return None
    # A person may mention an approved-senders list in passing; a challenge comes from
    # a machine: automated headers, a null sender, or a link to act on.
    machine = bool(
        (msg.get("Auto-Submitted") or "no").strip().lower() != "no"
        or (msg.get("Return-Path") or "").strip() == "<>"
        or (msg.get("Precedence") or "").strip().lower() in ("junk", "bulk", "auto_reply")
    )
    if machine or re.search(r"https?://", text):
        return f"challenge/response request {found.group(0)!r}"
    return None


def _states_absence(msg: ParsedMessage) -> bool:
    text = msg.subject + "\n" + msg.new_text[:8192]
    return bool(_OOF_BODY.search(text) or _AUTO_SUBJECT.search(msg.subject))


def _auto_reply_subkind(msg: ParsedMessage) -> Subkind:
    return "out_of_office" if _states_absence(msg) else "autoresponder"


def _machine_sent(msg: ParsedMessage) -> Classification | None:
    """Mail a machine sends on its own (ticket systems, newsletters, lists): not a reply.

    RFC 3834 keeps ``auto-generated`` for messages that answer nothing; an out-of-office
    that uses it, or the vacation program's ``Precedence: bulk``, still states an absence.
    """
    auto = (msg.get("Auto-Submitted") or "").strip().lower()
    precedence = (msg.get("Precedence") or "").strip().lower()
    listed = msg.get("List-Id") is not None or msg.get("List-Unsubscribe") is not None
    if auto.startswith("auto-replied"):
        return None
    if not (auto.startswith("auto-") or precedence in ("bulk", "list") or listed):
        return None
    if _states_absence(msg):
        return None
    text = msg.subject + "\n" + msg.text[:8192]
    if auto.startswith("auto-") and _TICKET.search(text):
        return Classification("notification", f"ticket system (Auto-Submitted: {auto})",
                              subkind="ticket")
    if auto.startswith("auto-"):
        return Classification("notification", f"Auto-Submitted: {auto}", subkind="automated")
    what = f"Precedence: {precedence}" if precedence in ("bulk", "list") else "mailing-list headers"
    return Classification("notification", f"bulk mail ({what})", subkind="bulk")


def _auto_reply_header(msg: ParsedMessage) -> str | None:
    auto_submitted = (msg.get("Auto-Submitted") or "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation"):
        if msg.get(name) is not None:
            return f"{name} header"
    precedence = (msg.get("Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"Precedence: {precedence}"
    if "vacation" in (msg.get("X-Apple-Action") or "").lower():
        return "X-Apple-Action: VACATION"
    if msg.get("X-MS-Exchange-Inbox-Rules-Loop") is not None:
        return "X-MS-Exchange-Inbox-Rules-Loop header (Exchange rule reply)"
    source = (msg.get("X-MS-Exchange-Generated-Message-Source") or "").lower()
    if source.startswith("mailbox rules"):
        return "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"
    if _AUTO_SUBJECT.search(msg.subject):
        return f"subject {msg.subject[:60]!r}"
    if (msg.get("Return-Path") or "").strip() == "<>":
        return "null Return-Path"
    return None


def _auto_reply_body(msg: ParsedMessage) -> str | None:
    """Out-of-office wording, when the headers say nothing.

    A mentor may mention travel inside a real answer ("I'm traveling, but yes, happy
    to"), so wording counts only when the text decides nothing about the ask.
    """
    new_text = msg.new_text[:8192]
    match = _OOF_BODY.search(new_text)
    if not match:
        return None
    intent = detect_intent(new_text)
    if intent.intent not in ("unclear", "question"):
        return None
    hits = len(_OOF_BODY.findall(new_text))
    if hits < 2 and "?" in new_text:
        return None
    return f"out-of-office wording {match.group(0)!r}"


def _letter_service_notice(msg: ParsedMessage) -> str | None:
    local = msg.from_address.split("@", 1)[0]
    automated = bool(
        _NOTICE_SENDER.search(local)
        or (msg.get("Auto-Submitted") or "no").lower().startswith("auto-generated")
        or (msg.get("Precedence") or "").lower() in ("bulk", "list")
    )
    if not automated:
        return None
    text = msg.subject + "\n" + msg.text[:16384]
    if _OOF_BODY.search(text):
        return None
    match = _LETTER_NOTICE.search(text)
    if match:
        return f"letter-service notice {match.group(0)!r}"
    return None
