"""Deterministic fact extraction: which sentences of a user's message are worth remembering.

Only the user's own statements about themselves count ("I'm a nurse", "my turtle is
called Shelly"), plus explicit requests ("remember that ..."). Questions, negations,
passing moods ("my day is going badly") and secrets ("my bank pin is 1234", even when
asked to remember it) are left alone. Each fact carries a *slot* when it answers a
question that has one current answer (where they live, their job, the turtle's name): a
newer fact in the same slot replaces the older one.

Pure functions; an optional LLM extractor is combined with these by the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sel.memory.consent import fold, split_sentences
from sel.memory.secret_filter import secret_kind

MAX_FACT_CHARS = 500


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


OCCUPATIONS = _word_set(
    """nurse doctor teacher engineer developer programmer designer artist writer student lawyer accountant
    chef cook baker farmer pilot driver mechanic electrician plumber carpenter scientist researcher
    professor lecturer pharmacist dentist therapist psychologist vet veterinarian paramedic firefighter
    soldier police officer cop cashier barista bartender waiter waitress librarian journalist editor
    photographer musician singer actor actress dancer architect analyst consultant manager clerk
    translator tutor coach trainer caregiver carer midwife surgeon physician sysadmin freelancer
    entrepreneur retiree streamer youtuber gamedev"""
)
PETS = _word_set(
    """cat cats dog dogs puppy kitten turtle tortoise rabbit bunny hamster parrot bird fish goldfish horse
    pony snake lizard gecko ferret guinea pig rat mouse hedgehog chicken"""
)
FAMILY = _word_set(
    """wife husband partner girlfriend boyfriend spouse mom mum mother dad father son daughter brother sister
    kid kids child children baby grandma grandmother grandpa grandfather aunt uncle cousin niece nephew
    fiance fiancee"""
)
IDENTITY_NOUNS = _word_set(
    """student parent mom mum dad mother father vegan vegetarian introvert extrovert gamer nerd twin
    grandparent programmer"""
)
EPHEMERAL = re.compile(
    r"\b(?:today|tonight|tomorrow|yesterday|right now|rn|this (?:morning|evening|afternoon|week)|at the moment|"
    r"currently|just now|lol|lmao|going|gonna)\b"
)
ACTIVITY = re.compile(r"(?:\w+ly )?\w{2,}ing\b")  # "visiting", "really struggling": an activity, not a state
NEGATION = re.compile(r"\b(?:not|never|no longer|no)\b|n't\b|\bdont\b")
CONTEXT_OBJECTS = re.compile(r"^(?:it|this|that|these|those|them|him|her|you|your|ur|u)\b")
HARD_REQUEST = re.compile(
    r"\b(?:forever|permanently|for good|never forget|always remember|don'?t ever forget|for the rest of time)\b"
)
# "remember this forever" tacked onto a statement: "My birthday is June 3, remember that forever."
TRAILING_REQUEST = re.compile(
    r"[\s,;:-]*(?:and\s+)?(?:please\s+)?(?:remember|never forget|don'?t forget|always remember)\s+"
    r"(?:this|that|it)(?:\s+(?:forever|permanently|for good|for me))*[\s.!]*$"
)
EXPLICIT = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would) you\s+)?(?:remember|note|never forget|don'?t forget|do not forget|"
    r"always remember|keep in mind)(?:\s+(?:this|for me))?(?:\s+(?:forever|permanently|for good))?"
    r"\s*(?:that\b|:|,|-)?\s*(?P<fact>.+)$"
)
FILLER = re.compile(
    r"^(?:(?:oh|ah|well|also|and|but|so|btw|by the way|fyi|hey|hi|ok|okay|yeah|yes|fun fact)\b[\s,:!-]*)+"
)
STOPWORDS = _word_set(
    """the a an and or but if then so of to in on at by for with about from into over after before is am are
    was were be been being have has had do does did i i'm im me my mine you your we our they their he she it its
    this that these those there here what which who whom whose when where why how not no yes just really very
    also too can could would should will shall may might must called named name like love hate enjoy remember
    forever please thing things stuff lot lots some any all more most much many get got one"""
)


@dataclass(frozen=True, slots=True)
class Fact:
    """A candidate memory: the text to store, its slot (or None), hardness and a topic tag."""

    text: str
    slot: str | None
    hard: bool
    topic: str


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, str, bool] | None]]


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _words(value: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", value))


def _thing_topic(thing: str) -> str:
    head = thing.split()[-1] if thing else ""
    if head in PETS or thing in PETS:
        return "pets"
    if head in FAMILY:
        return "family"
    return "personal"


def _spelling(thing: str) -> str:
    return thing.replace("colour", "color").replace("favourite", "favorite")


def _name_of(m: re.Match[str]) -> tuple[str, str, bool] | None:
    thing = _words(m["thing"])
    thing = re.sub(r"^(?:little|pet|new|old|baby|sweet)\s+", "", thing)
    if not thing:
        return None
    return f"name-of:{_spelling(thing)}", _thing_topic(thing), False


def _favorite(m: re.Match[str]) -> tuple[str, str, bool] | None:
    return f"favorite:{_spelling(_words(m['thing']))}", "preferences", False


def _my_thing(m: re.Match[str]) -> tuple[str, str, bool] | None:
    thing = _words(m["thing"])
    if not thing or thing in {"day", "week", "life", "head", "mood", "brain", "internet", "phone battery"}:
        return None
    # "my sister is visiting in May" tells what she does, not what she is: it has no one current
    # answer, so it must not replace "my sister is a nurse".
    if ACTIVITY.match(m.string, m.end() - 1):
        return "", _thing_topic(thing), False
    return f"my:{thing}", _thing_topic(thing), False


def _i_am_a(m: re.Match[str]) -> tuple[str, str, bool] | None:
    words = _words(m["what"]).split()
    if not words:
        return None
    head = words[-1]
    if head in OCCUPATIONS or (len(words) > 1 and words[-2] in OCCUPATIONS and head in {"assistant", "manager"}):
        return "job", "work", False
    if head.rstrip("s") in IDENTITY_NOUNS or head in IDENTITY_NOUNS:
        return f"identity:{head}", "identity", False
    return None


def _have_count(m: re.Match[str]) -> tuple[str, str, bool] | None:
    noun = _words(m["noun"])
    topic = _thing_topic(noun)
    if topic == "personal":
        return None
    return f"have:{noun.rstrip('s')}", topic, False


def _fixed(slot: str | None, topic: str, hard: bool = False) -> Callable[[re.Match[str]], tuple[str, str, bool]]:
    return lambda m: (slot or "", topic, hard)


RULES: list[Rule] = [
    (
        _rule(r"^(?:my name is|my name's|call me|i'm called|i am called|people call me)\s+\S"),
        _fixed("name", "identity", True),
    ),
    (_rule(r"^my pronouns are\s+\S"), _fixed("pronouns", "identity", True)),
    (_rule(r"^my (?:birthday|bday|birth date|date of birth) is\s+\S"), _fixed("birthday", "dates", True)),
    (_rule(r"^i(?:'m| am)\s+(?:\d{1,3})(?:\s+years?\s+old|\s*(?:yo|y/o))?$"), _fixed("age", "identity")),
    (_rule(r"^i(?:'m| am) allergic to\s+\S"), _fixed(None, "health", True)),
    (
        _rule(r"^i(?:'m| am) (?:a |an )?(?:vegan|vegetarian|pescatarian|diabetic|celiac|coeliac)\b"),
        _fixed("diet", "health"),
    ),
    (
        _rule(r"^i(?:'m| am) (?:married|single|engaged|divorced|widowed|in a relationship)\b"),
        _fixed("relationship", "family"),
    ),
    (
        _rule(
            r"^i(?:'ve| have)?\s*(?:just |recently |finally )?(?:live|lived|living|moved|relocated|reside)\s+"
            r"(?:in|to)\s+\S"
        ),
        _fixed("home", "home"),
    ),
    (_rule(r"^i(?:'m| am) (?:now )?(?:based|living|staying) in\s+\S"), _fixed("home", "home")),
    (_rule(r"^i(?:'m| am) (?:originally )?from\s+\S"), _fixed("origin", "home")),
    (_rule(r"^i (?:work|am working|'m working) as\s+\S"), _fixed("job", "work")),
    (_rule(r"^i(?:'m| am) (?:a|an) (?:\w+ )?by (?:trade|profession)"), _fixed("job", "work")),
    (_rule(r"^my (?:job|profession|occupation) is\s+\S"), _fixed("job", "work")),
    (_rule(r"^i (?:work|am working|'m working) (?:at|for)\s+\S"), _fixed("employer", "work")),
    (_rule(r"^i(?:'m| am)? ?(?:study|studying|majoring in)\s+\S"), _fixed("studies", "work")),
    (_rule(r"^my (?P<thing>(?:\w+ ){0,2}\w+?)(?:'s name is| is called| is named| name is| goes by)\s+\S"), _name_of),
    (_rule(r"^i have (?:a|an|one|two|three|\d+) (?P<thing>(?:\w+ ){0,2}\w+?),? (?:called|named)\s+\S"), _name_of),
    (_rule(r"^my (?:favou?rite|fav|favorite) (?P<thing>(?:\w+ ){0,2}\w+?) (?:is|are)\s+\S"), _favorite),
    (_rule(r"^i have (?:a|an|one|two|three|four|five|\d+) (?P<noun>\w+)$"), _have_count),
    (_rule(r"^i(?:'m| am) (?:a )?(?:big |huge |massive )?fan of\s+\S"), _fixed(None, "preferences")),
    (_rule(r"^i(?:'m| am) (?:a|an) (?P<what>(?:[\w-]+ ){0,3}[\w-]+)$"), _i_am_a),
    (
        _rule(
            r"^i (?:really |absolutely |totally |kind of |kinda )?(?:love|like|enjoy|adore|hate|dislike|prefer)\s+\S"
        ),
        _fixed(None, "preferences"),
    ),
    (_rule(r"^i(?:'ve| have) been (?:learning|playing|practicing|practising|doing)\s+\S"), _fixed(None, "hobbies")),
    (_rule(r"^my (?P<thing>(?:\w+ ){0,2}\w+?) (?:is|are) (?:a |an )?\S"), _my_thing),
]


def classify(sentence: str) -> Fact | None:
    """The fact a single sentence states about its speaker, or None if it is not a keepable fact."""
    text = sentence.strip().rstrip(".!").strip()
    folded = FILLER.sub("", fold(text)).strip()
    text = text[len(text) - len(folded) :] if folded else ""
    if not folded or folded.endswith("?") or len(text) > MAX_FACT_CHARS or NEGATION.search(folded):
        return None
    if EPHEMERAL.search(folded):
        return None
    for pattern, decide in RULES:
        match = pattern.search(folded)
        if match is None:
            continue
        decided = decide(match)
        if decided is None:
            return None
        slot, topic, hard = decided
        # Preference rules end on the object's first character: "I love it" needs context we lack.
        if topic == "preferences" and CONTEXT_OBJECTS.search(folded[match.end() - 1 :]):
            return None
        return Fact(_tidy(text), slot or None, hard, topic)
    return None


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


def explicit_fact(sentence: str) -> Fact | None:
    """A fact the user explicitly asked to be remembered ("remember that ...", "... remember this forever")."""
    text = " ".join(sentence.strip().split())
    folded = fold(text)
    if folded.endswith("?") or re.match(r"^(?:do you |you )?remember (?:when|the time|how)\b", folded):
        return None
    hard = bool(HARD_REQUEST.search(folded))
    trailing = TRAILING_REQUEST.search(folded)
    if trailing and trailing.start() > 0:
        body = text[: trailing.start()]
    else:
        match = EXPLICIT.match(folded)
        if match is None:
            return None
        body = text[match.start("fact") :]
    body = body.strip(" \t,;:-").rstrip(".!").strip()
    if len(body.split()) < 2:
        return None  # "remember that." points at something earlier that we cannot resolve
    body = body[:MAX_FACT_CHARS]
    classified = classify(body)
    slot = classified.slot if classified else None
    topic = classified.topic if classified else "notes"
    return Fact(_tidy(body), slot, hard or bool(classified and classified.hard), topic)


def is_secret(text: str) -> bool:
    """Whether the text holds a secret value (password, PIN, card number, key...): never stored.

    Secrets are never kept, even when the user asks: a memory store is the wrong place for them, and recall
    could repeat one in a channel. A word alone is not a secret ("a spiderman pin");
    see :mod:`sel.memory.secret_filter`.
    """
    return secret_kind(text) is not None


def mentions_secret(text: str) -> bool:
    """Whether any sentence of a message is a secret that :func:`extract_facts` leaves out."""
    return any(is_secret(sentence) for sentence in split_sentences(text))


def without_secrets(text: str) -> str:
    """The message without its secret sentences (so they are not even shown to an LLM extractor)."""
    return " ".join(sentence for sentence in split_sentences(text) if not is_secret(sentence))


def extract_facts(text: str) -> list[Fact]:
    """Every keepable fact in a message, in order, without repeats; never a secret (see :func:`is_secret`)."""
    facts: list[Fact] = []
    seen: set[str] = set()
    for sentence in split_sentences(text):
        if is_secret(sentence):
            continue
        fact = explicit_fact(sentence) or classify(sentence)
        if fact is not None and fact.text.lower() not in seen:
            seen.add(fact.text.lower())
            facts.append(fact)
    return facts


def fact_from_text(text: str, *, hard: bool = False) -> Fact:
    """Describe text that is stored as given (an owner's `add`, an import, an LLM-extracted line).

    Text of several sentences keeps its topic but gets no slot: a later fact in that slot would
    replace the whole text, and with it every other sentence (an imported conversation turn
    "My sister is a nurse. We hiked the Alps in May." would lose the hike to "My sister is a doctor").
    """
    classified = explicit_fact(text) or classify(text)
    text = " ".join(text.split())
    if classified is None:
        return Fact(text, None, hard, "notes")
    slot = classified.slot if len(split_sentences(text)) == 1 else None
    return Fact(text, slot, hard or classified.hard, classified.topic)


def keywords(text: str, limit: int = 4) -> list[str]:
    """A few content words of the text, used as extra tags."""
    out: list[str] = []
    for word in re.findall(r"[^\W\d_][\w'-]*", fold(text)):
        word = word.strip("'-").removesuffix("'s")
        if len(word) < 3 or word in STOPWORDS:
            continue
        if word not in out:
            out.append(word)
        if len(out) == limit:
            break
    return out
