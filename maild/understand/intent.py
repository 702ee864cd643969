"""What a mentor's reply says about the ask — and how sure maild is of it.

Rules over phrases, not a trained model: the ways people say yes, "yes, but", no and
"done" are few and well known, and a rule can show the user the sentences that decided
it. The text is cut into sentences and each sentence is searched for cues:

* **commit** — the writer takes the ask on ("I'd be happy to write", "I'll do it",
  "count me in", "she has agreed to serve"); a wish ("I'd love to help") is weaker;
* **hedge** — a condition or a warning about the letter ("as long as the deadline is
  after October", "it would be fairly brief", "someone who knows you better", "I'll
  try", "in principle");
* **refusal** ("I can't", "I'll have to pass", "not taking new students") and a
  **reason to refuse** ("I don't know you well enough", "not the right person");
* **meeting** (a time, a call, a scheduling link), **question**, **submitted** (the
  letter is in), **deferral** ("let me think", "I'll get back to you").

The decision, most costly mistake first:

1. ``submitted`` when the letter is said to be in (past tense, not negated).
2. A refusal is ``decline`` — also with an offer to chat or meet. With a yes in the
   same sentence ("happy to, but I can't") the refusal wins; with a yes bounded by a
   condition ("happy to, as long as it's after November; I'm at capacity until then")
   it is ``hesitant``; with a yes elsewhere the message contradicts itself: ``unclear``.
3. A yes with any hedge is ``hesitant``, never ``agree`` (an agree sends a materials
   packet; a hesitant yes asks for backups). A reason to refuse without a commitment
   ("I'd love to help, but I'm not the right person") is ``decline``.
4. A meeting proposal without a yes, or before deciding, is ``meeting``.
5. A yes is ``agree``; the questions it asks are surfaced (``questions``).
6. A question that decides nothing is ``question``; deferrals and thanks are ``unclear``.

Each answer carries the sentences that decided it and a confidence; below
``MIN_CONFIDENCE`` (thin evidence: a bare "Ok") the answer is ``unclear`` and the user
reads the message: a wrong certainty costs more than a question to the user. Replies an
assistant writes on the mentor's behalf ("Dr. Hamada asked me to let you know that she
is happy to…") are read for what they say: the cues accept she/he/Dr. X as subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.core.model import IntentName

Intent = IntentName  # the names of maild.core.model.Intent, as this module reads them

_MAX_CHARS = 8 * 1024
# Below this the evidence is too thin to act on; the answer becomes "unclear".
MIN_CONFIDENCE = 0.6
_MAX_QUESTIONS = 5

_I = re.IGNORECASE
# Who can take an ask on: the mentor, or the mentor named by an assistant.
_SUBJ = r"(?:i|we|she|he|they|dr\.? [a-z][\w'-]+|prof(?:essor|\.)? [a-z][\w'-]+)"
_CONTRAST = r"(?:but|though|although|however|that said|unfortunately|sadly|regrettably)"


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), _I)


# ---------------------------------------------------------------- cues
_COMMIT = _rx(
    # "happy to write", "she is pleased to write", "glad to do it", "willing to help"
    r"\b(?:happy|glad|delighted|pleased|honou?red|thrilled|willing|more than happy)\s+to\s+"
    r"(?:write|do|help|support|serve|provide|recommend|have you|take you|assist|oblige"
    r"|be (?:a|one of your|your) (?:letter|reference|referee|recommender|writer))\b",
    # a bare "Happy to." / "Glad to -" / "Happy to, as long as…"
    r"\b(?:happy|glad)\s+to(?=\s*(?:[.!,;:]|[-–—]\s|$))",
    r"\b(?:it (?:would|will) be|it'd be|it's|it is)\s+(?:my|a|an)\s+(?:great\s+|real\s+)?"
    r"(?:pleasure|privilege|honou?r)\b",
    r"\bwith (?:much |great )?pleasure\b",
    # "I'll write it", "I can certainly write a letter", "I could write you a letter"
    rf"\b{_SUBJ}\s*(?:will|'ll|can|shall|would|could|'d)\s+(?:certainly |definitely |absolutely "
    r"|gladly |happily |of course |surely |still )?(?:write|do)\s+(?:it|this|that|one|so|you\b"
    r"|(?:a|the|your|my|this|that)\s+(?:[\w']+\s+){0,2}?(?:letter|recommendation|reference)"
    r"|for you|something)\b",
    rf"\b{_SUBJ}\s*(?:will|'ll|can|'d|would)\s+(?:certainly |definitely |gladly |happily )?help\b",
    r"\b(?:i|we)\s+(?:am\s+)?agree(?:d)?\s+to\s+(?:write|serve|be|provide|support|help)\b",
    r"\b(?:has|have)\s+agreed\s+to\b",
    r"\bcount me in\b|\byou bet\b|\bdone deal\b|\bhappy to help\b|\bglad to help\b",
    # research and mentorship asks
    r"\bwelcome aboard\b|\b(?:happy|glad|love|delighted|pleased) to have you\b",
    r"\bthere(?: is|'s) (?:definitely |certainly |always )?(?:a spot|room|space|a place) for you\b",
    r"\b(?:i|we) (?:have|'ve got) (?:room|space|a spot|a place) for (?:one more|you|a student)\b",
    r"\bjoin us\b|\bjoin (?:the|our) (?:lab|group|team|project)\b",
)
# A yes given as a word at the start of a sentence: "Yes.", "Sure thing", "Of course".
_YES_WORD = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|sure thing|of course|absolutely|certainly|definitely"
    r"|totally|gladly|will do|no problem|with pleasure)\b(?!\s*(?:not|n't))", _I,
)
# Weaker forms of yes: enough together with a hedge (hesitant) or with other support.
_WEAK_YES = _rx(
    r"\b(?:would|will|'d)\s+(?:love|like)\s+to\s+(?:help|have you|write|do it|support)\b",
    r"\b(?:would|'d) love to(?=\s*(?:[.!,;]|$))",
    r"\b(?:i|we)\s+(?:could|can)(?=\s*(?:,|\bbut\b|\bthough\b|\.|!|$))",
    r"\b(?:i|we)\s+(?:don't|do not)\s+mind\s+(?:writing|doing|helping)\b",
    r"\b(?:i'm|i am|i'd be|i would be|she is|he is)\s+willing\b",
    r"\b(?:i|we)\s+(?:think i\s+)?could (?:probably |possibly )?(?:write|do|manage)\b",
)
_SUPPORT = _rx(
    # a commitment to the next step, or a request for the materials
    r"\b(?:i|we)(?:'ll| will)\s+(?:get it (?:in|done|uploaded|submitted)|upload|submit"
    r"|send (?:it|the letter))\b",
    r"^(?:please\s+)?(?:send|forward|email)\s+(?:me\s+)?(?:your|the|a|over|materials|stuff"
    r"|cv|what)\b",
)
_WEAK_WORD = re.compile(r"^(?:ok(?:ay)?|fine|alright|all right|sounds good)\b(?!\s*\?)", _I)

# Hedges that make any yes hesitant, and that are hesitant on their own.
_HEDGE_ALONE = _rx(
    r"\byes,? in principle\b|\bin principle,? yes\b|\bin theory,? (?:yes|i could)\b",
    r"^maybe\b|\bmaybe\s*[-–—,]\s*(?:depends|if)\b",
    rf"\b{_SUBJ}(?:'ll| will)\s+try\b|\bi'll try\b|\bno promises\b",
    r"\b(?:can't|cannot|can not) (?:promise|guarantee)\b",
    rf"\b{_SUBJ}\s+(?:might|may)\s+be able to\b",
    r"\b(?:could|can) probably\b",
    r"\bif you (?:can't|cannot|can not|couldn't|don't|are unable to) find\b",
    r"\bif you still (?:need|want)\b",
    r"\bif (?:he|she|they|dr\.? \w+) (?:can't|cannot|is unable|isn't able)\b",
    r"\bafter asking\b|\b(?:rather|prefer) (?:they|he|she|others|them) go first\b",
    r"\b(?:line up|have|ask|find) (?:a |one or two )?back-?ups?\b|\bas a back-?up\b",
    r"\b(?:suggests?|recommends?) (?:that you )?(?:also )?ask(?:ing)?\b",
    r"\bstep (?:in|aside)\b",
    r"\b(?:you )?(?:may|might) (?:want|wish|prefer) (?:to ask |to consider )?(?:someone|another"
    r"|others|a letter from)\b|\b(?:may|might) be better served\b",
)
# Conditions: a yes bounded by them is hesitant even next to "I'm at capacity until then".
_CONDITION = _rx(
    r"\bas long as\b|\bprovided (?:that )?\b|\bonly if\b|\bon (?:the )?condition\b",
    r"\bif you really need\b|\bif it helps\b|\bif i can\b|\bif (?:that's|that is) still\b",
    r"\bis (?:that|it) (?:still )?(?:ok|okay|useful|helpful|acceptable)\b",
    r"\bnot (?:before|until)\b|\buntil then\b",
)
# A warning about what the letter would be, or who would do better.
_CAVEAT = _rx(
    # the letter itself described as thin: "a short letter", "it would be fairly general"
    r"\b(?:brief|short|general|generic|standard|lukewarm|less detailed|weak)\s+(?:letter|one)\b",
    r"\b(?:be|is|end up|necessarily be)\s+(?:\w+\s+)?(?:brief|short(?:er)?|general|generic"
    r"|lukewarm|weak)\b|\b(?:fairly|rather|pretty|quite) (?:general|generic|brief|standard)\b",
    r"\bnot (?:be )?(?:as |very |so |that |a )?(?:strong|great|detailed|glowing)\b",
    r"\bwon't be (?:as |very )?(?:strong|detailed|glowing)\b|\bwon't add much\b",
    r"\bcarry (?:much|less|more|any) weight\b|\bmore weight\b|\bweigh letters\b",
    r"\bstronger (?:letter|choice|writer)\b|\bbetter (?:choice|off|served|letter writer|writer"
    r"|person|fit)\b",
    r"\bknows? (?:you|your \w+(?: \w+)?) (?:better|more closely)\b",
    r"\b(?:don't|do not) know you (?:so|that|very|too) well\b|\bnot know you (?:so )?well\b",
    r"\bonly (?:worked|saw|met|overlapped|observed|remember|know|knew|for)\b",
    r"\blimited (?:time|contact|direct|interaction|exposure|observation)\b",
    r"\b(?:didn't|did not|haven't|have not) (?:work(?:ed)? together|overlap)",
    r"\bhaven't been in touch\b|\bone of \w+ students\b",
    r"\b(?:many|heavy load of|\d+|nine|ten|eleven|twelve|several|a lot of) (?:other )?"
    r"(?:letters|students)\b",
    r"\bjunior faculty\b|\bleaving the institution\b|\bon sabbatical\b",
    r"\brather than your\b|\bfocus on your research\b|\bnot comfortable ranking\b",
    r"\bsomeone (?:else|who knows|in your)\b|\banother (?:faculty|writer|person|attending)\b",
    r"\b(?:would|will|it'd|it'll) be late\b|\brealistically\b|\bno time\b",
    r"\b(?:not|n't) (?:sure|certain) (?:that )?(?:i|it|my)\b",
    r"\b(?:whether|if) i'm the (?:right|best) person\b",
    r"\b(?:with the caveat|keep in mind|just want to flag|i should be honest|to be honest"
    r"|i need to be honest|i have to warn|i must tell you|my concern|please understand"
    r"|be honest with you|i'm a bit worried|worried|honestly)\b",
    r"\b(?:travell?ing|busy|swamped|crazy|brutal)\b",
)
_REFUSAL = _rx(
    r"\b(?:can't|cannot|can not|won't be able to|will not be able to|won't|will not"
    r"|unable to|not able to|not going to|not in a position to|could not|couldn't)\s+"
    r"(?:\w+\s+){0,3}?(?:write|take|do it|do this|do that|do so|help|commit|support|serve"
    r"|provide|mentor|supervise|accept|be helpful|be of help|give)\b",
    r"\b(?:can't|cannot|won't be able to)\s+(?:this|that) (?:time|year|cycle)\b"
    r"|\bcan't this time\b|\bcan't do it\b",
    r"\b(?:have to|must|will have to|'ll have to|going to|need to)\s+(?:respectfully\s+)?"
    r"(?:decline|pass|say no|refuse)\b",
    r"\bi must refuse\b|\bsay no this time\b|\bregret(?:s)? that (?:i|she|he) must decline\b",
    r"\bnot (?:taking|accepting) (?:on )?(?:any |new |more |additional )+",
    r"\b(?:no|not) (?:doing|writing) any (?:more )?letters\b|\bwon't be writing any\b",
    r"\b(?:don't|do not|does not|doesn't) write (?:any )?letters\b",
    r"\b(?:no|don't have any|do not have any) (?:open )?(?:spots|positions|openings)\b",
    r"\b(?:at|over) (?:full )?capacity\b|\bfully staffed\b|\bdecided not to\b",
    r"\b(?:my plate is too full|too swamped|too much on my plate|stretched too thin)\b",
    r"\b(?:don't|do not|won't|will not) have (?:the )?(?:time|bandwidth|capacity)\b"
    r"|\bhave no time\b",
    r"\b(?:rather|prefer) not\b|\bnot comfortable writing\b|\bnot possible for me\b",
    r"\bwouldn't be fair to you\b",
    r"^(?:(?:i'm |so )?sorry,? (?:but )?)?(?:no|nope)\b(?![-\s]*(?:problem|worries|doubt))"
    r"|^not this (?:year|time|cycle)\b",
    r"\bi'm going to say no\b|\bi must say no\b",
)
_REASON = _rx(
    r"\b(?:don't|do not) (?:really )?(?:think|believe|feel) (?:that )?i(?:'m| am| would be"
    r"| could be)? (?:the )?(?:right|best|ideal|appropriate)\b",
    r"\b(?:not|n't) (?:really )?(?:the )?(?:right|best|ideal|appropriate) (?:person|choice|one)\b",
    r"\b(?:don't|do not) (?:think i )?know you (?:well enough|that well|very well)\b",
    r"\b(?:don't|do not) think i can (?:be helpful|help|write)\b",
    r"\bbarely (?:remember|know)\b",
    r"^(?:please )?ask (?:someone|another)\b|\bplease ask (?:someone|another)\b",
    r"\bit's best if you ask\b|\bbetter you ask\b",
)
_SUBMITTED = _rx(
    rf"\b{_SUBJ}(?:'ve| have| has|'s)?\s+(?:just |now |already |finally |successfully "
    r"|also )?(?:completed and |finished and )?(?:submitted|uploaded|sent|completed|filed"
    r"|finished)\s+(?:it|my|your|the|her|his|a|this)\b",
    r"\b(?:letter|recommendation|reference|evaluation)s?\b(?!\s+request)[^.?!\n]{0,40}?"
    r"\b(?:(?:has|have) (?:now |just |already )?been |(?:was|were) (?:just |already )?"
    r"|is (?:now )?)(?:submitted|uploaded|sent|received|completed|in\b)",
    r"\b(?:letter|recommendation)(?:'s| is)? (?:is )?(?:done and )?(?:submitted|uploaded|in|"
    r"complete)\b(?!\s+(?:request|the|your|a|progress))",
    r"\bletter (?:went|is) in\b|\bgot (?:your|the|my) letter in\b",
    # a named writer: "Your recommender, Samuel Ortiz, has submitted a recommendation"
    r"\b(?:has|have) (?:now |just )?(?:submitted|uploaded|completed|sent) (?:a|an|the|their|your"
    r"|my|her|his) (?:\w+ )?(?:letter|recommendation|evaluation|reference)",
    r"^(?:just )?(?:submitted|uploaded|sent it in|finished and uploaded)\b",
    r"\bsent (?:my|the|your) letter to\b|\bsent it in\b",
)
_NOT_DONE = re.compile(
    r"\b(?:not yet|haven't|have not|hasn't|has not|will|going to|once|when|after|before|if"
    r"|should|let me know|make sure|need to|plan to|to be)\b", _I,
)
_MEETING = _rx(
    r"calendly\.com|doodle\.com|/book/|\bcalendar link\b|\bbooking link\b",
    r"\b(?:let's|let us|we should|we can|can we|could we|why don't we|i'd like to|i would like to"
    r"|would like to|want to|'d want to|i'd prefer to|wants to|is happy to|would be (?:glad|happy"
    r"|pleased) to|happy to|glad to|love to)\s+(?:first\s+)?(?:meet|chat|talk|speak|sit down"
    r"|discuss|find (?:a )?time|find \d+ minutes|set up|grab|have a (?:quick |short )?(?:call"
    r"|chat|meeting))\b",
    r"\b(?:come|stop|swing|drop) (?:by|in|to my|to our|see me)\b|\bcome see me\b",
    r"\b(?:call me|give me a call|phone me|ring me)\b",
    r"\b(?:zoom|teams|phone|video|quick|short) (?:call|meeting|chat)\b|\bover zoom\b",
    r"\boffice hours\b|\bsign up for a slot\b",
    r"\bschedul\w* (?:a |an |some )?(?:time|meeting|call|slot|chat)\b",
    r"\bset up a (?:time|meeting|call|\d+)",
    r"\bfind (?:us )?(?:a |some )?(?:time|\d+ minutes)\b",
    r"\b(?:are you|r u) (?:free|around|available)\b|\bwhen are you free\b",
    r"\b(?:your )?availability\b|\bopenings on\b|\bwhat time is good\b",
    r"\bdoes \w+(?: \w+)? (?:at \d+(?::\d\d)? )?work\b|\bhow about (?:next )?\w+day\b",
    r"\bfree (?:at|on|tuesday|monday|wednesday|thursday|friday|after)\b",
    r"\b\d+[- ]minute\b|\bgrab (?:coffee|lunch)\b|\blab meeting\b|\bin person\b",
    r"\bmeet (?:with )?you\b|\bmeet first\b|\bby phone\b|\bcome to my (?:office|clinic)\b",
)
# "I want to know more before I commit": a meeting or question, not yet a yes.
_UNDECIDED = _rx(
    r"\bbefore (?:i|we) (?:commit|decide|answer)\b|\bbefore (?:deciding|making a decision"
    r"|committing|writing anything)\b|\bbefore i commit to anything\b",
)
_DEFER = _rx(
    r"\blet me (?:think|check|talk|see|get back|look)\b|\bget back to you\b",
    r"\b(?:will|'ll) (?:reply|respond|answer|write back|be in touch)\b|\bwill reply soon\b",
    r"\bi'll take a look\b|\bnot sure yet\b|\bwe'll see\b|\bcan i let you know\b",
    r"\bi'm working on it\b|\bforwarded your (?:email|request|message)\b",
    r"\bmake sure (?:she|he) sees it\b|\bnot making any decisions\b",
)
_REVERSAL = _rx(r"\bon second thought\b|\bactually,? (?:no|i'm not sure|i can't)\b")
_ASKING = _rx(
    r"\b(?:would|'d) like to know\b|\bcan you tell me\b|\bplease tell me\b|\bcould you tell me\b",
)
_NOT_A_QUESTION = _rx(r"\bif you have (?:any )?(?:other |further )?questions\b",
                      r"\bhope you understand\b")
# "Hi Priya," "Dear Dr. Roe," "Priya -" before the first sentence's real start.
_SALUTATION = re.compile(
    r"^(?:(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^,.!?:\n]{0,40}[,!.:]"
    r"\s*|(?!(?:Yes|Yeah|Yep|No|Nope|Sure|Maybe|Sorry|Thanks|Thank|Ok|Okay|Fine|Absolutely"
    r"|Certainly|Definitely|Done|Submitted|Uploaded|Great|Unfortunately|Sadly|Regrettably"
    r"|Happy|Glad|Of|Hmm|Well|Actually|Honestly|Totally|Gladly|Alright)\b)"
    r"[A-Z][a-z]+(?: [A-Z][a-z]+)?\s*(?:,|\s[-–—])\s+)",
)
_ABBREVIATION = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Prof|St|vs|e\.g|i\.e|approx|Drs)\.$", _I)
_NEGATION = re.compile(r"\b(?:not|never|no longer)\b|n't\b", _I)


@dataclass(frozen=True)
class IntentResult:
    """The decided intent, the sentences behind it, and how sure the reading is.

    ``evidence`` is the deciding sentence (None when nothing was found); ``sentences``
    all sentences that support the answer; ``confidence`` in [0, 1] how strongly they
    do (an ``unclear`` answer keeps the strength of the best reading it rejected);
    ``questions`` the questions the reply asks, which the user should answer whatever
    the intent.
    """

    intent: Intent
    evidence: str | None
    sentences: tuple[str, ...] = ()
    confidence: float = 0.0
    questions: tuple[str, ...] = ()

    @property
    def needs_review(self) -> bool:
        return self.intent == "unclear"


@dataclass(frozen=True)
class _Sentence:
    text: str  # as written, whitespace collapsed: the evidence shown to the user
    norm: str  # salutation removed, apostrophes straightened: what the cues read


def detect_intent(text: str) -> IntentResult:
    """Classify the new text of a human reply (quotes and signature already removed)."""
    sentences = _sentences(text[:_MAX_CHARS])
    questions = tuple(s.text for s in sentences if _is_question(s))[:_MAX_QUESTIONS]
    cues = _Cues(sentences)
    intent, support, confidence = _decide(cues)
    if intent != "unclear" and confidence < MIN_CONFIDENCE:
        return IntentResult("unclear", None, tuple(s.text for s in support), confidence,
                            questions)
    evidence = support[0].text if support else None
    return IntentResult(intent, evidence, tuple(dict.fromkeys(s.text for s in support)),
                        confidence, questions)


class _Cues:
    """Which sentences carry which cue."""

    def __init__(self, sentences: list[_Sentence]) -> None:
        self.sentences = sentences
        self.submitted = [s for s in sentences if _affirmed(_SUBMITTED, s.norm)]
        self.refusal = [s for s in sentences if _unhedged(_REFUSAL, s.norm)]
        self.reason = [s for s in sentences if _unhedged(_REASON, s.norm)]
        self.commit = [s for s in sentences if _positive(_COMMIT, s.norm)
                       or _YES_WORD.search(s.norm)]
        self.weak_yes = [s for s in sentences if _positive(_WEAK_YES, s.norm)]
        self.support = [s for s in sentences if _SUPPORT.search(s.norm)
                        or _WEAK_WORD.search(s.norm)]
        self.hedge_alone = [s for s in sentences if _HEDGE_ALONE.search(s.norm)]
        self.condition = [s for s in sentences if _CONDITION.search(s.norm)]
        # A question asks; it does not warn ("one letter, or a generic one?").
        self.caveat = [s for s in sentences if _CAVEAT.search(_unconceded(s.norm))
                       and not _is_question(s)]
        self.meeting = [s for s in sentences if _MEETING.search(s.norm)]
        self.undecided = [s for s in sentences if _UNDECIDED.search(s.norm)]
        self.defer = [s for s in sentences if _DEFER.search(s.norm)]
        self.reversal = [s for s in sentences if _REVERSAL.search(s.norm)]
        self.question = [s for s in sentences if (_is_question(s) or _ASKING.search(s.norm))
                         and s not in self.defer]


def _decide(c: _Cues) -> tuple[Intent, list[_Sentence], float]:
    if c.reversal:
        return "unclear", c.reversal, 0.3
    if c.submitted:
        return "submitted", c.submitted, 0.9 if len(c.submitted) == 1 else 0.95
    yes = c.commit
    hedges = c.hedge_alone + c.condition + c.caveat
    if c.refusal:
        if yes and c.condition:
            return "hesitant", yes + c.condition, 0.75
        if any(s not in c.refusal for s in yes):
            # A yes inside the refusing sentence ("happy to, but I can't") is the polite
            # form of a no; a yes in a sentence of its own contradicts the refusal.
            return "unclear", yes + c.refusal, 0.4
        return "decline", c.refusal + c.reason, 0.9
    if c.reason and not yes:
        return "decline", c.reason, 0.75
    if (yes or c.weak_yes) and (hedges or c.reason):
        return "hesitant", (yes or c.weak_yes) + hedges + c.reason, 0.85 if yes else 0.75
    if c.hedge_alone:
        return "hesitant", c.hedge_alone, 0.7
    if c.meeting and (c.undecided or not yes):
        return "meeting", c.meeting, 0.8
    if yes:
        strength = 0.9 if any(_positive(_COMMIT, s.norm) for s in yes) else 0.75
        return "agree", yes + c.support, strength
    if c.support and (c.weak_yes or len(c.support) >= 2):
        return "agree", c.support + c.weak_yes, 0.65
    if c.undecided and c.question:
        return "question", c.question, 0.75
    if c.question:
        return "question", c.question, 0.75 if not c.defer else 0.5
    best = c.support or c.weak_yes or c.defer
    return "unclear", best, 0.45 if c.support or c.weak_yes else 0.0


def _unconceded(text: str) -> str:
    """The part of a sentence a yes does not concede.

    "I'm traveling this week, but yes, I'd be happy to write it": what comes before
    "but yes" is granted and overruled by the yes; it is no warning about the letter.
    """
    for contrast in re.finditer(rf"\b{_CONTRAST}\b", text, _I):
        rest = text[contrast.end() :].lstrip(" ,-–—")
        if _YES_WORD.search(rest) or _COMMIT.match(rest) or re.match(
            r"(?:i|i'd|i'm|i would|i will|i'll)\b[^,.;]{0,12}\b(?:happy|glad|delighted|write)",
            rest, _I,
        ):
            return rest
    return text


def _positive(pattern: re.Pattern[str], text: str) -> bool:
    """A match not negated in its own clause ("I don't feel I could write…")."""
    for match in pattern.finditer(text):
        clause = re.split(r"[,;:]|\s[-–—]\s", text[: match.start()])[-1]
        if _NEGATION.search(clause[-30:]) or re.search(r"\b(?:if|whether|unless)\b", clause,
                                                       _I):
            continue
        return True
    return False


def _unhedged(pattern: re.Pattern[str], text: str) -> bool:
    """A refusal not inside a condition ("if she can't…") or a doubt ("not sure I can")."""
    for match in pattern.finditer(text):
        clause = re.split(r"[,;:]|\s[-–—]\s", text[: match.start()])[-1]
        if re.search(r"\b(?:if|whether|unless|in case|not sure|may|might|even if)\b", clause,
                     _I):
            continue
        return True
    return False


def _affirmed(pattern: re.Pattern[str], text: str) -> bool:
    """A "letter is in" phrase that is not future, negated or conditional."""
    for match in pattern.finditer(text):
        lead = text[: match.start()]
        inside = match.group(0)
        if _NOT_DONE.search(lead[-60:]) or re.search(r"\b(?:not|n't|will|once)\b", inside, _I):
            continue
        return True
    return False


def _is_question(sentence: _Sentence) -> bool:
    return sentence.text.rstrip().endswith("?") and not _NOT_A_QUESTION.search(sentence.norm)


def _sentences(text: str) -> list[_Sentence]:
    out: list[_Sentence] = []
    for line in text.replace("\r", "\n").split("\n"):
        line = " ".join(line.split())
        if not line or line.startswith(">"):
            continue
        start = 0
        for match in re.finditer(r"[.!?]+(?=\s|$)", line):
            piece = line[start : match.end()]
            if _ABBREVIATION.search(piece):
                continue
            _add(out, piece)
            start = match.end()
        _add(out, line[start:])
    return out


def _add(out: list[_Sentence], piece: str) -> None:
    piece = piece.strip()
    if not piece:
        return
    norm = piece.replace("’", "'").replace("‘", "'")
    # "Dr. Okafor" is not the end of a clause for the cues that stop at a full stop.
    norm = re.sub(r"\b(Dr|Mr|Mrs|Ms|Prof|St|Drs)\.", r"\1", norm)
    norm = _SALUTATION.sub("", norm, count=1) or norm
    out.append(_Sentence(piece, norm.strip()))


_NOTICE_RECEIVED = re.compile(
    r"\b(we )?(have )?received (a|an|the|your) (confidential )?(letter|recommendation|evaluation"
    r"|reference)s?\b(?!\s+request)",
    re.IGNORECASE,
)


def notice_says_submitted(text: str) -> str | None:
    """For a letter-service notice: the phrase saying a letter arrived, or None."""
    text = text[:_MAX_CHARS]
    result = detect_intent(text)
    if result.intent == "submitted":
        return result.evidence
    for sentence in _sentences(text):
        if _affirmed(_NOTICE_RECEIVED, sentence.norm):
            return sentence.text
    return None
