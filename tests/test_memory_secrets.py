"""The secrets filter: secret values are never stored, ordinary words about pins, keys and codes are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sel.errors import InputError
from sel.memory.extraction import extract_facts, is_secret, mentions_secret, without_secrets
from sel.memory.import_format import read_import_file
from sel.memory.secret_filter import secret_kind

LABELLED = Path(__file__).parent / "data" / "secrets_labelled.jsonl"
MAX_FALSE_ALARMS = 0.01
MIN_CAUGHT = 0.99


def labelled(split: str | None = None) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if split is None or row["split"] == split]


def test_the_labelled_set_is_big_enough_and_keeps_a_held_out_part():
    rows = labelled()
    harmless = [row for row in rows if not row["secret"]]
    secrets = [row for row in rows if row["secret"]]
    assert len(harmless) >= 300 and len(secrets) >= 100, (len(harmless), len(secrets))
    assert len({str(row["text"]).lower() for row in rows}) == len(rows), "the set repeats a sentence"
    for label in (harmless, secrets):
        held_out = sum(row["split"] == "held-out" for row in label)
        assert 0.15 <= held_out / len(label) <= 0.3, "about a fifth of each label is held out"


def test_secrets_are_caught_and_ordinary_words_are_not_on_the_labelled_set():
    rows = labelled()
    false_alarms = [
        f"{secret_kind(str(r['text']))}: {r['text']}" for r in rows if not r["secret"] and is_secret(r["text"])
    ]
    missed = [str(r["text"]) for r in rows if r["secret"] and not is_secret(str(r["text"]))]
    harmless = sum(not row["secret"] for row in rows)
    secrets = len(rows) - harmless
    problems = []
    if len(false_alarms) > MAX_FALSE_ALARMS * harmless:
        problems.append(f"{len(false_alarms)}/{harmless} harmless sentences refused:\n  " + "\n  ".join(false_alarms))
    if len(missed) > (1 - MIN_CAUGHT) * secrets:
        problems.append(f"{len(missed)}/{secrets} secrets missed:\n  " + "\n  ".join(missed))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "text",
    [
        "I noticed a spiderman pin on your purse",
        "I collect enamel pins",
        "the key to success is patience",
        "my car keys are lost",
        "I wrote code all day",
        "dress code is casual",
        "I passed my exam",
        "I got a bus pass",
        "my card game night",
        "she made me a birthday card",
        "the Pokemon card I pulled",
        "I love arcade tokens",
        "a token of appreciation",
        "I forgot my password again lol",
        "the safe combination of flavors",
        "I bought a combination lock",
        "my postcode is SW1A 1AA",
        "my zip code is 90210",
        "my phone number is 555-867-5309",
        "call me on +44 7700 900123",
        "I was born in 1994",
        "room 404 is on the left",
        "remember my discord token",
        "my private key is in the drawer",
        "my password is weak, I know",
        "my password is 16 characters long",
        "the pin at the con was 2500 yen",
        "they sell the limited pin for 1200 points",
        "I spent 2000 tokens on a skin",
        "my discord id is 284619375026482176",
        "the commit is 3f2a9c1e7b4d8a6f0e5c2b1a9d8e7f6c5b4a3d2e",
        "listen to https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
        "order 4111 1111 1111 1112 arrived",
    ],
)
def test_words_about_pins_keys_and_codes_are_not_secrets(text):
    assert secret_kind(text) is None, f"{text!r} was refused as {secret_kind(text)}"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my pin is 4921", "a PIN"),
        ("the door code's 1234#", "a door code"),
        ("gate code: 55 21", "a door code"),
        ("my pin is four nine two one", "a PIN"),
        ("4921 is my pin", "a PIN"),
        ("I set my pin to 4921", "a PIN"),
        ("use 8830 for the front door", "a door code"),
        ("door code for the office is 4590", "a door code"),
        ("the mailbox combination is 3-17-29", "a door code"),
        ("the combo to the safe is 24-11-38", "a lock combination"),
        ("my password is hunter2", "a password"),
        ("pw: Tr0ub4dor&3", "a password"),
        ("my wifi password's correcthorsebatterystaple", "a password"),
        ('the password is "mango tango"', "a password"),
        ("my passowrd is dragon4life", "a password"),
        ("my card number is 4111 1111 1111 1112", "a card number"),
        ("remember 4532-0151-1283-0366 for me", "a card number"),
        ("my amex is 3782 822463 10005", "a card number"),
        ("cvv is 842", "a card security code"),
        ("ssn 078-05-1120", "an ID number"),
        ("national insurance number QQ 12 34 56 C", "an ID number"),
        ("pay rent to DE89 3704 0044 0532 0130 00", "a bank account number"),
        ("my account number is 12345678", "a bank account number"),
        ("my api key is sk-abc123", "an API key"),
        ("ghp_4f9aZ2kq8Lw1Xy7Tb3Nc6Vd0Re5Ht2Ju", "an API key"),
        ("AKIAIOSFODNN7EXAMPLE", "an API key"),
        ("here you go 4f9aZ2kq8Lw1Xy7Tb3Nc6Vd0Re5", "an API key"),
        ("my seed phrase is apple banana cherry", "a recovery phrase"),
        ("my backup codes are 8F3K-2L9Q and 7TR4-MX81", "a 2FA code"),
    ],
)
def test_secret_values_are_recognised_and_named(text, kind):
    assert secret_kind(text) == kind


def test_a_card_number_needs_luhn_or_a_card_word():
    assert not is_secret("order 4111 1111 1111 1112 arrived"), "fails Luhn: an order number, not a card"
    assert is_secret("order 4111 1111 1111 1111 arrived"), "passes Luhn: a card even without a card word"
    assert is_secret("card number 4111 1111 1111 1112"), "a card word makes any 12-19 digits a card number"


def test_a_value_must_be_introduced_not_just_near_the_keyword():
    assert not is_secret("the pin at the con was 2500 yen"), "a price, followed by its unit"
    assert not is_secret("my pin is from 1994"), "a number after a preposition, even after a link word"
    assert is_secret("my pin is 1994")
    assert not is_secret("pin 2024 edition"), "without a link word the value must end the phrase"
    assert is_secret("garage code 6622"), "...which it does here"
    assert not is_secret("my password is literally my dog's name"), "no value"
    assert is_secret("my netflix password is bingewatcher"), "a plain word that ends the phrase after 'is'"


def test_secrets_are_left_out_of_facts_but_pins_and_tokens_stay():
    assert [f.text for f in extract_facts("My favourite pin is the spiderman one")] == [
        "My favourite pin is the spiderman one"
    ]
    assert [f.text for f in extract_facts("I love arcade tokens")] == ["I love arcade tokens"]
    message = "I love enamel pins. My bank pin is 4921. I live in Rome."
    assert mentions_secret(message)
    assert without_secrets(message) == "I love enamel pins. I live in Rome."


def test_an_import_keeps_lines_about_pins_and_refuses_a_real_pin(tmp_path):
    source = tmp_path / "memories.jsonl"
    lines = ["Has a spiderman pin on their purse", "Collects enamel pins", "Their car keys are always lost"]
    source.write_text("".join(json.dumps({"text": line}) + "\n" for line in lines), encoding="utf-8")
    assert [item.text for item in read_import_file(source).items] == lines
    source.write_text(source.read_text() + json.dumps({"text": "Their bank pin is 4921"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_import_file(source)
    assert "line 4" in str(err.value)
