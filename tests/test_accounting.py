"""Property: every input line is accounted for, and a second ingest adds nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotlens.ingest import ingest
from cotlens.store import Store
from tests.helpers import chat

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
good = st.builds(lambda i, r, a: orjson.dumps(chat(i, reasoning=r, answer=a)), st.integers(0, 30), text, text)
BAD = [
    b"{",
    b'{"model": 1, "choices": 3}',
    b"[1, 2",
    b'{"x": 1}',
    b"null",
    b"\x00\x00",
    b'{"model": "m", "reasoning_content": 5}',
    b'{"messages": "no"}',
]
bad = st.sampled_from(BAD)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(good, bad), min_size=2, max_size=25))
def test_every_line_is_accounted_for(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mixed.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        store = Store(Path(tmp) / "store")
        first = ingest([str(path)], store)
        totals = first.totals
        if totals["records"] == 0:  # refused as a whole: only when no line of it was readable
            assert first.failed_inputs and all(line in BAD for line in lines)
            return
        assert totals["records"] == len(lines)
        assert totals["added"] + totals["duplicate"] + totals["rejected"] == totals["records"]
        if totals["rejected"] == len(lines):
            assert first.failed_inputs  # not one record readable: the input as a whole is reported
            return
        assert store.read().num_rows == totals["added"]
        second = ingest([str(path)], store)
        assert second.totals["added"] == 0
        assert second.totals["duplicate"] == totals["added"] + totals["duplicate"]
