"""Intent routing: which expert answers a message — ``code``, ``vision``, ``memory`` or ``general``.

The router adds up cheap, explainable signals; no model is called.

Forced routes
    A message starting with ``code:`` goes to the coder model, one starting with ``chat:``
    to the general model; the prefix is stripped from the text the model sees.

Code signals (weights add up; 1.5 or more means code)
    - structure (3.0): a code fence, a stack trace (``Traceback``, ``File "x.py", line 3``,
      ``at pkg.Cls(File.java:14)``), an error line (``TypeError:``, ``npm ERR!``, ``error[E0382]``,
      ``fatal:``, ``undefined reference``), two or more lines that look like code pasted
      without a fence (``def``/``function``/``#include``, lines ending in ``;`` or ``{``,
      assignments, calls, SQL, shell commands); one such line counts 1.5;
    - an attached file with a source-code extension (``.py``, ``.rs``, ``.tsx`` …) or a log (3.0);
    - inline code in backticks, a source file name in the text (``main.py``), a call such as
      ``console.log(x)`` inside a sentence, operators such as ``===`` or ``=>`` (0.75–1.5 each);
    - programming vocabulary: unambiguous terms (``javascript``, ``regex``, ``segfault``,
      ``git``, ``recursion``, "in python" …) count 1.5 each; ambiguous ones (``python``, ``bug``,
      ``code``, ``class``, ``server``, ``script`` …) count 0.75, so one alone is not enough, and
      not at all next to a false friend ("ball python", "code of conduct", "stomach bug",
      "rust on my bike", "java" with coffee, "debugging my life");
    - a technical term asked about as a problem or question ("my program prints None",
      "how do i …", "keeps crashing") adds 0.75.

Vision
    An image attachment (or a link to an image) means vision, unless the text itself carries
    structural code evidence (a pasted trace beside a screenshot is answered from the text).

Memory
    Requests about what SEL remembers: an imperative "remember / don't forget / keep in mind /
    note that / save this" (not "I remember…", "remember when…"), questions about the author
    ("what's my sister's name?", "do you remember my birthday?", "what do you know about me"),
    forget requests ("forget everything about me", "delete my data"; not "forget it") and
    consent phrases ("you can remember stuff about me", "stop remembering").

Precedence: forced prefix > structural code > vision > memory (unless code evidence is stronger) >
code vocabulary > general.

Only the first :data:`SCAN_CHARS` characters are scanned (attachments count whatever the
length): a file attached in Discord is appended to the text, and routing runs on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sel.domain import AttachmentInfo, Route

INTENTS = ("code", "vision", "memory", "general")
CODE_THRESHOLD = 1.5
STRUCTURE_THRESHOLD = 2.5  # code evidence strong enough to win over an image or a memory phrase
MEMORY_THRESHOLD = 2.0
# Twice Discord's longest message: typed text is always scanned whole; a 100 KB attached file
# would otherwise take about half a second to route.
SCAN_CHARS = 8000


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: how much it weighs and the words that explain it."""

    weight: float
    reason: str


# ---- forced prefixes --------------------------------------------------------------------

FORCE_PREFIX = re.compile(r"^\s*(code|chat)\s*:\s*", re.IGNORECASE)
FORCED_INTENT = {"code": "code", "chat": "general"}


def split_forced_prefix(text: str) -> tuple[str | None, str]:
    """(forced intent or None, text without the prefix)."""
    match = FORCE_PREFIX.match(text)
    if not match:
        return None, text
    return FORCED_INTENT[match.group(1).lower()], text[match.end() :]


# ---- code: structure ---------------------------------------------------------------------

# Source files and logs; a pasted log is usually a crash someone wants read.
_CODE_EXTENSION_NAMES = (
    "py pyi ipynb js mjs cjs ts tsx jsx rs go java kt kts scala c h cc cpp hpp cxx cs rb php swift m lua pl r sh "
    "bash zsh ps1 bat sql html htm css scss vue svelte dart ex exs hs clj toml yaml yml ini cfg gradle cmake "
    "dockerfile patch diff log"
)
CODE_EXTENSIONS = frozenset("." + name for name in _CODE_EXTENSION_NAMES.split())
SOURCE_NAMES = frozenset({"dockerfile", "makefile", "cmakelists.txt", "package.json", "cargo.toml"})

STRUCTURE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, flags), reason)
    for pattern, flags, reason in (
        (r"```", 0, "code fence"),
        (r"Traceback \(most recent call last\)", 0, "Python traceback"),
        (r'File "[^"\n]+", line \d+', 0, "stack trace line"),
        (r"^\s*at [\w.$<>]+\([\w.]+:\d+\)", re.MULTILINE, "stack trace line"),
        (r"\b(?:[A-Z][a-z0-9]+)+(?:Error|Exception)\b", 0, "error name"),
        (r"\b(?:java|javax|kotlin|org)\.[\w.]+(?:Exception|Error)\b", 0, "error name"),
        (r"\berror\[E\d{3,4}\]", 0, "compiler error code"),
        (r"\bnpm ERR!", 0, "npm error"),
        (r"^fatal: ", re.MULTILINE, "git error"),
        (r"\bundefined reference to\b", 0, "linker error"),
        (r"\bsegmentation fault\b|\bsegfault\b|\bcore dumped\b", re.IGNORECASE, "crash report"),
        (r"\bCrashLoopBackOff\b|\bERESOLVE\b|\bENOENT\b|\bEADDRINUSE\b", 0, "tool error"),
    )
)

SHELL_COMMAND = (
    r"^\s*\$?\s*(?:(?:pip3?|npm|yarn|pnpm) (?:install|uninstall|run|start|i|list)\b|npx \S|"
    r"git (?:push|pull|commit|clone|checkout|merge|rebase|status|add|log|reset|stash|fetch|branch)\b|"
    r"docker(?: compose| -compose)? (?:run|build|up|down|ps|exec|logs)\b|kubectl \w+|cargo (?:build|run|test|add)\b|"
    r"python3? (?:-m \w|\S+\.py)|node \S+\.js|sudo \w+|apt(?:-get)? install|ls -\w|cd [~/.\w]+/|grep -?\w+ )"
)
CODE_LINE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, flags)
    for pattern, flags in (
        (r"^\s*(?:def|class|fn|func|function|async def|import|package|using|return|elif)\b\s*\S", 0),
        (r"^\s*(?:public|private|protected|static)\s+\w+", 0),
        (r"^\s*from\s+[\w.]+\s+import\b", 0),
        (r"^\s*#include\s*[<\"]", 0),
        (r"^\s*(?:const|let|var)\s+\w+\s*=", 0),
        (r"^\s*(?:if|for|while|switch|catch)\s*\(.*\)\s*\{?\s*$", 0),
        (r"^\s*(?:if|for|while|elif|else|try|except|with)\b[^\n]*:\s*$", 0),
        (r"^\s*for\s+\w+\s+in\s+\w+", 0),
        (r"^[^\n]*[;{}]\s*$", 0),
        (r"^\s*[\w.\[\]]+\s*(?:=|\+=|-=)\s*[\w\[\{\(\"'][^\n]*$", 0),
        (r"^\s*[\w.]+\([^\n]*\)\s*(?:#[^\n]*)?$", 0),
        (r"^\s*(?:SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE TABLE)\b[^\n]*\b(?:FROM|VALUES|SET|WHERE|\()", 0),
        (SHELL_COMMAND, 0),
    )
)
# Seven plain words in a row are prose even if the line happens to end in ";" or ")".
NOT_A_CODE_LINE = re.compile(r"^\s*(?:[a-z']+\s+){6,}[a-z']+[.!?]?\s*$", re.IGNORECASE)

INLINE_CODE = re.compile(r"`([^`\n]+)`")
CODE_CHARACTERS = re.compile(r"[()\[\]{}=|;_/.<>-]")
SOURCE_FILE_NAME = re.compile(
    r"\b[\w-]+\.(?:py|js|ts|tsx|jsx|rs|go|java|cpp|hpp|cs|rb|php|sh|json|ya?ml|toml|html|css|sql|kt|swift)\b"
)
OPERATORS = re.compile(r"===|!==|=>|->|::|&&|\|\||\+=|==|!=")
CALL_IN_TEXT = re.compile(
    r"\b\w+\.\w+\([^)\n]*\)|\b(?:print|len|range|input|str|int|printf|puts|echo)\s*\([^)\n]*\)|"
    r"\b(?:if|while|for|switch)\s*\((?:true|false|[^)\n]*[<>=!][^)\n]*)\)"
)
IMAGE_URL = re.compile(r"https?://\S+\.(?:png|jpe?g|gif|webp|bmp)(?:\?\S*)?\b", re.IGNORECASE)

# ---- code: vocabulary --------------------------------------------------------------------


def _terms(text: str) -> tuple[str, ...]:
    return tuple(term.strip() for term in text.split("|"))


STRONG_TERMS = _terms(
    "javascript | typescript | node.js | nodejs | npm | pip install | pip installed | pypi | virtualenv | venv | "
    "conda | git | github | gitlab | merge conflict | pull request | rebase | docker | kubernetes | kubectl | api | "
    "apis | endpoint | json | yaml | csv | sql | sqlite | postgres | mysql | mongodb | database | html | css | div | "
    "regex | regexp | compiler | compile | segfault | stack trace | traceback | recursion | recursive | algorithm | "
    "big o | time complexity | binary search | linked list | hashmap | hash map | hash table | array | arrays | "
    "boolean | int | variable | variables | async | await | callback | null pointer | pointer | pointers | malloc | "
    "syntax error | refactor | unit test | pytest | linter | vscode | vs code | intellij | localhost | backend | "
    "frontend | django | fastapi | flask app | react app | useeffect | c++ | c# | golang | kotlin | haskell | monad | "
    "lambda | discord.py | discord bot | cmake | makefile | numpy | pandas | dataframe | stdout | stderr | debugger | "
    "breakpoint | repo | bash | shell script | powershell | sudo | cors | oauth | websocket | vps | nginx | "
    "leetcode | polymorphism | programming | coding | game dev | interpreter | undefined behavior | "
    "internal server error | source code | game engine | memory leak | dict | tuple | netlify | vercel | heroku | "
    "aws | re-render | rerender | vlookup | excel formula | excel formulas | tabs vs spaces | tabs or spaces | "
    "open source | stack overflow | rest api | unity | godot | arduino | raspberry pi | pygame | replit | ide | sdk | "
    "oop | data structures | scrape | scraping | scraper | beautifulsoup | selenium"
)
AMBIGUOUS_TERMS = _terms(
    "python | java | rust | bug | bugs | code | script | program | debug | debugging | class | classes | server | "
    "loop | string | function | method | error | crash | crashes | library | framework | install | deploy | commit | "
    "branch | query | parse | terminal | react | flask | intents | bot | app | slow | self | global | js | website | "
    "webpage | page | thread | threads | process | closure | render | input | key | dictionary | formula | formulas | "
    "browser | null | exception | object | objects | syntax | compiles | developer | dev | build | pipeline | "
    "offline | route | 404"
)
# Phrases that turn a strong signal on even though each word alone is ambiguous.
STRONG_PHRASES = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bin (?:python|java|rust|go|js|c|ruby|php|swift|lua|bash)\b",
        r"\b(?:write|code|make|implement|give)\b(?: me)?(?: a| an| the)? (?:\w+ ){0,3}"
        r"(?:function|script|program|class|method|regex|query|bot)\b",
        r"\b(?:python|rust|java|go|js|c|c\+\+|ruby) (?:code|script|program|app|project|file|class|classes|dev)\b",
        r"\b(?:learn|learning|learnt|learned|switch to|pick up)\s+(?:python|rust|java|go|golang|c|js|ruby|kotlin)\b",
        r"\b(?:python|rust|java|golang|ruby|kotlin)\b.{0,25}\b(?:worth learning|to learn|learning)\b",
        r"\bfor loop\b|\bwhile loop\b|\bnested loop\b|\bwhile true\b",
        r"\bslash commands?\b",
        r"\bstatus code\b|\b[45]\d\d (?:error|status)\b",
        r"\bstring to int\b|\bint to string\b",
        r"\b(?:writing|write|wrote|reading|review(?:ing)?|learning to) (?:code|scripts?|programs?)\b",
        r"\b(?:build|code|program|develop|host|deploy|make) (?:a|my|an|the) (?:website|web ?site|web app|app|bot)\b",
        r"\bworks on my machine\b|\boff[- ]by[- ]one\b|\bci/cd\b|\bon ci\b",
    )
)
# A question or a complaint makes one ambiguous term ("my program prints None") count as code.
PROBLEM_FRAME = re.compile(
    r"\b(?:how (?:do|can|would|should) (?:i|you|we)|how to|why (?:is|does|do|isn't|doesn't|won't|can't|am)|"
    r"what(?:'s| is) (?:a|an|the)|is there (?:a|an)|any(?:one|body) know|not (?:working|responding)|"
    r"doesn'?t work|keeps?|fails?|failing|broken|stuck|goes? offline|prints?|returns?)\b",
    re.IGNORECASE,
)
FALSE_FRIENDS: dict[str, re.Pattern[str]] = {
    term: re.compile(pattern, re.IGNORECASE)
    for terms, pattern in (
        (
            ("python",),
            r"\bsnakes?\b|\breptiles?\b|\bball python\b|\bzoo\b|\bterrarium\b|\bshed\b|\bmice\b|\bvivarium\b|"
            r"\bmonty python\b|\beat(?:ing)?\b|\bpets?\b",
        ),
        (("java",), r"\bcoffee\b|\bcup\b|\bisland\b|\bindonesia\b|\bbrew\b"),
        (("rust",), r"\bbikes?\b|\bcars?\b|\bmetal\b|\bchain\b|\biron\b|\bpaint\b|\brusty\b"),
        (
            ("bug", "bugs"),
            r"\brelationship\b|\binsects?\b|\bspiders?\b|\broom\b|\bkitchen\b|\bbites?\b|\bstomach\b|\bcaught\b|"
            r"\bcatch\b|\bflu\b|\bmy life\b|\bgarden\b",
        ),
        (
            ("code",),
            r"\bcode of conduct\b|\bdress code\b|\bzip code\b|\bpostal code\b|\bpromo code\b|\bdiscount code\b|"
            r"\bcheat codes?\b|\bmorse code\b|\barea code\b|\bcode red\b|\bda vinci code\b|\blocker\b|"
            r"\bdoor code\b|\bgift code\b|\bcoupon\b|\bcode name\b|\bbar ?code\b",
        ),
        (
            ("class", "classes"),
            r"\bschool\b|\bteachers?\b|\blectures?\b|\bboring\b|\bmath class\b|\byoga\b|\bgym\b|\bfirst class\b|"
            r"\bclass reunion\b|\bclassmates?\b|\bskip(?:ping)? class\b",
        ),
        (
            ("server",),
            r"\bdiscord server\b|\bthis server\b|\bour server\b|\bserver's\b|\bminecraft server\b|\bwaiter\b",
        ),
        (("program",), r"\btv\b|\bmy day\b|\btraining\b|\bexchange\b|\bdegree\b|\bloyalty\b|\bmasters?\b"),
        (("debug", "debugging"), r"\bmy life\b|\bmy brain\b|\bmy feelings\b"),
        (("script",), r"\bmovie\b|\bfilm\b|\bscreenplay\b|\bplay\b|\bactors?\b"),
        (("loop",), r"\bin the loop\b|\bloop me in\b|\bon loop\b|\brepeat\b"),
        (("string",), r"\bguitar\b|\bviolin\b|\bstring lights\b|\bcheese\b"),
        (("crash", "crashes"), r"\bcar crash\b|\bcrash course\b|\bcrash at\b|\bcrash on\b|\bsugar crash\b"),
        (("react",), r"\bhow (?:do|should|would) (?:i|you) react\b|\breacted\b"),
        (("flask",), r"\bchemistry\b|\blab\b|\bwater\b|\bhip flask\b"),
        (("bot",), r"\bbot lane\b"),
        (("route",), r"\bbus\b|\bdrive\b|\bdriving\b|\bwalk\b|\bhike\b|\bscenic\b|\btrip\b"),
        (("function",), r"\bliver\b|\bheart\b|\bkidneys?\b|\bbody\b"),
        (("js",), r"^js\b"),
        (("closure",), r"\bbreak ?up\b|\brelationship\b|\bex\b|\bneed closure\b|\bgrie(?:f|ving)\b"),
        (("process", "thread", "threads"), r"\bgrie(?:f|ving)\b|\bhealing\b|\bdiscord\b|\bthis thread\b|\btwitter\b"),
        (("key",), r"\bkeys to\b|\bcar keys?\b|\bhouse key\b|\bmy keys?\b|\bkey to\b"),
        (("page",), r"\bpage \d+\b|\bbook\b|\bsame page\b"),
        (("dictionary",), r"\bwords?\b|\bmeaning\b|\bdefinition\b|\bspanish\b|\bfrench\b|\benglish\b"),
    )
    for term in terms
}

_TERM_PATTERNS: dict[str, re.Pattern[str]] = {
    term: re.compile(r"(?<![\w.#+])" + re.escape(term) + r"(?![\w#+]|\.\w)", re.IGNORECASE)
    for term in (*STRONG_TERMS, *AMBIGUOUS_TERMS)
}

# ---- memory ------------------------------------------------------------------------------

# An imperative at the start of a sentence: "remember…", "sel, pls remember…", "can you note that…".
_LEAD_IN = (
    r"(?:^|[.!?\n;]\s*|,\s*)(?:(?:hey|hi|yo|ok|okay|so|and|also|oh|btw)[,!]?\s+)*(?:sel\b[,:!]?\s*)?"
    r"(?:(?:pls|please|plz|can you|could you|can u|would you|will you|i want you to|i need you to|"
    r"i'?d like you to|i would like you to)\s+)?"
)
MEMORY_PATTERNS: tuple[tuple[re.Pattern[str], float, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), weight, reason)
    for pattern, weight, reason in (
        (
            _LEAD_IN + r"(?:remember|rmb|memori[sz]e|keep in mind|don'?t forget|do not forget|note)\b"
            r"(?!\s+(?:when|the time|to|how)\b)",
            2.5,
            "asks SEL to remember",
        ),
        (_LEAD_IN + r"save this\b", 2.5, "asks SEL to save something"),
        (
            _LEAD_IN + r"(?:forget|wipe|erase|delete|clear)\b(?!\s+(?:it|about it|this|that\b(?! i| my)))",
            2.5,
            "asks SEL to forget",
        ),
        (
            r"\b(?:delete|wipe|erase|clear|remove)\b.{0,25}\b(?:my data|your memory|memories|about me|on me|of me)\b",
            2.5,
            "asks SEL to delete what it knows",
        ),
        (r"\b(?:what|where|who|when|how)\b.{0,30}\b(?:my|i)\b.{0,25}\bagain\s*\?", 2.0, "asks SEL to recall"),
        (r"\bwhat (?:do|did) you (?:know|remember|have)\b.{0,20}\b(?:about )?me\b", 3.0, "asks what SEL knows"),
        (r"\bwhat (?:have you|did you) (?:stored?|saved?|kept)\b", 3.0, "asks what SEL stored"),
        (r"\b(?:tell me )?what you know about me\b", 3.0, "asks what SEL knows"),
        (r"\b(?:do |did )?you (?:still )?remember (?:my|what|where|when|who|which|how|me|the name)\b", 2.5, "recall"),
        (r"\bdo you know (?:my|what my|where i|who i|when my)\b", 2.5, "asks about the author"),
        (
            r"\b(?:what|who|when|where|which)(?:'s|s| is| are| was| were)? my\b"
            r"(?!\s+(?:code|script|program|function|bug|error|problem|phone|keys?)\b)",
            2.0,
            "asks about the author",
        ),
        (r"\bwhat did i (?:say|tell|mention|share)\b", 2.5, "asks what the author said"),
        (r"\bwhat did we (?:talk|chat|speak) about\b", 2.5, "asks what SEL remembers"),
        (r"\byou know my\b|\byou know (?:who|where|what) i\b", 2.0, "asks about the author"),
        (r"\b(?:you can|you may|feel free to|i'?m ok with you|ok to)\s+(?:remember|store|save|keep)\b", 3.0, "consent"),
        (
            r"\b(?:fine|ok|okay|cool|happy|good)\s+with\s+you\s+(?:remembering|storing|saving|keeping)\b",
            3.0,
            "consent",
        ),
        (r"\b(?:do|did) you (?:still )?remember\s*\?+\s*$", 2.5, "asks SEL to recall"),
        (r"\bi consent\b|\bcan you remember (?:things|stuff|anything)\b", 3.0, "consent"),
        (
            r"\bstop (?:remembering|storing|saving)\b|\b(?:don'?t|do not) want you to (?:remember|store)\b",
            3.0,
            "opt-out",
        ),
        (r"\bbet you forgot\b|\baccording to you\b", 1.0, "asks about the author"),
    )
)


# ---- scoring -----------------------------------------------------------------------------


def code_structure(text: str, attachments: Sequence[AttachmentInfo]) -> list[Signal]:
    """Signals that the message carries code itself: fences, traces, pasted lines, source files."""
    signals = [Signal(3.0, reason) for pattern, reason in STRUCTURE_PATTERNS if pattern.search(text)]
    code_lines = [
        line
        for line in text.splitlines()
        if line.strip() and not NOT_A_CODE_LINE.match(line) and any(p.search(line) for p in CODE_LINE_PATTERNS)
    ]
    if len(code_lines) >= 2:
        signals.append(Signal(3.0, f"{len(code_lines)} code-like lines"))
    elif code_lines:
        signals.append(Signal(1.5, "a code-like line"))
    for attachment in attachments:
        name = attachment.filename.lower()
        if attachment.extension in CODE_EXTENSIONS or name in SOURCE_NAMES:
            signals.append(Signal(3.0, f"attached {attachment.filename}"))
    return _dedupe(signals)


def code_hints(text: str) -> list[Signal]:
    """Weaker signals: inline code, file names, operators and programming vocabulary."""
    signals: list[Signal] = []
    inline = INLINE_CODE.findall(text)
    if inline:
        # `self` may be a word in quotes; `ls -la | grep .py` is code on its own.
        looks_like_code = any(CODE_CHARACTERS.search(snippet) for snippet in inline)
        signals.append(Signal(1.5 if looks_like_code else 1.0, "inline code"))
    if SOURCE_FILE_NAME.search(text):
        signals.append(Signal(1.5, "source file name"))
    if CALL_IN_TEXT.search(text):
        signals.append(Signal(1.5, "code call in the text"))
    operators = set(OPERATORS.findall(text))
    if operators:
        signals.append(Signal(min(1.5, 0.75 * len(operators)), "code operator"))
    strong = [t for t in STRONG_TERMS if _TERM_PATTERNS[t].search(text)]
    phrases = [p for p in STRONG_PHRASES if p.search(text)]
    ambiguous = [
        t
        for t in AMBIGUOUS_TERMS
        if _TERM_PATTERNS[t].search(text) and not (t in FALSE_FRIENDS and FALSE_FRIENDS[t].search(text))
    ]
    if strong or phrases:
        words = strong[:3] or ["programming phrase"]
        signals.append(Signal(min(3.0, 1.5 * (len(strong) + len(phrases))), "vocabulary: " + ", ".join(words)))
    if ambiguous:
        signals.append(Signal(min(1.5, 0.75 * len(ambiguous)), "ambiguous terms: " + ", ".join(ambiguous[:3])))
    if (strong or ambiguous) and PROBLEM_FRAME.search(text):
        signals.append(Signal(0.75, "asked as a technical question"))
    return signals


SLANG = tuple(
    (re.compile(rf"\b{short}\b", re.IGNORECASE), long)
    for short, long in (("u", "you"), ("ya", "you"), ("ur", "your"), ("abt", "about"), ("bout", "about"))
)


def expand_slang(text: str) -> str:
    """Spell out chat shorthand ("what do u know abt me") so one pattern covers both spellings."""
    for pattern, long in SLANG:
        text = pattern.sub(long, text)
    return text


def memory_signals(text: str) -> list[Signal]:
    """Requests about what SEL remembers or forgets about the author."""
    text = expand_slang(text)
    return _dedupe([Signal(weight, reason) for pattern, weight, reason in MEMORY_PATTERNS if pattern.search(text)])


def route(text: str, attachments: Sequence[AttachmentInfo] = ()) -> Route:
    """Classify one message on its first :data:`SCAN_CHARS` characters and its attachments.
    Pure: the same text and attachments always give the same route, whose ``text`` is the
    whole message (less a forcing prefix)."""
    forced, body = split_forced_prefix(text)
    if forced is not None:
        return Route(forced, 1.0, f"forced by the '{text.strip()[:4].lower()}:' prefix", forced=True, text=body)

    head = body[:SCAN_CHARS]
    structure = code_structure(head, attachments)
    hints = code_hints(head)
    memory = memory_signals(head)
    structure_score = _total(structure)
    code_score = structure_score + _total(hints)
    memory_score = _total(memory)
    images = [a for a in attachments if a.is_image]

    if structure_score >= STRUCTURE_THRESHOLD:
        return Route("code", _confidence(code_score), _explain(structure + hints), text=body)
    if images or IMAGE_URL.search(head):
        what = f"{len(images)} image attachment(s)" if images else "an image link"
        return Route("vision", 0.95 if images else 0.8, what, text=body)
    if memory_score >= MEMORY_THRESHOLD and memory_score >= code_score:
        return Route("memory", _confidence(memory_score), _explain(memory), text=body)
    if code_score >= CODE_THRESHOLD:
        return Route("code", _confidence(code_score), _explain(structure + hints), text=body)
    doubt = max(code_score, memory_score)
    reason = "no code, image or memory signals" if doubt == 0 else "too little evidence: " + _explain(hints + memory)
    return Route("general", round(max(0.5, 0.9 - 0.2 * doubt), 2), reason, text=body)


def _total(signals: Sequence[Signal]) -> float:
    return sum(s.weight for s in signals)


def _confidence(score: float) -> float:
    """Evidence at the threshold gives about 0.7; twice that, about 0.9."""
    return round(min(0.99, 0.45 + 0.15 * score), 2)


def _explain(signals: Sequence[Signal]) -> str:
    ordered = sorted(signals, key=lambda s: -s.weight)
    return "; ".join(s.reason for s in ordered[:3])


def _dedupe(signals: list[Signal]) -> list[Signal]:
    seen: set[str] = set()
    out = []
    for signal in signals:
        if signal.reason not in seen:
            seen.add(signal.reason)
            out.append(signal)
    return out
