"""Stitching S and retargeting R_eyes / R_lip MLPs on implicit keypoints.

Weight-compatible with `retargeting_models/stitching_retargeting_module.pth`, whose three
sub-dicts map onto our attributes as: retarget_shoulder → `stitching`, retarget_mouth →
`lip`, retarget_eye → `eye` (the official wrapper's names; see `checkpoint.to_native`).

Keypoints are (B, 21, 3), flattened row-major to 63 features. None of the methods modifies
its inputs. The official code runs these MLPs in float32 even in half-precision mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["RetargetingMLP", "StitchingRetargeting"]


class RetargetingMLP(nn.Module):
    """Linear/ReLU stack under `mlp` (Linear layers at even indices), no final activation."""

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, out_features))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)


def _concat(kp: Tensor, extra: Tensor) -> Tensor:
    """(B, K, 3) keypoints and (B, n) or (B, K, 3) extra → (B, 3K + n) features."""
    b = kp.shape[0]
    if extra.shape[0] != b:
        raise ValueError(f"batch sizes differ: {tuple(kp.shape)} vs {tuple(extra.shape)}")
    return torch.cat([kp.reshape(b, -1), extra.reshape(b, -1)], dim=1)


class StitchingRetargeting(nn.Module):
    """S (stitching), R_lip and R_eyes.

    Args:
        num_kp: implicit keypoints K.
    """

    def __init__(self, num_kp: int = 21) -> None:
        super().__init__()
        n = 3 * num_kp
        self.num_kp = num_kp
        self.stitching = RetargetingMLP(2 * n, (128, 128, 64), n + 2)
        self.lip = RetargetingMLP(n + 2, (128, 128, 64), n)
        self.eye = RetargetingMLP(n + 3, (256, 256, 128, 128, 64), n)

    def stitch(self, kp_source: Tensor, kp_driving: Tensor) -> Tensor:
        """New driving keypoints (B, K, 3): x_d + Δ, plus (Δtx, Δty) on the x and y columns."""
        b, k = kp_driving.shape[:2]
        delta = self.stitching(_concat(kp_source, kp_driving))
        out = kp_driving + delta[:, : 3 * k].reshape(b, k, 3)
        txy = delta[:, 3 * k : 3 * k + 2].reshape(b, 1, 2)
        return torch.cat([out[..., :2] + txy, out[..., 2:]], dim=-1)

    def retarget_eye(self, kp_source: Tensor, eye_ratio: Tensor) -> Tensor:
        """kp (B, K, 3), eye_ratio (B, 3) [src A, src B, target] → delta (B, K, 3)."""
        return self.eye(_concat(kp_source, eye_ratio)).reshape(kp_source.shape[0], -1, 3)

    def retarget_lip(self, kp_source: Tensor, lip_ratio: Tensor) -> Tensor:
        """kp (B, K, 3), lip_ratio (B, 2) [source, target] → delta (B, K, 3)."""
        return self.lip(_concat(kp_source, lip_ratio)).reshape(kp_source.shape[0], -1, 3)
