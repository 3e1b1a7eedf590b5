"""Half precision stays within the documented bounds of the official float32 outputs.

Bounds (vedit/models/liveportrait/README.md, "Precision") were measured on the seed-0
stand-in weights and the public golden inputs with CPU autocast, then given ~2x headroom.
The reference is the official code's float32 output stored in the golden file.
float16 runs only M here: on CPUs without AVX512-FP16, PyTorch's float16 convolutions fall
back to kernels ~100x slower than float32 (F alone takes minutes per frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vedit.models.liveportrait import LivePortraitNet

# output → (max abs error, mean abs error) allowed against official float32
BF16_BOUNDS = {
    "F": (0.1, 0.01),
    "angles": (2.5, 2.0),  # degrees
    "t": (2e-3, 1e-3),
    "exp": (2e-3, 5e-4),
    "scale": (4e-3, 3e-3),
    "kp": (1e-2, 3e-3),
    "wd.out": (0.1, 0.01),
    "wd.occlusion_map": (5e-3, 1.5e-3),
    "wd.deformation": (1e-3, 1e-4),
}
FP16_BOUNDS = {
    "angles": (0.4, 0.25),
    "t": (3e-4, 1.5e-4),
    "exp": (3e-4, 1e-4),
    "scale": (2e-3, 1.5e-3),
    "kp": (1e-3, 3e-4),
}


def _check(name: str, got: torch.Tensor, want: np.ndarray, bound: tuple[float, float]) -> None:
    assert got.dtype == torch.float32, f"{name}: outputs must be cast back to float32"
    assert tuple(got.shape) == want.shape, name
    err = (got.double() - torch.from_numpy(want).double()).abs()
    assert err.max().item() <= bound[0], f"{name}: max abs err {err.max().item():.3g} > {bound[0]}"
    assert err.mean().item() <= bound[1], f"{name}: mean err {err.mean().item():.3g} > {bound[1]}"


def _check_motion(net: LivePortraitNet, golden: dict[str, np.ndarray], bounds: dict) -> None:
    img = torch.from_numpy(golden["in.src_img"][:1])
    motion = net.motion(img)
    for key, value in motion.items():
        bound = bounds["angles" if key in ("pitch", "yaw", "roll") else key]
        _check(f"motion.{key}", value, golden[f"M.src.{key}"][:1], bound)


@pytest.fixture(scope="module")
def bf16_net(lp_weights: Path) -> LivePortraitNet:
    return LivePortraitNet.from_dir(lp_weights, dtype=torch.bfloat16)


def test_bf16_weights_are_half_and_stitching_stays_float32(bf16_net: LivePortraitNet) -> None:
    assert bf16_net.motion_extractor.detector.fc_kp.weight.dtype == torch.bfloat16
    assert bf16_net.spade_generator.up_1.conv_0.weight.dtype == torch.bfloat16
    assert bf16_net.stitching_retargeting_module.eye.mlp[0].weight.dtype == torch.float32


def test_bf16_appearance_and_motion_within_bounds(
    bf16_net: LivePortraitNet, lp_golden: dict[str, np.ndarray]
) -> None:
    feat = bf16_net.appearance_features(torch.from_numpy(lp_golden["in.src_img"][:1]))
    _check("F", feat, lp_golden["F.out"][:1], BF16_BOUNDS["F"])
    _check_motion(bf16_net, lp_golden, BF16_BOUNDS)


@pytest.mark.slow
def test_bf16_warp_decode_within_bounds(
    bf16_net: LivePortraitNet, lp_golden: dict[str, np.ndarray]
) -> None:
    t = {k: torch.from_numpy(lp_golden[k][:1]) for k in ("F.out", "tk.src.out", "stitch.out")}
    out = bf16_net.warp_decode(t["F.out"], t["tk.src.out"], t["stitch.out"])
    for key, value in out.items():
        _check(f"wd.{key}", value, lp_golden[f"wd.{key}"][:1], BF16_BOUNDS[f"wd.{key}"])


def test_fp16_motion_within_bounds(lp_weights: Path, lp_golden: dict[str, np.ndarray]) -> None:
    with pytest.warns(UserWarning, match="bfloat16"):
        net = LivePortraitNet.from_dir(lp_weights, dtype=torch.float16)
    _check_motion(net, lp_golden, FP16_BOUNDS)


def test_unsupported_dtype_is_refused(lp_weights: Path) -> None:
    with pytest.raises(ValueError, match="dtype"):
        LivePortraitNet.from_dir(lp_weights, dtype=torch.float64)
