"""``inspect_message``: everything maild understands about one raw message.

This is the one entry point the rest of maild (the watcher, ``maild inspect``) calls.
It is pure: bytes in, a frozen ``Inspection`` out; no network, clock or filesystem. It
never raises on hostile input except ``MessageParseError`` for bytes that are not an
email at all; anything unexpected inside is logged and degrades to the safest answer
(``human`` / ``unclear``, which the user confirms), never to a wrong certainty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from maild.errors import MessageParseError
from maild.understand.bounce import BounceInfo, analyze_bounce
from maild.understand.classify import Classification, Kind, Subkind, classify
from maild.understand.intent import Intent, detect_intent, notice_says_submitted
from maild.understand.message import ParsedMessage, parse_message, received_date
from maild.understand.ooo import return_date
from maild.understand.replytext import strip_signature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inspection:
    """The understanding of one message; ``to_json`` is DESIGN.md's contract."""

    kind: Kind
    intent: Intent | None
    return_date: date | None
    bounce: BounceInfo | None
    reply_text: str
    new_text: str
    evidence: str | None
    kind_evidence: str
    subject: str
    from_address: str
    message_id: str | None
    in_reply_to: str | None
    evidence_sentences: tuple[str, ...] = ()
    confidence: float | None = None
    questions: tuple[str, ...] = ()
    subkind: Subkind = "reply"

    @property
    def needs_review(self) -> bool:
        """A human reply (or notice) whose meaning the user should confirm."""
        return self.intent == "unclear"

    def to_json(self) -> dict[str, object]:
        """DESIGN.md's keys (kind, intent, return_date, bounce, reply_text) plus extras."""
        bounce_json: dict[str, object] | None = None
        if self.bounce is not None:
            bounce_json = self.bounce.to_json()
            bounce_json["delayed"] = self.bounce.delayed
            bounce_json["original_message_id"] = self.bounce.original_message_id
        return {
            "kind": self.kind,
            "subkind": self.subkind,
            "intent": self.intent,
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "bounce": bounce_json,
            "reply_text": self.reply_text,
            "evidence": self.evidence,
            "kind_evidence": self.kind_evidence,
            "new_text": self.new_text,
            "subject": self.subject,
            "from": self.from_address,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "evidence_sentences": list(self.evidence_sentences),
            "confidence": self.confidence,
            "questions": list(self.questions),
            "needs_review": self.needs_review,
        }


def inspect_message(raw: bytes) -> Inspection:
    """Understand one raw message; MessageParseError if ``raw`` is not an email.

    Nothing else ever escapes: parse_message guards every decoding path, and a bug in
    a heuristic below degrades the answer instead of raising.
    """
    try:
        msg = parse_message(raw)
    except MessageParseError:
        raise
    except Exception as exc:
        log.debug("cannot read message", exc_info=True)
        raise MessageParseError(f"cannot read message ({type(exc).__name__})") from exc
    try:
        return _inspect(msg)
    except MessageParseError:
        raise
    except Exception as exc:
        # A bug in a heuristic must not stop the daemon (invariant 5); the user will
        # see an unclear human message and decide. The traceback is for -vv only.
        log.warning("inspection failed (%s); reporting the message as unclear",
                    type(exc).__name__)
        log.debug("inspection failure", exc_info=True)
        text = msg.text[:4096]
        return Inspection("human", "unclear", None, None, text.strip(), text.strip(), None,
                          "inspection error", msg.subject, msg.from_address,
                          msg.get("Message-ID"), msg.get("In-Reply-To"))


def _inspect(msg: ParsedMessage) -> Inspection:
    verdict: Classification = classify(msg)
    new_text = msg.new_text
    text = strip_signature(new_text)
    intent: Intent | None = None
    evidence: str | None = None
    sentences: tuple[str, ...] = ()
    confidence: float | None = None
    questions: tuple[str, ...] = ()
    bounce: BounceInfo | None = None
    back: date | None = None
    subkind: Subkind = verdict.subkind
    if verdict.kind == "bounce":
        bounce = analyze_bounce(msg, verdict.bounce_evidence or verdict.evidence)
        evidence = bounce.diagnostic or verdict.evidence
        subkind = "delay" if bounce.delayed else "failure"
    elif verdict.kind == "auto_reply":
        back = return_date(msg.subject + "\n" + new_text, msg.date or received_date(msg),
                           msg.get("X-Apple-Criteria"))
        evidence = verdict.evidence
    elif verdict.kind == "notification":
        said = notice_says_submitted(text)
        if said:
            intent, evidence, sentences, confidence = "submitted", said, (said,), 0.9
        else:
            evidence = verdict.evidence
    else:
        result = detect_intent(text)
        intent, evidence = result.intent, result.evidence
        sentences, confidence, questions = result.sentences, result.confidence, result.questions
    return Inspection(
        kind=verdict.kind,
        intent=intent,
        return_date=back,
        bounce=bounce,
        reply_text=text,
        new_text=new_text,
        evidence=evidence,
        kind_evidence=verdict.evidence,
        subject=msg.subject,
        from_address=msg.from_address,
        message_id=msg.get("Message-ID"),
        in_reply_to=msg.get("In-Reply-To"),
        evidence_sentences=sentences,
        confidence=confidence,
        questions=questions,
        subkind=subkind,
    )
