"""cotlens: analyze LLM reasoning transcripts (chains of thought)."""

__version__ = "0.1.0"
