"""Intent routing on a labeled set of realistic Discord messages, plus the rules one by one."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from sel.brain.router import INTENTS, SCAN_CHARS, route
from sel.domain import AttachmentInfo

DATA = Path(__file__).parent / "data" / "routing_messages.jsonl"


def load_rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def classify(row: dict) -> str:
    attachments = tuple(AttachmentInfo(**a) for a in row["attachments"])
    return route(row["text"], attachments).intent


def confusion_table(counts: Counter, labels: tuple[str, ...]) -> str:
    width = max(len(label) for label in labels) + 2
    head = "true \\ routed".ljust(14) + "".join(label.rjust(width) for label in labels) + "   recall"
    lines = [head]
    for truth in labels:
        row = [counts[(truth, got)] for got in labels]
        total = sum(row)
        recall = counts[(truth, truth)] / total if total else 0.0
        lines.append(truth.ljust(14) + "".join(str(n).rjust(width) for n in row) + f"   {recall:6.1%}")
    return "\n".join(lines)


def test_labeled_set_is_big_and_covers_every_intent():
    rows = load_rows()
    labels = Counter(row["label"] for row in rows)
    assert len(rows) >= 200, f"only {len(rows)} labeled messages"
    assert set(labels) == set(INTENTS), f"labels seen: {labels}"
    assert min(labels.values()) >= 30, f"some intent has too few examples: {labels}"


def test_routing_accuracy_on_labeled_discord_messages(capsys):
    rows = load_rows()
    counts: Counter = Counter()
    misses = []
    per_split: dict[str, list[bool]] = {}
    for row in rows:
        got = classify(row)
        counts[(row["label"], got)] += 1
        per_split.setdefault(row.get("split", "dev"), []).append(got == row["label"])
        if got != row["label"]:
            misses.append(f"  {row['label']} -> {got}: {row['text'][:70]!r}")
    correct = sum(counts[(label, label)] for label in INTENTS)
    accuracy = correct / len(rows)
    report = [
        f"routing: {correct}/{len(rows)} correct ({accuracy:.1%})",
        confusion_table(counts, INTENTS),
        "by split: " + ", ".join(f"{name} {sum(ok)}/{len(ok)}" for name, ok in per_split.items()),
        *(["misrouted:", *misses] if misses else []),
    ]
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert accuracy >= 0.90, "\n".join(report)
    for label in INTENTS:
        total = sum(counts[(label, got)] for got in INTENTS)
        assert counts[(label, label)] / total >= 0.85, f"{label} recall too low\n" + "\n".join(report)


@pytest.mark.parametrize(
    ("text", "intent", "rest"),
    [
        ("code: what's a monad", "code", "what's a monad"),
        ("CHAT: how do i fix a merge conflict in my family", "general", "how do i fix a merge conflict in my family"),
        ("chat:```py\nprint(1)\n```", "general", "```py\nprint(1)\n```"),
    ],
)
def test_prefix_forces_the_model_and_is_stripped(text, intent, rest):
    routed = route(text)
    assert (routed.intent, routed.forced, routed.text) == (intent, True, rest)
    assert routed.confidence == 1.0


def test_prefix_only_counts_at_the_start():
    routed = route("my zip code: 12345")
    assert not routed.forced
    assert routed.intent == "general"


@pytest.mark.parametrize(
    "text",
    [
        "my ball python shed its skin today",
        "we need to update the server's code of conduct",
        "the bug in my relationship is that we never talk",
        "i need a java, no coffee yet",
        "there's rust all over my bike chain",
        "i'm debugging my life rn",
        "this class is so boring, the teacher just reads slides",
    ],
)
def test_false_friends_stay_general(text):
    routed = route(text)
    assert routed.intent == "general", f"{text!r} went to {routed.intent}: {routed.reason}"


def test_pasted_code_without_fences_goes_to_the_coder():
    routed = route("x = [1,2,3]\ny = x\ny.append(4)\nprint(x)")
    assert routed.intent == "code"
    assert "code-like lines" in routed.reason


def test_stack_trace_is_code_even_beside_a_screenshot():
    trace = 'Traceback (most recent call last):\n  File "bot.py", line 3, in <module>\nKeyError: 1'
    routed = route(trace, (AttachmentInfo("shot.png", "image/png", 1000),))
    assert routed.intent == "code"


def test_screenshot_with_a_question_is_vision():
    routed = route("what does this error screenshot mean", (AttachmentInfo("Screenshot 1.png", "", 5000),))
    assert routed.intent == "vision"
    assert routed.reason == "1 image attachment(s)"


def test_source_file_attachment_is_code():
    routed = route("can u check this", (AttachmentInfo("main.rs", "application/octet-stream", 900),))
    assert routed.intent == "code"
    assert "attached main.rs" in routed.reason


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("remember my sister's name is Ana", "memory"),
        ("i can't remember where i put my keys", "general"),
        ("remember when we went to the beach lol", "general"),
        ("forget it, doesn't matter", "general"),
        ("forget everything you know about me", "memory"),
        ("what do u know abt me", "memory"),
    ],
)
def test_memory_requests_are_told_apart_from_chat_about_memory(text, intent):
    assert route(text).intent == intent


def test_route_explains_itself_and_is_deterministic():
    first = route("```js\nconsole.log(1)\n```")
    second = route("```js\nconsole.log(1)\n```")
    assert first == second
    assert "code fence" in first.reason
    assert 0.5 < first.confidence <= 0.99


def test_a_long_message_is_routed_on_its_start_and_its_attachments():
    filler = "notes from the meeting, nothing special here.\n" * 2500
    assert len(filler) > SCAN_CHARS
    text = "can you summarise this\n" + filler + "```py\nprint('late code')\n```"
    routed = route(text)
    assert routed.intent == "general", f"a fence after the first {SCAN_CHARS} characters was scanned: {routed}"
    assert routed.text == text, "the model still gets the whole message"
    attached = route(text, (AttachmentInfo("notes.py", "text/x-python", len(filler)),))
    assert attached.intent == "code", "an attachment counts however long the text is"


def test_routing_a_megabyte_of_pasted_code_is_quick():
    # A text file attached in Discord is appended to the message, and routing runs on the event loop.
    text = "what's wrong here? `ls -la | grep x`\n" + "if (a == b) { print(len(x)); } // see main.py\n" * 22000
    started = time.perf_counter()
    routed = route(text)
    elapsed = time.perf_counter() - started
    assert routed.intent == "code"
    assert elapsed < 1.0, f"routing {len(text)} characters took {elapsed:.2f}s"
