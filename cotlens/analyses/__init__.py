"""The analyses: each reads a store (or a selection of it) and returns a `Result` of numbers, never display text."""
