""" "Did you mean": the few known names nearest to a mistyped one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# At most this many suggestions: a short list of the nearest, never every name.
MAX_SUGGESTIONS = 3


def nearest(name: str, known: Iterable[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """The known names closest to `name` (case ignored), best first; none when nothing is close."""
    names = list(dict.fromkeys(known))
    by_lower = {k.lower(): k for k in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    # A name that starts the same way is a likely intent even when it is short ("orion" for "orion-3").
    prefixed = [k for k in names if name and k.lower().startswith(name.lower())]
    return list(dict.fromkeys([*(by_lower[c] for c in close), *prefixed]))[:n]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """ "; did you mean 'a' or 'b'?" for the nearest names, or "" when none is near."""
    found = nearest(name, known)
    if not found:
        return ""
    quoted = [repr(f) for f in found]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"; did you mean {listed}?"
