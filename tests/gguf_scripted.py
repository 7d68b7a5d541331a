"""A tiny GGUF model that always says the same thing: a known line through the real llama.cpp.

The random tiny models (tests/gguf_fixtures.py) say gibberish, so what a caller does with a
model's answer (parse it, filter it, store it) cannot be checked on them. This model is a
bigram chain instead: its layers are all zero, so the hidden state is the current token's
embedding, and the output layer maps each embedding to the next token of the script. Every
ordinary token leads to the script's first piece, each piece to the next, the last to
end-of-text. Sampled greedily (temperature 0) it answers any prompt with exactly the script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.gguf_fixtures import N_FF, N_LAYER, NORMAL, llama_writer, vocabulary

N_EMBD = 64
EOS = 2
LOGIT = 50.0  # against 0 for every other token: greedy sampling cannot miss


def write_scripted_llama(path: Path, script: list[str], *, name: str = "scripted") -> Path:
    """Write a GGUF that answers every prompt with the pieces of ``script``, then ends.

    Each piece becomes one token (spaces written as SentencePiece's "▁"), so a piece may hold
    several words or a newline. Pieces are never produced by tokenizing a prompt: the tokenizer
    only merges into a token through shorter tokens, and a piece's parts are not in the vocabulary.
    """

    if not 0 < len(script) < N_EMBD:
        raise ValueError(f"a script has 1 to {N_EMBD - 1} pieces")
    tokens, scores, types = vocabulary()
    first_piece = len(tokens)
    tokens += [piece.replace(" ", "▁") for piece in script]
    scores += [0.0] * len(script)
    types += [NORMAL] * len(script)
    if len(set(tokens)) != len(tokens):
        raise ValueError("a script piece is already a token of the vocabulary")

    # Dimension 0 marks an ordinary token; dimension i + 1 marks script piece i.
    embd = np.zeros((len(tokens), N_EMBD), dtype=np.float32)
    embd[:first_piece, 0] = 1.0
    out = np.zeros((len(tokens), N_EMBD), dtype=np.float32)
    for i in range(len(script)):
        embd[first_piece + i, i + 1] = 1.0
        out[first_piece + i, i] = LOGIT  # after the previous piece (or any ordinary token) comes piece i
    out[EOS, len(script)] = LOGIT  # after the last piece, end-of-text

    writer = llama_writer(path, name, tokens, scores, types, eos=EOS)

    ones = np.ones(N_EMBD, dtype=np.float32)
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", out)
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        for proj in ("q", "k", "v", "output"):
            writer.add_tensor(f"blk.{i}.attn_{proj}.weight", np.zeros((N_EMBD, N_EMBD), dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", np.zeros((N_FF, N_EMBD), dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", np.zeros((N_FF, N_EMBD), dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", np.zeros((N_EMBD, N_FF), dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
