"""Priority and silence: should SEL answer this message at all?

Messages addressed to SEL — a mention, a DM, a reply to one of SEL's messages, or SEL's
name as a word ("sel", any case) — are always high priority (score 100) and always
answered. Everything else starts at 30 points and moves with explainable signals:

    +35  SEL answered this author in this channel in the last two minutes (a conversation)
    +20  a call for help to the room ("anyone know…", "can someone…", "any tips")
    +15  a question
    +15  a greeting to the whole room ("morning everyone")
    +10  a code or memory request (things SEL is for); +5 for an image
    +10  distress ("i miss my grandma", "rough day")
    -20  short chatter: "lol", "ok", "brb", laughter or emoji only
    -30  the message mentions somebody else

Unaddressed scores are capped at 85. Levels: high >= 70, medium >= 40, low < 40. A mode
answers a message whose score reaches its silence threshold (see sel.brain.modes: playful 40,
casual 50, deep_focus 60, quiet_companion 75), so low-priority chatter that is not addressed
to SEL is never answered in any mode.
"""

from __future__ import annotations

import re

from sel.brain.router import SCAN_CHARS
from sel.brain.stimuli import SADNESS
from sel.domain import IncomingMessage, Priority, Route

HIGH = "high"
MEDIUM = "medium"
LOW = "low"
BASE_SCORE = 30
UNADDRESSED_CAP = 85
CONVERSATION_WINDOW = 120.0  # seconds after SEL's reply in which the author's next message continues the talk

QUESTION = re.compile(
    r"\?\s*$|^\s*(?:who|what|when|where|why|how|which|can|could|does|do|is|are|should|would|will|any)\b",
    re.IGNORECASE | re.MULTILINE,
)
CALL_FOR_HELP = re.compile(
    r"\b(?:any ?(?:one|body) (?:know|have|got|good|else|here)|can (?:some|any) ?(?:one|body)|does any ?(?:one|body)|"
    r"any (?:tips|ideas?|advice|suggestions)|help(?: me)?\b|need (?:help|advice))",
    re.IGNORECASE,
)
ROOM_GREETING = re.compile(
    r"\b(?:good )?(?:morning|evening|night|afternoon|hi|hey|hello|yo|sup|gm|gn)\b.{0,20}"
    r"\b(?:everyone|every1|all|guys|y'?all|folks|people|chat|friends)\b",
    re.IGNORECASE,
)
# Distress is sadness (one word list, shared with the mood's "sadness" stimulus) or worry.
WORRY = re.compile(
    r"\b(?:anxious|anxiety|tired of|hospital|can'?t sleep|stressed|overwhelmed|hate myself)\b",
    re.IGNORECASE,
)
CHATTER = re.compile(
    r"^\s*(?:l+o+l+|lma+o+|rofl|ha(?:ha)+h?|he(?:he)+|xd+|ok(?:ay)?|k+|brb|afk|gtg|ty|thx|same|ye+s*|ya+|yep|nah|"
    r"no+|true|fr|ikr|nice|cool|wow|omg|bruh|damn|rip|f|\W+)\s*[.!?]*\s*$",
    re.IGNORECASE,
)
OTHER_MENTION = re.compile(r"<@!?\d+>|(?<![\w@])@[A-Za-z0-9_.]{2,32}\b")


def names_sel(text: str, sel_name: str = "SEL") -> bool:
    """True when SEL's name appears as a whole word ("hey sel", "SEL?"), not inside a word ("selfie")."""
    return re.search(rf"(?<![\w]){re.escape(sel_name)}(?![\w])", text, re.IGNORECASE) is not None


def assess(
    msg: IncomingMessage,
    route: Route,
    *,
    sel_name: str = "SEL",
    seconds_since_reply: float | None = None,
) -> Priority:
    """Score one message. Pure: ``seconds_since_reply`` is how long ago SEL last answered this
    author in this channel (None if never), so the caller owns the clock."""
    addressed = _addressed_because(msg, sel_name)
    if addressed:
        return Priority(HIGH, 100, addressed, addressed=True)

    text = (route.text or msg.text)[:SCAN_CHARS]  # as bounded as routing, for the same reason
    score = BASE_SCORE
    reasons: list[str] = []

    def add(points: int, why: str) -> None:
        nonlocal score
        score += points
        reasons.append(f"{points:+d} {why}")

    if seconds_since_reply is not None and seconds_since_reply <= CONVERSATION_WINDOW:
        add(35, f"continues a talk with SEL ({seconds_since_reply:.0f}s ago)")
    if CALL_FOR_HELP.search(text):
        add(20, "asks the room for help")
    if QUESTION.search(text):
        add(15, "a question")
    if ROOM_GREETING.search(text):
        add(15, "greets the room")
    if route.intent in ("code", "memory"):
        add(10, f"a {route.intent} request")
    elif route.intent == "vision":
        add(5, "shares an image")
    if SADNESS.search(text) or WORRY.search(text):
        add(10, "sounds distressed")
    if CHATTER.match(text) or (len(text.split()) <= 1 and not msg.attachments):
        add(-20, "short chatter")
    if OTHER_MENTION.search(text):
        add(-30, "mentions someone else")

    score = max(0, min(UNADDRESSED_CAP, score))
    reason = "not addressed to SEL; " + (", ".join(reasons) if reasons else "no signals")
    return Priority(_level(score), score, reason, addressed=False)


def should_answer(priority: Priority, threshold: int) -> bool:
    """Addressed messages are always answered; others when their score reaches the mode's threshold."""
    return priority.addressed or priority.score >= threshold


def _addressed_because(msg: IncomingMessage, sel_name: str) -> str:
    if msg.is_dm:
        return "a direct message"
    if msg.mentioned:
        return "mentions SEL"
    if msg.reply_to_sel:
        return "replies to SEL"
    if names_sel(msg.text, sel_name):
        return "says SEL's name"
    return ""


def _level(score: int) -> str:
    if score >= 70:
        return HIGH
    if score >= 40:
        return MEDIUM
    return LOW
