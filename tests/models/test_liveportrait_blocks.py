"""Tiny-config unit tests of the LivePortrait networks and their maths (no weights needed)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vedit.models.liveportrait.appearance import AppearanceFeatureExtractor
from vedit.models.liveportrait.motion_extractor import (
    GRN,
    LayerNorm2d,
    MotionExtractor,
    decode_motion,
    headpose_to_degrees,
    rotation_matrix,
    transform_keypoints,
)
from vedit.models.liveportrait.spade_decoder import SPADEDecoder, SpectralConv2d
from vedit.models.liveportrait.stitching import StitchingRetargeting
from vedit.models.liveportrait.warping import WarpingNetwork, make_coordinate_grid


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


@torch.no_grad()
def test_tiny_appearance_extractor_shapes() -> None:
    net = AppearanceFeatureExtractor(base_chs=8, max_chs=32, feature_chs=4, depth=8, num_res=1)
    out = net.eval()(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 4, 8, 8, 8) and _finite(out)


def test_appearance_rejects_inconsistent_lift() -> None:
    with pytest.raises(ValueError, match="must equal"):
        AppearanceFeatureExtractor(max_chs=512, feature_chs=32, depth=8)


@torch.no_grad()
def test_tiny_motion_extractor_heads_and_decoding() -> None:
    net = MotionExtractor(num_kp=5, depths=(1, 1, 1, 1), dims=(8, 16, 16, 32)).eval()
    raw = net(torch.rand(3, 3, 64, 64))
    assert raw["kp"].shape == (3, 15) and raw["pitch"].shape == (3, 66)
    m = decode_motion(raw)
    assert m["kp"].shape == (3, 5, 3) and m["exp"].shape == (3, 5, 3)
    assert m["yaw"].shape == (3,) and m["scale"].shape == (3, 1) and m["t"].shape == (3, 3)
    assert all((m[k].abs() <= 97.5).all() for k in ("pitch", "yaw", "roll"))
    assert _finite(*m.values())


def test_official_parameter_names() -> None:
    keys = set(MotionExtractor().state_dict())
    assert (
        "detector.stages.2.8.grn.gamma" in keys and "detector.downsample_layers.3.1.weight" in keys
    )
    keys = set(AppearanceFeatureExtractor().state_dict())
    assert "resblocks_3d.3dr5.norm2.running_var" in keys
    keys = set(SPADEDecoder().state_dict())
    assert {"up_1.conv_s.weight_v", "G_middle_5.norm_1.mlp_shared.0.weight"} <= keys
    assert not any(k.endswith("conv_0.weight") for k in keys)  # folded kernel is not saved


def test_headpose_bins_decode_to_expected_degrees() -> None:
    logits = torch.full((2, 66), -1e4)
    logits[0, 0] = 0  # one-hot bin 0 → -97.5°
    logits[1, 33] = logits[1, 32] = 0  # bins 32 and 33 equally → 3·32.5 - 97.5 = 0°
    torch.testing.assert_close(headpose_to_degrees(logits), torch.tensor([-97.5, 0.0]))
    degrees = torch.tensor([[12.0], [-3.0]])
    assert headpose_to_degrees(degrees) is degrees  # already degrees: unchanged


def test_rotation_is_transposed_zyx() -> None:
    zero = torch.zeros(1)
    r = rotation_matrix(zero, zero, torch.tensor([90.0]))  # roll only
    # Rz(90) maps x to y; transposed, a row vector x multiplied on the right goes to -y
    x = torch.tensor([[1.0, 0.0, 0.0]])
    torch.testing.assert_close(x @ r[0], torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)
    angles = torch.tensor([10.0, -40.0, 70.0])
    r = rotation_matrix(angles, angles.flip(0), angles / 2)
    eye = torch.eye(3).expand(3, 3, 3)
    torch.testing.assert_close(r @ r.transpose(1, 2), eye, atol=1e-6, rtol=0)
    yaw = math.radians(-40.0)
    ry = rotation_matrix(torch.zeros(1), torch.tensor([-40.0]), torch.zeros(1))[0]
    assert ry[0, 2].item() == pytest.approx(-math.sin(yaw), abs=1e-6)  # transposed


def test_transform_keypoints_drops_tz_and_scales_expression() -> None:
    kp = torch.randn(2, 4, 3)
    motion = {
        "kp": kp,
        "exp": torch.ones(2, 4, 3),
        "scale": torch.tensor([[2.0], [1.0]]),
        "t": torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]]),
        "pitch": torch.zeros(2),
        "yaw": torch.zeros(2),
        "roll": torch.zeros(2),
    }
    out = transform_keypoints(motion)
    expected = (kp + 1) * torch.tensor([2.0, 1.0]).view(2, 1, 1)
    expected[0, :, :2] += torch.tensor([1.0, 2.0])
    torch.testing.assert_close(out, expected)


def test_norms_match_reference_formulas() -> None:
    x = torch.randn(2, 6, 5, 7)
    ln = LayerNorm2d(6)
    ref = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref, atol=1e-5, rtol=1e-5)
    grn = GRN(6)
    assert torch.equal(grn(x.permute(0, 2, 3, 1)), x.permute(0, 2, 3, 1))  # gamma=beta=0


def test_coordinate_grid_order_and_range() -> None:
    grid = make_coordinate_grid(3, 4, 5)
    assert grid.shape == (3, 4, 5, 3)
    assert grid[0, 0, 0].tolist() == [-1.0, -1.0, -1.0]
    assert grid[2, 3, 4].tolist() == [1.0, 1.0, 1.0]
    assert grid[0, 0, 4, 0].item() == 1.0 and grid[0, 3, 0, 1].item() == 1.0  # x = width


@torch.no_grad()
def test_tiny_warping_network_identity_motion() -> None:
    dense = dict(compress=2, base_chs=4, num_blocks=2, max_chs=16)
    net = WarpingNetwork(num_kp=3, feature_chs=4, depth=4, out_chs=8, **dense).eval()
    feat = torch.randn(2, 4, 4, 8, 8)
    kp = torch.rand(2, 3, 3) * 2 - 1
    out = net(feat, kp, kp)  # no motion: every sparse motion is the identity grid
    assert out["out"].shape == (2, 8, 8, 8)
    assert out["occlusion_map"].shape == (2, 1, 8, 8)
    assert out["deformation"].shape == (2, 4, 8, 8, 3)
    ident = make_coordinate_grid(4, 8, 8).expand(2, -1, -1, -1, -1)
    torch.testing.assert_close(out["deformation"], ident, atol=1e-6, rtol=0)
    assert _finite(*out.values())


@torch.no_grad()
def test_tiny_spade_decoder_shapes() -> None:
    net = SPADEDecoder(in_chs=8, out_chs=4, num_middle=1).eval()
    out = net(torch.randn(2, 8, 6, 6))
    assert out.shape == (2, 3, 48, 48) and _finite(out)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid


def test_spectral_conv_matches_torch_spectral_norm_in_eval() -> None:
    conv = nn.utils.spectral_norm(nn.Conv2d(6, 5, 3, padding=1))
    x = torch.randn(2, 6, 9, 9)
    conv.train()
    for _ in range(3):  # a few power iterations so u, v are a real running estimate
        conv(x)
    conv.eval()
    ours = SpectralConv2d(6, 5, 3)
    ours.load_state_dict(conv.state_dict(), strict=True)  # refolds on load
    with torch.no_grad():
        torch.testing.assert_close(ours(x), conv(x), atol=1e-6, rtol=1e-6)
        w = conv.weight_orig
        sigma = torch.dot(conv.weight_u, w.reshape(5, -1) @ conv.weight_v)
        assert torch.equal(ours.weight, w / sigma)
        # recomputing sigma with an SVD is close but not what the official code does
        assert not torch.equal(ours.weight, w / torch.linalg.matrix_norm(w.reshape(5, -1), 2))


@torch.no_grad()
def test_stitching_does_not_modify_inputs() -> None:
    net = StitchingRetargeting(num_kp=4).eval()
    xs, xd = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    xs0, xd0 = xs.clone(), xd.clone()
    new = net.stitch(xs, xd)
    assert new.shape == (2, 4, 3) and torch.equal(xs, xs0) and torch.equal(xd, xd0)
    assert net.retarget_eye(xs, torch.rand(2, 3)).shape == (2, 4, 3)
    assert net.retarget_lip(xs, torch.rand(2, 2)).shape == (2, 4, 3)
    with pytest.raises(ValueError, match="batch"):
        net.retarget_lip(xs, torch.rand(3, 2))
    delta = net.stitching(torch.cat([xs.flatten(1), xd.flatten(1)], 1))
    torch.testing.assert_close(new[..., 2], xd[..., 2] + delta[:, :12].view(2, 4, 3)[..., 2])
    torch.testing.assert_close(
        new[..., 0] - xd[..., 0] - delta[:, :12].view(2, 4, 3)[..., 0], delta[:, 12:13].expand(2, 4)
    )
