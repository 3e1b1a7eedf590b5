"""Fixtures for the LivePortrait network tests (the stand-in weights, `lp_weights`, are
made once per session by tests/conftest.py).

The weights are written once per session by the reference kit's own generator
(`shared/liveportrait/make_reference_weights.py DIR --seed 0`, ~10 s), so the tests exercise
the same files, keys and shapes as the official release. Tests skip when ../shared is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
KIT = SHARED / "liveportrait"


@pytest.fixture(scope="session")
def lp_kit() -> Path:
    """The LivePortrait reference kit folder (make_reference_weights.py, goldens)."""
    if not (KIT / "make_reference_weights.py").exists():
        pytest.skip(f"LivePortrait reference kit not found at {KIT} (../shared/liveportrait)")
    return KIT


@pytest.fixture(scope="session")
def lp_golden(lp_kit: Path) -> dict[str, np.ndarray]:
    """Inputs and official float32 outputs for the seed-0 weights."""
    with np.load(lp_kit / "golden_public.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files if not k.startswith("meta.")}


@pytest.fixture(scope="session")
def lp_net(lp_weights: Path):
    """float32 LivePortraitNet on the stand-in weights (shared: loading takes ~2 s)."""
    import torch

    from vedit.models.liveportrait import LivePortraitNet

    return LivePortraitNet.from_dir(lp_weights, device="cpu", dtype=torch.float32)
