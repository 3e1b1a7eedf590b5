"""Edit tests are judged by the independent yardstick in ../shared/eval/vedit_eval.py."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "vedit_eval.py"


def _detector() -> str:
    """Both instruments where dlib is installed (acceptance), MediaPipe alone elsewhere."""
    has_dlib = importlib.util.find_spec("dlib") is not None
    return "both" if has_dlib else "mediapipe"


@pytest.fixture(scope="session")
def evaluate():
    """Run vedit_eval.py and return its JSON report."""
    if not EVAL.exists():
        pytest.skip(f"evaluator not found at {EVAL}")

    def run(source: Path, drivings: list[Path], output: Path, *, faces: int = 1,
            max_frames: int | None = None, extra: tuple[str, ...] = ()) -> dict:
        report = output.with_suffix(".eval.json")
        cmd = [sys.executable, str(EVAL), "--source", str(source), "--output", str(output),
               "--json", str(report), "--faces", str(faces), "--quiet",
               "--detector", _detector(), *extra]
        for d in drivings:
            cmd += ["--driving", str(d)]
        if max_frames:
            cmd += ["--max-frames", str(max_frames)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode == 2 or not report.exists():
            raise AssertionError(f"evaluator failed: {proc.stderr[-2000:]}")
        return json.loads(report.read_text())

    return run


@pytest.fixture(scope="module")
def engine():
    """The embedded engine (driving analysis and cache tests share one per module)."""
    from vedit.engines import create_engine

    eng = create_engine("embedded")
    yield eng
    eng.close()
