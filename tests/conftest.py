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


@pytest.fixture(scope="session")
def lp_weights(tmp_path_factory) -> Path:
    """LivePortrait stand-in weights (seed 0) in the official layout, from the reference kit."""
    import subprocess
    import sys

    kit = SHARED / "liveportrait" / "make_reference_weights.py"
    if not kit.exists():
        pytest.skip(f"LivePortrait reference kit not found at {kit.parent}")
    out = tmp_path_factory.mktemp("lp_weights")
    subprocess.run([sys.executable, str(kit), str(out), "--seed", "0"], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="session")
def short_driving(media, tmp_path_factory) -> Path:
    """The first 6 frames of d0.mp4: enough driving motion for CPU runs of the neural engine."""
    from fractions import Fraction

    from vedit.io import VideoWriter, open_video

    out = tmp_path_factory.mktemp("drv") / "d0_short.mp4"
    with open_video(media / "d0.mp4") as r, VideoWriter(
            out, width=r.info.width, height=r.info.height, fps=Fraction(r.info.fps),
            codec="ffv1") as w:
        for f in r:
            if f.index >= 6:
                break
            w.write_rgb(f.rgb())
    return out
