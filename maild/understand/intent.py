"""What a mentor's reply says about the ask: agree, hesitant, decline, question, meeting,
submitted — or unclear when the evidence is weak.

Rules over phrases, not a trained model: the phrases people use to say yes, no, "yes
but" and "done" are few and well known, and a rule can show the user the phrase that
decided it. Each rule carries a class; the decision combines the classes found:

* ``submitted`` wins (the letter is in: every reminder must stop);
* a yes with a caveat ("I could, but you may want someone who…") is ``hesitant``;
* a refusal of the ask is ``decline`` — unless it comes with a plain yes, which makes the
  message contradictory and therefore ``unclear``;
* a proposed time, a scheduler link or an assistant handling the calendar is ``meeting``;
* a plain yes is ``agree`` (a yes that also asks for the CV is still a yes);
* a question back, with nothing else decided, is ``question``.

Wrong certainty is worse than ``unclear``: nothing matched means ``unclear``.
Replies written by an assistant on the mentor's behalf are read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.core.model import IntentName

Intent = IntentName  # the names of maild.core.model.Intent, as this module reads them

_MAX_CHARS = 8 * 1024

_SUBMITTED = re.compile(
    r"\b(i(?:'ve| have)?|we(?:'ve| have)?|she(?:'s| has)?|he(?:'s| has)?|dr\.? \w+ (?:has)?)\s+"
    r"(?:just |now |already |finally |successfully )?(?:completed and )?"
    r"(submitted|uploaded|sent (?:off |in )?(?:the|my|your|her|his) (?:letter|recommendation|"
    r"evaluation|reference)|sent it|filed|completed (?:and submitted )?(?:the|my|your) "
    r"(?:letter|recommendation|reference|evaluation))"
    r"|\b(letter|recommendation|reference|evaluation)s?\b(?!\s+request)"
    r"(?:(?!\b(?:who|that|which|if|when|for)\b)[^.?!\n]){0,40}"
    r"\b(?:(?:has|have) (?:now |just |already )?been |(?:was|were) (?:just |already )?|is (?:now )"
    r"?)"
    r"(submitted|uploaded|sent|received|completed|in\b|done\b)"
    r"|\bhas (submitted|uploaded|completed) (a|an|the|their|your|my|her|his) (letter|recommendation"
    r"|evaluation|reference)"
    r"|\bmy letter is in\b|\bletter'?s in\b|\b(done|all set)\b[^.?!\n]{0,30}\b(uploaded|submitted|"
    r"sent)"
    r"|\bletter (?:submitted|uploaded|sent)\b",
    re.IGNORECASE,
)
_NOT_YET = re.compile(r"\b(not yet|haven'?t|have not|hasn'?t|will|going to|once|when|after|before"
                      r"|if|should|let me know|make sure)\b", re.IGNORECASE)

_HESITANT = re.compile(
    r"\b(i|we) (could|can|can probably|could probably|would be willing to|am willing to|'d be will"
    r"ing"
    r" to|'m willing to|'m happy to|am happy to|'d be happy to|would be happy to)\b[^.?!\n]{0,80}"
    r"\b(but|although|though|however)\b"
    r"|\b(you )?(may|might) (want|wish|prefer) (to ask |to consider )?(someone|another|others|a "
    r"letter from)"
    r"|\b(may|might) be better served"
    r"|\bnot (sure|certain) (that )?i(?:'m| am)? (know|the best|the right|would be the|can (get|do"
    r"))"
    r"|\bnot (be )?as strong as\b|\bwould (necessarily )?be (fairly |rather |quite )?(brief|general"
    r"|short|generic)\b|\bfairly general\b"
    r"|\b(line up|ask|have) (one or two |a )?(backup|back-up|others? who know|someone who knows)"
    r"|\byes,? in principle\b|\bif you can'?t (get|find)\b[^.?!\n]{0,40}\b(come back|let me know|"
    r"ask me)"
    r"|\bwould carry more weight\b",
    re.IGNORECASE | re.MULTILINE,
)
_DECLINE = re.compile(
    r"\b(i|we)(?:'m| am| are)? (?:afraid |sorry |regret(?:fully)? )?(?:i |we )?"
    r"(won'?t|will not|wouldn'?t|cannot|can'?t|can not|am unable|'m unable|are unable|am not able"
    r"|'m not able|are not able|will be unable|won'?t be able|will not be able|am not going)"
    r"\b[^.?!\n]{0,40}\b(write|take on|take you|commit|support|supervise|mentor|provide|serve|do it"
    r"|do this|help|accept|agree|writing|letters?)\b"
    r"|\bunable to (write|take on|commit|provide|serve|supervise|mentor)"
    r"|\bunfortunately,? (i |we )?(cannot|can'?t|won'?t be able|am unable|will not be able|am not"
    r" able)\b"
    r"|\b(have|need|must) to (decline|pass|say no)\b|\bi'?ll have to (decline|pass|say no)"
    r"|\bnot taking (on )?(any )?(new|more|additional)\b"
    r"|\b(lab|group|team) is (at|over|full) (capacity)?|\bat capacity\b"
    r"|\bdon'?t (think|believe) i(?:'m| am) the (right|best) person"
    r"|\bdon'?t (think|believe) i (know you|can write)|\bnot the (right|best) person\b"
    r"|\bdon'?t have (the )?(bandwidth|capacity|time)\b|\btoo much on my plate\b"
    r"|\bmy plate is (too )?full\b|\bstretched (too )?thin\b"
    r"|\bonly (write|writing) letters for\b[^.?!\n]{0,80}"
    r"|\bnot (be )?in a position to\b|\bwould not want to (send|write) a (lukewarm|weak)",
    re.IGNORECASE,
)
_MEETING = re.compile(
    r"calendly\.com|doodle\.com|\bschedul\w* (a |an |some )?(time|meeting|call|slot|chat|zoom)"
    r"|\b(set up|find|grab|book|pick) (us |a |some )?(a )?(time|call|meeting|slot|\d+ ?min)"
    r"|\b(let'?s|we should|i'?d like to|i would like to|i'?d love to|happy to|glad to) "
    r"(meet|chat|talk|speak|discuss (this |it )?in person|set up a (call|meeting|time))"
    r"|\b(come|stop|swing) by\b|\boffice hours\b"
    r"|\b(available|availability|free|work for you|works for you)\b[^.?!\n]{0,60}\b(\d{1,2}(:\d\d)?"
    r" ?(am|pm)|monday|tuesday|wednesday|thursday|friday|at \d)"
    r"|\b(monday|tuesday|wednesday|thursday|friday)\b[^.?!\n]{0,30}\b(at|around) \d{1,2}"
    r"|\bhow does \w+day\b|\bzoom\b|\bteams call\b|\bphone call\b"
    r"|\b(my|his|her) (assistant|office|scheduler|coordinator)\b[^.?!\n]{0,60}\b(schedul|find|cale"
    r"ndar"
    r"|set up|arrange)|\bmanage (his|her|my) calendar\b|\bto schedule a meeting\b"
    r"|\bspeak with you\b|\b\d+[- ]minute\b",
    re.IGNORECASE,
)
_AGREE = re.compile(
    r"\b(i|we)(?:'d| would| will|'ll| am|'m| can| could)? (?:be )?(?:very |more than |absolutely |"
    r"certainly |of course )?(?:happy|glad|delighted|honou?red|pleased|thrilled|willing) to"
    r"\b[^.?!\n]{0,60}\b(write|do|help|support|serve|have you|provide|recommend|it|you)"
    r"|\bit would be (my|a) (pleasure|privilege|honou?r)\b"
    r"|\bi (will|can|'ll|could) (certainly |definitely |absolutely |gladly )?(write|do it|do this|"
    r"provide)\b"
    r"|\bi can certainly\b|^\s*(yes|yep|yeah|sure|of course|absolutely|definitely|certainly|"
    r"sounds good|will do|happy to|glad to|gladly|count me in|no problem)\b"
    r"|\b(yes|sure thing|count me in|will do|glad to help|happy to help|happy to do it|of course"
    r"|absolutely)\b[,.!]"
    r"|\bwelcome aboard\b|\bhappy to have you\b|\bwould be (very )?happy to have you\b",
    re.IGNORECASE | re.MULTILINE,
)
_QUESTION = re.compile(r"[^.?!\n]{3,200}\?")
_NOT_A_QUESTION = re.compile(r"\b(let me know|if you have (any )?questions)\b", re.IGNORECASE)


@dataclass(frozen=True)
class IntentResult:
    """The decided intent and the phrase that decided it (None for unclear)."""

    intent: Intent
    evidence: str | None


_NOTICE_RECEIVED = re.compile(
    r"\b(we )?(have )?received (a|an|the|your) (confidential )?(letter|recommendation|evaluation"
    r"|reference)s?\b(?!\s+request)",
    re.IGNORECASE,
)


def notice_says_submitted(text: str) -> str | None:
    """For a letter-service notice: the phrase saying a letter arrived, or None."""
    text = _normalise(text[:_MAX_CHARS])
    result = detect_intent(text)
    if result.intent == "submitted":
        return result.evidence
    match = _first_affirmative(_NOTICE_RECEIVED, text)
    return _sentence_of(text, match.start(), match.end()) if match else None


def _normalise(text: str) -> str:
    # "Dr. Okafor" must not end a sentence for the phrase rules.
    return re.sub(r"\b(Dr|Mr|Mrs|Ms|Prof|St)\.", r"\1", text)


def detect_intent(text: str) -> IntentResult:
    """Classify the new text of a human reply (quotes and signature already removed)."""
    text = _normalise(text[:_MAX_CHARS])
    found: dict[str, str] = {}
    for name, pattern in (
        ("submitted", _SUBMITTED), ("hesitant", _HESITANT), ("decline", _DECLINE),
        ("meeting", _MEETING), ("agree", _AGREE),
    ):
        match = _first_affirmative(pattern, text) if name == "submitted" else pattern.search(text)
        if match:
            found[name] = _sentence_of(text, match.start(), match.end())
    question = _question(text)

    if "submitted" in found:
        return IntentResult("submitted", found["submitted"])
    if "hesitant" in found:
        return IntentResult("hesitant", found["hesitant"])
    if "decline" in found:
        if "agree" in found:
            if _is_scheduling_refusal(found["decline"]):
                return IntentResult("meeting", found.get("meeting") or found["agree"])
            return IntentResult("unclear", None)
        return IntentResult("decline", found["decline"])
    if "meeting" in found:
        return IntentResult("meeting", found["meeting"])
    if "agree" in found:
        return IntentResult("agree", found["agree"])
    if question:
        return IntentResult("question", question)
    return IntentResult("unclear", None)


def _first_affirmative(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match not hedged as future or negated ("once I have submitted it")."""
    for match in pattern.finditer(text):
        start = max(text.rfind(c, 0, match.start()) for c in ".!?\n") + 1
        lead = text[start : match.start()]
        inside = match.group(0)
        if _NOT_YET.search(lead) or re.search(r"\b(not|n't|will|once)\b", inside, re.IGNORECASE):
            continue
        return match
    return None


def _is_scheduling_refusal(sentence: str) -> bool:
    return bool(re.search(r"\b(meet|make it|that time|that day|call)\b", sentence, re.IGNORECASE))


def _question(text: str) -> str | None:
    for match in _QUESTION.finditer(text):
        sentence = match.group(0).strip()
        if _NOT_A_QUESTION.search(sentence):
            continue
        return sentence
    return None


def _sentence_of(text: str, start: int, end: int) -> str:
    """The sentence around a match, as evidence a person can read."""
    left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    rights = [i for i in (text.find(c, end) for c in ".!?\n") if i >= 0]
    right = min(rights) + 1 if rights else len(text)
    return " ".join(text[left:right].split())[:300]
