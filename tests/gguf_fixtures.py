"""Tiny random-weight llama GGUF models, written at test time with the `gguf` package.

They load in milliseconds and run through the real llama.cpp. The weights are random,
but shaped so sampling picks word pieces (never raw bytes or end-of-text): the
embeddings carry a large constant component that the output layer maps to a bonus for
word tokens. Replies are therefore printable gibberish of exactly max_tokens tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

N_EMBD = 64
N_FF = 128
N_HEAD = 4
N_LAYER = 2
N_CTX = 4096

WORDS = [
    "hello",
    "hi",
    "hey",
    "yes",
    "no",
    "maybe",
    "sure",
    "okay",
    "cool",
    "nice",
    "good",
    "great",
    "fine",
    "thanks",
    "sorry",
    "code",
    "bug",
    "fix",
    "test",
    "run",
    "python",
    "rust",
    "loop",
    "list",
    "data",
    "file",
    "error",
    "value",
    "type",
    "cat",
    "dog",
    "turtle",
    "blue",
    "green",
    "red",
    "sun",
    "moon",
    "tea",
    "coffee",
    "music",
    "game",
    "book",
    "night",
    "day",
    "i",
    "you",
    "we",
    "they",
    "it",
    "is",
    "are",
    "was",
    "be",
    "do",
    "have",
    "can",
    "will",
    "not",
    "and",
    "or",
    "but",
    "so",
    "the",
    "a",
    "an",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "with",
]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
PUNCT = [".", ",", "!", "?", "'", "-"]

# llama.cpp token types
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

SIMPLE_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [UNKNOWN, CONTROL, CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [BYTE] * 256
    pieces = list(dict.fromkeys([f"▁{w}" for w in WORDS] + list(LETTERS) + [f"▁{c}" for c in LETTERS] + PUNCT + ["▁"]))
    tokens += pieces
    types += [NORMAL] * len(pieces)
    # SPM merges by score: longer pieces first so words stay whole.
    scores = [0.0 if t in (UNKNOWN, CONTROL, BYTE) else float(len(tok)) for tok, t in zip(tokens, types, strict=True)]
    return tokens, scores, types


def llama_writer(
    path: Path, name: str, tokens: list[str], scores: list[float], types: list[int], *, eos: int = 2
) -> Any:
    """A GGUFWriter with the tiny llama's hyper-parameters and an SPM vocabulary; tensors are the caller's."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(eos)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    return writer


def write_tiny_llama(path: Path, seed: int, *, chat_template: str | None = None, name: str = "tiny") -> Path:
    """Write a ~0.5 MB llama GGUF with random weights; distinct seeds give distinct models."""

    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    word_like = np.array([t == NORMAL for t in types])

    writer = llama_writer(path, name, tokens, scores, types)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def normal(*shape: int, std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    embd = normal(n_vocab, N_EMBD, std=1.0)
    embd[:, 0] = 10.0
    out = normal(n_vocab, N_EMBD, std=1.0)
    out[:, 0] = np.where(word_like, 3.0, -3.0)
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", out)
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for proj in ("q", "k", "v", "output"):
            writer.add_tensor(f"blk.{i}.attn_{proj}.weight", normal(N_EMBD, N_EMBD, std=0.02))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", normal(N_FF, N_EMBD, std=0.02))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", normal(N_FF, N_EMBD, std=0.02))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", normal(N_EMBD, N_FF, std=0.02))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
