from __future__ import annotations

from pathlib import Path

import pytest

from cotlens.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FORMATS = FIXTURES / "formats"
DEMO = FIXTURES / "demo"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")
