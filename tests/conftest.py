from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cotlens.store import Store

# Caches (the folding tables) go to a directory of this test run, not the user's; set before any worker starts.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="cotlens-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FORMATS = FIXTURES / "formats"
DEMO = FIXTURES / "demo"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")
