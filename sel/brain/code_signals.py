"""Code evidence for the router: pasted structure (fences, traces, code-like lines, source files)
and programming vocabulary, each a weighted :class:`~sel.brain.evidence.Signal`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sel.brain.evidence import Signal, dedupe
from sel.domain import AttachmentInfo

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
    return dedupe(signals)


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
