"""SEL — Systematic Emotional Logic: a self-hosted Discord companion on local GGUF models."""

__version__ = "0.1.0"
