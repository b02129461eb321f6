"""Measurements: pure functions from a batch of texts to columns (token counts, term counts, ...)."""
