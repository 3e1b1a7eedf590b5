"""Motion extractor M (ConvNeXt-V2 tiny) and the keypoint maths on its outputs.

Weight-compatible with `base_models/motion_extractor.pth` (official `MotionExtractor`, whose
backbone sits under the attribute `detector`).

    (B, 3, 256, 256) float [0, 1] RGB → raw heads: kp, exp (B, 63); t (B, 3); scale (B, 1);
                                        pitch, yaw, roll (B, 66) bin logits

`decode_motion` turns the raw heads into degrees and (B, 21, 3) keypoints; `rotation_matrix`
and `transform_keypoints` implement x = s·(x_c·R + δ) + t in the official conventions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MotionExtractor",
    "decode_motion",
    "headpose_to_degrees",
    "rotation_matrix",
    "transform_keypoints",
]

HEAD_KEYS = ("kp", "exp", "t", "scale", "pitch", "yaw", "roll")


class LayerNorm2d(nn.Module):
    """LayerNorm over C of NCHW (biased variance), computed in the official order of ops."""

    def __init__(self, chs: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(chs))
        self.bias = nn.Parameter(torch.zeros(chs))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GRN(nn.Module):
    """Global response normalisation on NHWC: x·(‖x‖_HW / mean_C ‖x‖_HW)·gamma + β + x."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, chs))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, chs))

    def forward(self, x: Tensor) -> Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class Block(nn.Module):
    """ConvNeXt-V2 block: 7x7 depthwise → LN → Linear x4 → GELU → GRN → Linear, + input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # NCHW → NHWC (free for channels_last input)
        y = F.gelu(self.pwconv1(self.norm(y)))
        y = self.pwconv2(self.grn(y)).permute(0, 3, 1, 2)
        return x + y


class ConvNeXtV2(nn.Module):
    """ConvNeXt-V2 backbone with LivePortrait's seven linear heads (no classifier).

    Args:
        in_chs: image channels.
        depths: blocks per stage.
        dims: widths per stage.
        num_kp: implicit keypoints K (kp/exp heads have 3·K outputs).
        num_bins: head-pose bins per angle.
    """

    def __init__(
        self,
        in_chs: int = 3,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 768),
        num_kp: int = 21,
        num_bins: int = 66,
    ) -> None:
        super().__init__()
        stem = nn.Sequential(nn.Conv2d(in_chs, dims[0], 4, stride=4), LayerNorm2d(dims[0]))
        self.downsample_layers = nn.ModuleList([stem])
        for i in range(len(dims) - 1):
            self.downsample_layers.append(
                nn.Sequential(LayerNorm2d(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2))
            )
        self.stages = nn.ModuleList(
            nn.Sequential(*(Block(dim) for _ in range(depth)))
            for dim, depth in zip(dims, depths, strict=True)
        )
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        width = dims[-1]
        self.fc_kp = nn.Linear(width, 3 * num_kp)
        self.fc_scale = nn.Linear(width, 1)
        self.fc_pitch = nn.Linear(width, num_bins)
        self.fc_yaw = nn.Linear(width, num_bins)
        self.fc_roll = nn.Linear(width, num_bins)
        self.fc_t = nn.Linear(width, 3)
        self.fc_exp = nn.Linear(width, 3 * num_kp)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        for down, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(down(x))
        x = self.norm(x.mean((-2, -1)))  # global average pool → (B, C)
        return {key: getattr(self, f"fc_{key}")(x) for key in HEAD_KEYS}


class MotionExtractor(nn.Module):
    """M: image → raw head outputs (see module docstring). Backbone under `detector`."""

    def __init__(
        self,
        num_kp: int = 21,
        depths: Sequence[int] = (3, 3, 9, 3),
        dims: Sequence[int] = (96, 192, 384, 768),
        num_bins: int = 66,
    ) -> None:
        super().__init__()
        self.detector = ConvNeXtV2(depths=depths, dims=dims, num_kp=num_kp, num_bins=num_bins)

    def forward(self, img: Tensor) -> dict[str, Tensor]:
        """(B, 3, H, W) [0, 1] RGB → dict of raw (B, n) head outputs."""
        return self.detector(img)


def headpose_to_degrees(pred: Tensor) -> Tensor:
    """Head-pose bin logits (B, 66) → degrees (B,): softmax expectation, 3° bins, offset 97.5.

    Anything that is not (B, num_bins) is taken as already in degrees and returned unchanged.
    """
    if pred.ndim != 2 or pred.shape[1] <= 1:
        return pred
    prob = F.softmax(pred, dim=1)
    idx = torch.arange(pred.shape[1], dtype=prob.dtype, device=prob.device)
    return torch.sum(prob * idx, dim=1) * 3 - 97.5


def decode_motion(raw: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Raw heads → pitch/yaw/roll (B,) degrees, t (B, 3), exp/kp (B, K, 3), scale (B, 1)."""
    b = raw["kp"].shape[0]
    out = {key: raw[key].float() for key in ("t", "scale")}
    for key in ("pitch", "yaw", "roll"):
        out[key] = headpose_to_degrees(raw[key].float())
    for key in ("exp", "kp"):
        out[key] = raw[key].float().reshape(b, -1, 3)
    return out


def _angle(x: Tensor) -> Tensor:
    """Degrees (B,), (B, 1) or bin logits (B, 66) → radians (B, 1)."""
    x = headpose_to_degrees(x)
    return (x / 180 * math.pi).reshape(-1, 1)


def rotation_matrix(pitch: Tensor, yaw: Tensor, roll: Tensor) -> Tensor:
    """Euler angles in degrees (B,) → (B, 3, 3) = (Rz·Ry·Rx)ᵀ, the official transposed form.

    Keypoints are row vectors multiplied on the right (x @ R).
    """
    x, y, z = _angle(pitch), _angle(yaw), _angle(roll)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    b = x.shape[0]
    rot_x = torch.cat(
        [one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], 1
    ).reshape(b, 3, 3)
    rot_y = torch.cat(
        [y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], 1
    ).reshape(b, 3, 3)
    rot_z = torch.cat(
        [z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], 1
    ).reshape(b, 3, 3)
    return (rot_z @ rot_y @ rot_x).permute(0, 2, 1)


def transform_keypoints(motion: Mapping[str, Tensor]) -> Tensor:
    """x = s·(x_c·R + δ) + t with t_z dropped → (B, K, 3).

    Args:
        motion: kp (B, K, 3) or (B, 3K); exp likewise; scale (B, 1); t (B, 3);
            pitch/yaw/roll in degrees (B,) / (B, 1), or (B, 66) bin logits.
    """
    kp = motion["kp"]
    b = kp.shape[0]
    rot = rotation_matrix(motion["pitch"], motion["yaw"], motion["roll"])
    out = kp.reshape(b, -1, 3) @ rot + motion["exp"].reshape(b, -1, 3)
    out = out * motion["scale"].reshape(b, 1, 1)
    t = motion["t"].reshape(b, 1, 3)
    return torch.cat([out[..., :2] + t[..., :2], out[..., 2:]], dim=-1)
