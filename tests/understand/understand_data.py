"""Builds real email messages from the labelled reply set in tests/understand/data/.

Each JSON line holds what the mentor wrote (``body``) and how their client sent it
(``form``); this module wraps it the way that client would, around the student's
original message: Gmail's "On … wrote:" with ``>`` quotes on top or below, Outlook's
"From:/Sent:" block, an iPhone or Android reply, or HTML-only mail from Outlook or
Gmail. The classifier then reads the whole message, quoted history included, exactly
as it would read it from the mailbox.

The set is split once, by a hash of each reply's id, into a tuning half (rules may be
changed to fix its mistakes) and a test half (never used to change rules).
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
STUDENT = ("Priya Raman", "priya.raman@med.example.edu")

_ASKS = {
    "letter": (
        "Request for a letter of recommendation",
        "Dear Dr. {last},\n\nI hope you are well. I am applying to Internal Medicine residency "
        "programs through ERAS this cycle, and I would be honored if you would write a strong "
        "letter of recommendation on my behalf. The letter deadline is September 15.\n\nI "
        "would be happy to send my CV, personal statement draft and a summary of our work "
        "together.\n\nThank you for considering it.\n\nBest regards,\nPriya Raman\nMS4, "
        "Example School of Medicine",
    ),
    "fellowship": (
        "Letter for cardiology fellowship applications",
        "Dear Dr. {last},\n\nI am applying to cardiology fellowship programs this summer and "
        "would be grateful if you could write a letter of recommendation for me. Programs "
        "begin reviewing applications in mid-August.\n\nI can send my CV and a list of the "
        "cases we worked on together.\n\nWith thanks,\nPriya Raman, MD\nPGY-2, Internal "
        "Medicine",
    ),
    "research": (
        "Research opportunity in your group",
        "Dear Dr. {last},\n\nI am a second-year medical student and read your recent paper on "
        "sepsis biomarkers with great interest. Would you have space for a student in your "
        "group this summer? I would be glad to help with data collection and chart review, "
        "and I am happy to meet at your convenience.\n\nBest regards,\nPriya Raman",
    ),
    "reminder": (
        "Letter of recommendation - deadline September 15",
        "Dear Dr. {last},\n\nI hope you are well. This is a gentle reminder that the letter "
        "deadline is in two weeks (September 15). Thank you again for agreeing to write on "
        "my behalf; please let me know if I can send anything that would help.\n\nBest,\n"
        "Priya",
    ),
    "update": (
        "A quick update",
        "Dear Dr. {last},\n\nI wanted to share a quick update: I passed Step 2 CK and "
        "submitted my applications last week. No action is needed on your part - thank you "
        "again for all your support.\n\nWarm regards,\nPriya",
    ),
}
_DATE = "Mon, Mar 2, 2026 at 2:05 PM"


@dataclass(frozen=True)
class Reply:
    """One labelled mentor reply."""

    id: str
    label: str
    form: str
    voice: str
    ask: str
    sender: str
    body: str
    questions: tuple[str, ...]

    @property
    def half(self) -> str:
        """"tuning" or "test", fixed by the id alone (never by the label or the text)."""
        digest = hashlib.sha256(self.id.encode()).digest()
        return "test" if digest[0] % 2 else "tuning"


def load_replies() -> list[Reply]:
    replies: list[Reply] = []
    with (DATA / "intent_replies.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            rec = json.loads(line)
            replies.append(Reply(rec["id"], rec["label"], rec["form"], rec["voice"],
                                 rec["ask"], rec["from"], rec["body"],
                                 tuple(rec.get("questions", ()))))
    return replies


def _last_name(sender: str) -> str:
    name = email.utils.parseaddr(sender)[0] or "Smith"
    name = name.split(",")[0] if "," in name else name.split()[-1]
    return name.strip()


def _quoted(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in text.split("\n"))


def _outlook_block(reply: Reply, subject: str) -> str:
    return (f"From: {STUDENT[0]} <{STUDENT[1]}>\nSent: Monday, March 2, 2026 2:05 PM\n"
            f"To: {reply.sender}\nSubject: {subject}")


def _html_paragraphs(text: str, outlook: bool) -> str:
    out: list[str] = []
    for para in text.split("\n\n"):
        inner = "<br>\n".join(html.escape(line, quote=False) for line in para.split("\n"))
        if outlook:
            out.append(f'<p class="MsoNormal">{inner}<o:p></o:p></p>\n'
                       '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>')
        else:
            out.append(f"<div>{inner}</div><div><br></div>")
    return "\n".join(out)


def _body(reply: Reply) -> tuple[str, str]:
    """(content subtype, body) of the reply as the mentor's client would send it."""
    subject, template = _ASKS[reply.ask]
    original = template.format(last=_last_name(reply.sender))
    attribution = f"On {_DATE} {STUDENT[0]} <{STUDENT[1]}> wrote:"
    form, text = reply.form, reply.body
    if form == "plain":
        return "plain", text
    if form == "top":
        return "plain", f"{text}\n\n{attribution}\n\n{_quoted(original)}\n"
    if form == "bottom":
        return "plain", f"{attribution}\n{_quoted(original)}\n\n{text}\n"
    if form == "outlook":
        return "plain", (f"{text}\n\n________________________________\n"
                         f"{_outlook_block(reply, subject)}\n\n{original}\n")
    if form == "phone":
        return "plain", (f"{text}\n\nSent from my iPhone\n\n> On Mar 2, 2026, at 2:05 PM, "
                         f"{STUDENT[0]} <{STUDENT[1]}> wrote:\n>\n{_quoted(original)}\n")
    if form == "android":
        return "plain", (f"{text}\n\n\n\nSent from my Galaxy\n\n\n-------- Original message "
                         f"--------\nFrom: {STUDENT[0]} <{STUDENT[1]}>\nDate: 3/2/26 2:05 PM "
                         f"(GMT-05:00)\nTo: {reply.sender}\nSubject: {subject}\n\n{original}\n")
    if form == "html_gmail":
        return "html", (
            f'<div dir="ltr">{_html_paragraphs(text, outlook=False)}</div><br>'
            f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            f"{html.escape(attribution, quote=False)}<br></div>"
            f'<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
            f'border-left:1px solid rgb(204,204,204);padding-left:1ex">'
            f"{_html_paragraphs(original, outlook=False)}</blockquote></div>\n"
        )
    if form == "html_outlook":
        block = "<br>\n".join(
            f"<b>{html.escape(k)}:</b> {html.escape(v)}"
            for k, v in (line.split(": ", 1) for line in _outlook_block(reply, subject)
                         .split("\n"))
        )
        return "html", (
            '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
            '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            "<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt;} --></style></head>"
            '<body lang="EN-US"><div class="WordSection1">\n'
            f"{_html_paragraphs(text, outlook=True)}\n"
            '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
            f'<p class="MsoNormal">{block}<o:p></o:p></p></div>\n'
            f"{_html_paragraphs(original, outlook=True)}\n</div></body></html>\n"
        )
    raise ValueError(f"{reply.id}: unknown form {form!r}")


def build_message(reply: Reply) -> bytes:
    """The reply as raw RFC 5322 bytes, as it would arrive in the student's INBOX."""
    subject, _ = _ASKS[reply.ask]
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = reply.sender
    msg["To"] = f"{STUDENT[0]} <{STUDENT[1]}>"
    msg["Subject"] = f"Re: {subject}"
    msg["Date"] = "Tue, 03 Mar 2026 09:14:00 -0500"
    msg["Message-ID"] = f"<{reply.id}@mentor.example.org>"
    msg["In-Reply-To"] = "<ask-1@med.example.edu>"
    subtype, body = _body(reply)
    msg.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


@dataclass(frozen=True)
class TrimCase:
    """One reply-trimming case: a body as a mail client sends it, and its new text."""

    id: str
    client: str
    lang: str
    body: str
    expected: str
    quoted: str
    html: str | None
    text_part: str | None  # the text/plain part beside the HTML ("" when empty)
    related: bool  # the HTML sits in multipart/related with an inline image
    charset: str
    declared_charset: str | None  # what the header claims, when it differs
    sender: str | None
    expected_from: str | None


def load_trim_cases() -> list[TrimCase]:
    cases: list[TrimCase] = []
    with (DATA / "reply_trimming.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            rec = json.loads(line)
            cases.append(TrimCase(rec["id"], rec["client"], rec["lang"], rec["body"],
                                  rec["expected"], rec["quoted"], rec.get("html"),
                                  _text_part(rec), bool(rec.get("related")),
                                  rec.get("charset", "utf-8"), rec.get("declared_charset"),
                                  rec.get("from"), rec.get("expected_from")))
    return cases


def _text_part(rec: dict[str, object]) -> str | None:
    empty = rec.get("empty_text_part")
    if isinstance(empty, str):
        return empty
    return "" if empty else None


def build_trim_message(case: TrimCase) -> bytes:
    """The case as raw bytes: its charset, and an HTML part when it has one."""
    from email.mime.image import MIMEImage
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    msg: MIMEMultipart | MIMEText
    if case.html is not None:
        msg = MIMEMultipart("alternative")
        # Outlook and Apple Mail send an empty text/plain part beside the HTML at times.
        text = case.text_part if case.text_part is not None else case.body
        msg.attach(MIMEText(text, "plain", "utf-8"))
        html = MIMEText(case.html, "html", "utf-8")
        if case.related:
            related = MIMEMultipart("related")
            related.attach(html)
            logo = MIMEImage(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "gif")
            logo["Content-ID"] = "<logo>"
            related.attach(logo)
            msg.attach(related)
        else:
            msg.attach(html)
    else:
        msg = MIMEText(case.body, "plain", case.charset)
        if case.declared_charset is not None:
            # Some Japanese clients send ISO-2022-JP without saying so.
            msg.set_param("charset", case.declared_charset or "us-ascii")
    sender = case.sender or "Jane Roe <jroe@hospital.example.org>"
    head = (f"From: {sender}\r\nTo: {STUDENT[0]} <{STUDENT[1]}>\r\n"
            "Subject: Re: Letter of recommendation\r\nDate: Tue, 03 Mar 2026 09:14:00 -0500\r\n"
            f"Message-ID: <{case.id}@client.example.org>\r\n")
    return head.encode("ascii") + msg.as_bytes()
