"""Recognising secrets in chat by their values, not by the words around them.

SEL never stores a secret, but "a spiderman pin", "the key to success" and "arcade tokens" are not
secrets: a sentence is a secret only when it holds a value that looks like one. The rules, in order:

1. **A shape that is a secret on its own**, anywhere outside links and Discord mentions: a Luhn-valid
   card number, a US social security number, a valid IBAN, a key with a known prefix (sk-, ghp_, AKIA...)
   or a long random-looking run of letters and digits. :mod:`sel.memory.secret_shapes` has the details.
2. **A keyword, then the kind of value that secret has**: digits for a PIN, a door code or a CVV
   ("my pin is 4921", "gate code: 55 21", spelled out "four nine two one"), a password-like word after
   "password"/"pw"/"passcode" (digits with letters, symbols, inner capitals, or quoted), a key-like
   string after "api key" or "token", several words after "seed phrase", and so on. A plain word counts
   as a password only right after a link word and at the end of the phrase, and not a describing word:
   "my password is bingewatcher" is a secret, "my password is weak, I know" is not.
   Between keyword and value only linking words may stand ("is", "'s", ":", "now", "my", "for the office
   is"). A value after an unlinked preposition ("a pin for 1200 points") or followed by a unit ("150
   yards", "2500 yen") is not a value, and without any link word the value must end the phrase
   ("garage code 6622").
3. **The value first**: "4921 is my pin", "hunter2 is my password", "use 8830 for the door".

A keyword with no value ("I forgot my password again") is not a secret. Pure functions, no state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sel.memory.secret_shapes import KEY_PREFIX, shape_kind

# A value checker reads the text from where a value may start and returns how many characters the value
# takes, or None. `linked` says whether a link word ("is", ":") came right before it.
Checker = Callable[[str, bool], int | None]

_I = re.IGNORECASE
_LINKS_AND_MENTIONS = re.compile(r"\b(?:https?://|www\.)\S+|<(?:@[!&]?|#|a?:\w+:)\d+>", _I)
_LINK = r"is|are|was|were|'s|be|been|now|became|equals|(?:changed|set|reset|updated|switched)\s+to"
_PREP = r"for|to|at|on|in|of|from|with|by|into|since"
_FILLER = (
    r"the|a|an|my|our|your|his|her|their|its|it|it's|this|that|new|old|current|actual|real|main|own|front|back"
    r"|side|work|home|office|flat|apartment|house|building|door|gate|garage|bank|debit|credit|card|phone|sim|atm"
    r"|wifi|wi-fi|router|laptop|email|gmail|account|login|gym|school|locker|bike|lock|safe|alarm|number|no|num"
    r"|code|combination|combo|will|still|literally|probably|just|always|currently|btw|actually|basically|again|then"
)
# One unit of the gap between keyword and value. A prepositional phrase ("for the office") is fine when a
# link word follows it ("door code for the office is 4590"); a bare preposition before the value is not.
_GAP_UNIT = re.compile(
    rf"\s*(?:(?P<link>(?:{_LINK})\b|[:=]+|->)"
    rf"|(?P<phrase>(?:{_PREP})\s+(?:[\w'-]+\b\s*){{1,4}}?(?=(?:is|was|are)\b|'s\b|[:=]))"
    rf"|(?P<prep>(?:{_PREP})\b)|(?P<filler>(?:{_FILLER})\b|[-,]))",
    _I,
)
_UNIT_AFTER = re.compile(
    r"\s*(?:%|(?:yen|dollars?|bucks|usd|eur|euros?|pounds?|quid|gbp|cents?|coins?|points?|pts|gems?|credits?"
    r"|robux|v-?bucks|rupees|pesos|people|members|users|followers|subs|subscribers|views|likes|pins|messages"
    r"|times|pieces|copies|items|days|weeks|months|years|yrs|hours|hrs|minutes|mins|seconds|secs|ms|km|miles"
    r"|meters|metres|m|ft|feet|yards|yds|inches|cm|mm|kg|lbs?|grams?|g|mb|gb|kb|tb|words|characters|chars"
    r"|digits|letters|lines|pages|hp|dmg|damage|xp|elo|mmr|rpm|calories|kcal|steps|mph|percent|degrees"
    r"|tokens|hits|votes|downloads|stars|k)\b)",
    _I,
)
_END = (
    r"\s*(?:$|[.,!?;)]|(?:and|but|so|for|on|at|to|in|then|lol|lmao|haha|btw|ok|okay|pls|please|remember|thanks"
    r"|thx|ty|jk|dont|don't|xd)\b)"
)
_PHRASE_END = re.compile(_END, _I)
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_DIGITS = re.compile(rf"\d(?:[ -]?\d)*[#*]?|(?:{_DIGIT_WORD}[\s,-]+){{3,}}{_DIGIT_WORD}\b", _I)
_NOT_VALUES = frozenset(
    """a an the my your his her our their its it it's this that these those same so too very really super pretty
    quite just still also not no never always now in on at of for to from with without by about like as and or
    but if because somewhere something nothing anything everything what which who how why where when there here
    all some any one mine yours ours theirs hers lol lmao haha btw ok okay idk tbh ngl fr rn weak strong long
    short wrong right correct incorrect invalid valid old new bad good great fine easy hard simple complex
    secure insecure safe unsafe unique random private secret public optional forgotten gone lost done set reset
    case garbage trash terrible awful horrible stupid dumb silly funny cursed impossible ridiculous insane crazy
    obvious predictable mid solid decent perfect huge massive tiny ancient outdated temporary temp default
    blank empty null none nil undefined true false unknown written hidden different similar whatever sensitive
    mandatory sus cool nice ugly weird strange gross important shorter longer stronger weaker better worse best
    worst broken""".split()
)
_DESCRIBING_SUFFIXES = ("ed", "ing", "ly", "able", "ible", "ous", "ful", "less", "ive")
_QUOTED = re.compile(r"\"([^\"]{1,64})\"|'([^']{1,64})'|`([^`]{1,64})`|\u201c([^\u201d]{1,64})\u201d")
_PASSWORD_SYMBOLS = frozenset("!@#$%^&*+=?~")


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    keyword: re.Pattern[str]
    value: Checker
    backward: bool = True  # "4921 is my pin" as well as "my pin is 4921"
    linked_only: bool = False  # the value needs a link word: "the lock is set to 7319", not "lock 7319"
    context: re.Pattern[str] | None = None  # a word the sentence must also hold


def secret_kind(text: str) -> str | None:
    """What kind of secret the text holds ("a PIN", "a password", "a card number", ...), or None."""
    text = _LINKS_AND_MENTIONS.sub(lambda m: " " * len(m.group()), text.replace("\u2019", "'"))
    return shape_kind(text) or _keyword_kind(text)


def is_secret(text: str) -> bool:
    """Whether the text holds a secret value (see the module docstring for the rules)."""
    return secret_kind(text) is not None


# -- values ------------------------------------------------------------------------------------------


def _digits(low: int, high: int, *, grouped: bool = False) -> Checker:
    def check(rest: str, linked: bool) -> int | None:
        match = _DIGITS.match(rest)
        if match is None or re.match(r"[^\W_]|[.,:/]\d", rest[match.end() :]):
            return None  # "150m", "1940s", "9.99", "5:30", "06/14"
        value = match.group()
        count = sum(c.isdigit() for c in value) or len(re.findall(_DIGIT_WORD, value, _I))
        if not low <= count <= high or (grouped and not re.search(r"\d[ -]\d", value)):
            return None
        return match.end()

    return check


def _token(rest: str) -> tuple[str, int]:
    """The first whitespace-delimited token, without closing punctuation, and where it ends."""
    match = re.match(r"\S+", rest)
    if match is None:
        return "", 0
    token = match.group().rstrip(".,;:)?")
    return token, len(token)


def _password_like(token: str) -> bool:
    if len(token) < 4 or token[0] in "/~" or "://" in token or re.fullmatch(r"\S+@\S+\.\w+", token):
        return False
    letters, digits = any(c.isalpha() for c in token), any(c.isdigit() for c in token)
    if token.isdigit() or (letters and digits):
        return True
    symbols = any(c in _PASSWORD_SYMBOLS for c in token)
    return letters and ((symbols and len(token) >= 6) or any(c.isupper() for c in token[1:]))


def _plain_words(rest: str, most: int) -> tuple[list[str], int] | None:
    """Up to `most` plain words that run to the end of the phrase, or None."""
    word = r"[a-z]+(?:-[a-z]+)*"
    match = re.match(rf"\s*{word}(?:\s+{word}){{0,{most - 1}}}(?={_END})", rest, _I)
    if match is None:
        return None
    return match.group().lower().split(), match.end()


def _describes(word: str) -> bool:
    return word in _NOT_VALUES or word.endswith(_DESCRIBING_SUFFIXES)


def _password(rest: str, linked: bool) -> int | None:
    quoted = _QUOTED.match(rest)
    if quoted and linked:
        return quoted.end()
    token, end = _token(rest)
    if _password_like(token):
        return end
    words = _plain_words(rest, 6) if linked else None
    if words is None or any(_describes(word) for word in words[0]):
        return None
    return words[1]


def _key(min_length: int, *, plain: bool) -> Checker:
    def check(rest: str, linked: bool) -> int | None:
        token, end = _token(rest)
        if KEY_PREFIX.match(token) or (
            len(token) >= min_length and re.search(r"[a-z]", token, _I) and re.search(r"\d", token)
        ):
            return end
        return _password(rest, linked) if plain else None

    return check


def _phrase_words(least: int) -> Checker:
    """Recovery words: at least `least` plain words, mostly not everyday describing or function words."""

    def check(rest: str, linked: bool) -> int | None:
        words = _plain_words(rest, 24) if linked else None
        if words is None or len(words[0]) < least or _describes(words[0][0]):
            return None
        common = sum(_describes(word) for word in words[0])
        return words[1] if common * 3 <= len(words[0]) else None

    return check


def _credentials(rest: str, linked: bool) -> int | None:
    """A "name / password" pair, as in "login: maya@example.com / Blu3b3rry"."""
    pair = re.match(r"[^\s/|]+\s*[/|]\s*(?P<password>\S+)", rest)
    if pair is None:
        return None
    token, length = _token(pair.group("password"))
    return pair.start("password") + length if _password_like(token) else None


def _bank(rest: str, linked: bool) -> int | None:
    match = re.match(r"[a-z]{0,4}\d[\d -]{4,32}\d|[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,8}(?: ?[a-z0-9]{1,4})?", rest, _I)
    if match is None or sum(c.isdigit() for c in match.group()) < 6:
        return None
    return match.end()


def _national_id(rest: str, linked: bool) -> int | None:
    uk = re.match(r"[a-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[a-d]\b", rest, _I)
    return uk.end() if uk else _digits(8, 11)(rest, linked)


def _one_time_codes(rest: str, linked: bool) -> int | None:
    return _digits(4, 12)(rest, linked) or _key(6, plain=False)(rest, linked)


def _rule(
    kind: str, keyword: str, value: Checker, *, backward: bool = True, linked_only: bool = False, context: str = ""
) -> _Rule:
    needs = re.compile(context, _I) if context else None
    return _Rule(kind, re.compile(keyword, _I), value, backward, linked_only, needs)


# Things that open with a code. "building code" and "house code" mean other things, so those two only
# count after "code for the ...".
_LOCKED = (
    r"door|locker|lock|padlock|alarm|gate|safe|entry|entrance|access|garage|keypad|lockbox|key\s*safe"
    r"|key\s*box|buzzer|intercom|storage(?:\s+unit)?|mailbox|shed|vault"
)
_PLACE = rf"{_LOCKED}|building|office|house|apartment|flat"
_RULES = [
    _rule(
        "a password",
        r"\b(?:pass(?:word|wd|wrd|wrod|owrd|ord|phrase|code)|pasword|paswd|psswd|pswd|pwd|pw|pword|p/w)s?\b"
        r"|\b(?:wi-?fi|login|router)\s+pass\b",
        _password,
    ),
    _rule("a PIN", r"\bpin(?:\s*(?:code|number|no\.?|num))?\b|\bpincode\b", _digits(4, 12)),
    _rule("a door code", rf"\b(?:{_LOCKED})\s+(?:codes?|combination|combo|pin)\b", _digits(3, 12)),
    _rule(
        "a door code",
        rf"\bcode\s+(?:to|for)\s+(?:the\s+|my\s+|our\s+)?(?:front\s+|back\s+|main\s+|side\s+)?(?:{_PLACE})\b",
        _digits(3, 12),
    ),
    _rule("a lock combination", r"\b(?:combination|combo)\b", _digits(3, 12, grouped=True)),
    # "the lockbox has the keys, code is 3141" (a bare code, not an "error code"); "the bike lock is set to 7319"
    _rule(
        "a door code",
        r"(?:^|(?<=, )|(?<=\bthe )|(?<=\bits )|(?<=\bour )|(?<=\bmy )|(?<=\band ))(?:code|combination|combo)\b",
        _digits(3, 12),
        backward=False,
        linked_only=True,
        context=rf"\b(?:{_LOCKED})\b",
    ),
    _rule("a door code", r"\b(?:padlock|lock|safe|lockbox|keypad)\b", _digits(3, 8), backward=False, linked_only=True),
    _rule("a card security code", r"\b(?:cvv2?|cvc2?|cv2|csc|(?:card\s+)?security\s+code)\b", _digits(3, 4)),
    _rule(
        "a card number",
        r"\b(?:(?:credit|debit|bank|visa|mastercard|amex|discover)(?:\s*card)?(?:\s*(?:number|no\.?|num|details))?"
        r"|card\s*(?:number|no\.?|num|details))\b",
        _digits(12, 19),
    ),
    _rule(
        "an ID number",
        r"\b(?:ssn|social\s+(?:security|insurance)(?:\s+(?:number|no\.?|num))?|sin\s+(?:number|no\.?)"
        r"|national\s+insurance(?:\s+(?:number|no\.?))?|ni\s+(?:number|no\.?)|tax\s+(?:id|file\s+number)|tfn)\b",
        _national_id,
    ),
    _rule(
        "a bank account number",
        r"\b(?:iban|(?:bank\s+)?(?:account|acct|acc)\s*(?:number|no\.?|num|#)|bank\s+account"
        r"|routing\s+(?:number|no\.?)|aba\s+number|sort\s+code|bsb)\b",
        _bank,
    ),
    _rule(
        "an API key",
        r"\b(?:(?:api|secret|private|access|client|app|bot|auth|bearer|session|refresh|ssh|gpg|pgp|license|licence"
        r"|product|activation|serial|encryption|wallet|aws|openai|github|gitlab|discord|stripe|slack)[\s_-]*)+"
        r"(?:keys?|tokens?|secrets?)\b|\bapikey\b",
        _key(8, plain=True),
    ),
    _rule("an API key", r"\btokens?\b", _key(12, plain=False), backward=False),
    _rule(
        "a recovery phrase",
        r"\b(?:seed|recovery|mnemonic|backup|wallet)\s+(?:phrase|words|sentence)s?\b",
        _phrase_words(3),
        backward=False,
    ),
    _rule("a recovery phrase", r"\bseed\b", _phrase_words(6), backward=False),
    _rule("a password", r"\b(?:login|log-in|credentials|creds)\b", _credentials, backward=False),
    _rule(
        "a 2FA code",
        r"\b(?:2fa|two[\s-]factor|mfa|otp|one[\s-]time|backup|recovery|verification|authenticator|auth|login|sms)"
        r"\s+(?:codes?|pins?)\b",
        _one_time_codes,
    ),
]

# -- keyword and value -----------------------------------------------------------------------------------

_BEFORE_KEYWORD = re.compile(
    r"(?:^|[\s:,(])(?P<value>\S+(?:[ -]\d+)*)\s+(?:is|was|are|as|=|'s)\s+"
    rf"(?:(?:{_FILLER})\s+){{0,3}}$",
    _I,
)
_CHANGE_VERB = re.compile(
    rf"\b(?:set|changed?|reset|updated?|switched|made)\s+(?:(?:{_FILLER})\s+){{0,3}}$",
    _I,
)
_DOOR_INSTRUCTION = re.compile(
    r"\b(?:use|enter|type|punch(?:\s+in)?|press|dial|key\s+in|tap\s+in)\s+\d(?:[ -]?\d){2,11}[#*]?\s+"
    r"(?:for|on|at|to\s+(?:open|get\s+into))\s+(?:the\s+|our\s+|my\s+)?(?:front\s+|back\s+|main\s+|side\s+)?"
    rf"(?:{_PLACE})\b",
    _I,
)


def _keyword_kind(text: str) -> str | None:
    for rule in _RULES:
        if rule.context is not None and rule.context.search(text) is None:
            continue
        for keyword in rule.keyword.finditer(text):
            if _value_after(rule, text, keyword) or (rule.backward and _value_before(rule, text, keyword)):
                return rule.kind
    return "a door code" if _DOOR_INSTRUCTION.search(text) else None


def _value_after(rule: _Rule, text: str, keyword: re.Match[str]) -> bool:
    # "I set my pin to 4921": after a verb of change, "to" introduces the value.
    changed = _CHANGE_VERB.search(text, 0, keyword.start()) is not None
    kinds: list[str] = []
    position = keyword.end()
    while len(kinds) < 10 and (unit := _GAP_UNIT.match(text, position)) is not None and unit.end() > position:
        to_value = changed and unit.lastgroup == "prep" and unit.group().strip().lower() == "to"
        kinds.append("link" if to_value else unit.lastgroup or "")
        position = unit.end()
    last_link = max((i for i, kind in enumerate(kinds) if kind == "link"), default=-1)
    if "prep" in kinds[last_link + 1 :] or (rule.linked_only and last_link < 0):
        return False  # "a pin for 1200 points": the number is not the pin
    value_start = len(text) - len(text[position:].lstrip())
    linked = bool(kinds) and kinds[-1] == "link"
    length = rule.value(text[value_start:], linked)
    if length is None:
        return False
    after = text[value_start + length :]
    if _UNIT_AFTER.match(after):
        return False  # "the pin was 150 yards out"
    return last_link >= 0 or _PHRASE_END.match(after) is not None


def _value_before(rule: _Rule, text: str, keyword: re.Match[str]) -> bool:
    before = _BEFORE_KEYWORD.search(text, 0, keyword.start())
    if before is None or _PHRASE_END.match(text, keyword.end()) is None:
        return False
    value = before.group("value").rstrip(".,;:)")
    length = rule.value(value, False)
    return length is not None and length >= len(value.rstrip("#*"))
