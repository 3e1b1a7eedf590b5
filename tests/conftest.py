"""Shared fixtures: the real clips in ../shared/media and small clips made with PyAV."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from support import make_clip

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MEDIA = SHARED / "media"


@pytest.fixture(scope="session")
def media() -> Path:
    """The real portrait clips; tests that need them skip when ../shared is absent."""
    if not (MEDIA / "s18.mp4").exists():
        pytest.skip(f"real clips not found at {MEDIA} (../shared/media)")
    return MEDIA


@pytest.fixture
def clip_factory(tmp_path):
    counter = iter(range(1000))

    def factory(suffix: str = ".mp4", **kwargs) -> Path:
        return make_clip(tmp_path / f"clip{next(counter)}{suffix}", **kwargs)

    return factory


@pytest.fixture(autouse=True)
def _fail_on_error_logs(caplog):
    """A test that logs an ERROR from vedit fails, even if its asserts pass."""
    yield
    errors = [r for r in caplog.get_records("call")
              if r.levelno >= logging.ERROR and r.name.startswith("vedit")]
    assert not errors, f"vedit logged errors: {[r.getMessage() for r in errors]}"
