"""Weight compatibility: the reference kit's own parity check on our implementation.

`check_parity.py` loads `vedit.models.liveportrait.LivePortraitNet` from the stand-in weights
and compares all 24 outputs with the official code's float32 outputs (public golden).
It takes 35 s to 2 min on a 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_check_parity_passes_on_public_golden(lp_kit: Path, lp_weights: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        str(lp_kit / "check_parity.py"),
        "--weights",
        str(lp_weights),
        "--golden",
        str(lp_kit / "golden_public.npz"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert "RESULT: PASS (24/24" in proc.stdout, report
    assert "weights match golden fingerprint" in proc.stdout, report
