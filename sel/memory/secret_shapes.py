"""Values whose shape alone marks a secret, whatever words surround them.

* A card number: 13-19 digits starting with 2-6 (the card networks), unbroken or in groups of four
  (or Amex's 4-6-5), that passes the Luhn check. Unbroken runs of 17+ digits are left to a card word
  (see :mod:`sel.memory.secret_filter`): in Discord they are user and message IDs far more often than cards.
* A US social security number written 123-45-6789 (never-issued area and group numbers excluded).
* An IBAN whose mod-97 check passes.
* A key with a known prefix: sk-, ghp_, github_pat_, xoxb-, AKIA, AIza, glpat-, hf_, npm_, a JWT, a
  Discord token, a PEM private key block.
* A long random-looking run: 20+ letters and digits switching between the two at least five times,
  and not only hex digits (hex runs are commit hashes, UUIDs and checksums, not keys).

The caller blanks links and Discord mentions first: IDs in them are not secrets.
"""

from __future__ import annotations

import itertools
import re

KEY_PREFIX = re.compile(
    r"(?:sk-(?:proj-|ant-)?[\w-]{16,}|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_\w{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|xapp-[\w-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[\w-]{30,}"
    r"|glpat-[\w-]{20,}|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{30,}|eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"
    r"|[MNO][\w-]{23,27}\.[\w-]{6}\.[\w-]{27,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
_CARD = re.compile(r"(?<![\w@#/:.+$\u00a3\u20ac-])\d(?:[ -]?\d){12,18}(?![\w/@:-]|[.,]\d)")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_IBAN = re.compile(r"\b[a-z]{2}\d{2}(?:(?: [a-z0-9]{4})+(?: [a-z0-9]{1,4})?|[a-z0-9]{11,30})\b", re.IGNORECASE)
_RUN = re.compile(r"[A-Za-z0-9_-]{20,}")


def shape_kind(text: str) -> str | None:
    """The kind of secret whose shape alone appears in the text ("a card number", "an API key"), or None."""
    if any(_is_card(m.group()) for m in _CARD.finditer(text)):
        return "a card number"
    if _SSN.search(text):
        return "an ID number"
    if any(_is_iban(m.group()) for m in _IBAN.finditer(text)):
        return "a bank account number"
    if any(KEY_PREFIX.match(text, m.start()) for m in re.finditer(r"(?<![\w-])\S", text)):
        return "an API key"
    if any(_is_random(m.group()) for m in _RUN.finditer(text)):
        return "an API key"
    return None


def _is_card(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    groups = [len(g) for g in re.split(r"[ -]", value)]
    if len(groups) == 1:
        shaped = len(digits) <= 16  # longer unbroken runs are Discord IDs far more often than cards
    else:
        shaped = len(set(re.findall(r"[ -]", value))) == 1 and (
            groups in ([4, 6, 5], [4, 6, 4]) or (len(groups) >= 3 and set(groups[:-1]) == {4} and groups[-1] <= 4)
        )
    return shaped and digits[0] in "23456" and _luhn(digits)


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _is_iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rotated)) % 97 == 1


def _is_random(run: str) -> bool:
    if re.fullmatch(r"[0-9a-fA-F_-]+", run):
        return False  # hex: commit hashes, UUIDs, checksums
    classes = ["d" if c.isdigit() else "a" for c in run if c.isalnum()]
    switches = sum(1 for a, b in itertools.pairwise(classes) if a != b)
    return switches >= 5 and classes.count("d") >= 3 and classes.count("a") >= 3
