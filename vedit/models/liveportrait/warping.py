"""Warping module W: dense motion from implicit keypoints, then warp the feature volume.

Weight-compatible with `base_models/warping_module.pth` (official `WarpingNetwork` with a
`DenseMotionNetwork` under `dense_motion_network`).

    feature (B, 32, 16, 64, 64), kp_source / kp_driving (B, 21, 3) in [-1, 1] grid units
    → out (B, 256, 64, 64), occlusion_map (B, 1, 64, 64), deformation (B, 16, 64, 64, 3)

Precision: every `grid_sample` and the mask softmax run in float32 even when the convs run
in half precision, which is what the official fp16 autocast does (CUDA autocast promotes
grid_sample to its float32 grid and runs softmax in float32). Keypoint grids and Gaussian
heatmaps are float32 too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import ConvNormAct

__all__ = ["DenseMotionNetwork", "Hourglass", "WarpingNetwork", "make_coordinate_grid"]


def make_coordinate_grid(
    d: int, h: int, w: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Tensor:
    """Identity grid (d, h, w, 3) in [-1, 1], last axis (x=width, y=height, z=depth)."""

    def axis(n: int) -> Tensor:
        return 2 * (torch.arange(n, device=device, dtype=dtype) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(d), axis(h), axis(w), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def _grid_sample(x: Tensor, grid: Tensor) -> Tensor:
    """Trilinear grid_sample, zero padding, align_corners=False, in float32."""
    return F.grid_sample(x.float(), grid.float(), align_corners=False)


class UpBlock3d(nn.Module):
    """Nearest x2 upsample of H and W, then 3x3x3 conv, BN, ReLU."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_chs, out_chs, 3, padding=1)
        self.norm = nn.BatchNorm3d(out_chs)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")
        return F.relu(self.norm(self.conv(x)), inplace=True)


class Encoder(nn.Module):
    """Hourglass encoder: conv-BN-ReLU-avgpool(1,2,2) levels; returns every level's output."""

    def __init__(self, base_chs: int, in_chs: int, num_blocks: int, max_chs: int) -> None:
        super().__init__()
        chs = [in_chs] + [min(max_chs, base_chs * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down_blocks = nn.ModuleList(
            ConvNormAct(chs[i], chs[i + 1], dims=3, pool=2) for i in range(num_blocks)
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    """Hourglass decoder: upsample, conv, concat the skip; final 3x3x3 conv-BN-ReLU."""

    def __init__(self, base_chs: int, in_chs: int, num_blocks: int, max_chs: int) -> None:
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            mult = 1 if i == num_blocks - 1 else 2
            in_chs_i = mult * min(max_chs, base_chs * 2 ** (i + 1))
            blocks.append(UpBlock3d(in_chs_i, min(max_chs, base_chs * 2**i)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_chs = base_chs + in_chs
        self.conv = nn.Conv3d(self.out_chs, self.out_chs, 3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_chs)

    def forward(self, skips: list[Tensor]) -> Tensor:
        skips = list(skips)
        x = skips.pop()
        for block in self.up_blocks:
            x = torch.cat([block(x), skips.pop()], dim=1)
        return F.relu(self.norm(self.conv(x)), inplace=True)


class Hourglass(nn.Module):
    """3-D U-Net over (D, H, W); H and W shrink by 2 per level, D is kept."""

    def __init__(self, base_chs: int, in_chs: int, num_blocks: int, max_chs: int) -> None:
        super().__init__()
        self.encoder = Encoder(base_chs, in_chs, num_blocks, max_chs)
        self.decoder = Decoder(base_chs, in_chs, num_blocks, max_chs)
        self.out_chs = self.decoder.out_chs

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


class DenseMotionNetwork(nn.Module):
    """Per-keypoint translations blended by a predicted mask → deformation + occlusion.

    Args:
        num_kp: implicit keypoints K (K + 1 motions with the background).
        feature_chs: channels of the appearance volume.
        depth: depth D of the appearance volume.
        compress: channels after the 1x1x1 compression.
        base_chs: hourglass block expansion.
        num_blocks: hourglass levels.
        max_chs: hourglass channel cap.
    """

    def __init__(
        self,
        num_kp: int = 21,
        feature_chs: int = 32,
        depth: int = 16,
        compress: int = 4,
        base_chs: int = 32,
        num_blocks: int = 5,
        max_chs: int = 1024,
    ) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.hourglass = Hourglass(base_chs, (num_kp + 1) * (compress + 1), num_blocks, max_chs)
        out_chs = self.hourglass.out_chs
        self.mask = nn.Conv3d(out_chs, num_kp + 1, 7, padding=3)
        self.compress = nn.Conv3d(feature_chs, compress, 1)
        self.norm = nn.BatchNorm3d(compress)
        self.occlusion = nn.Conv2d(out_chs * depth, 1, 7, padding=3)

    def sparse_motions(self, grid: Tensor, kp_source: Tensor, kp_driving: Tensor) -> Tensor:
        """(B, K+1, D, H, W, 3): identity for the background, grid - x_d[k] + x_s[k] per kp."""
        b = kp_source.shape[0]
        shift = (grid - kp_driving.view(b, -1, 1, 1, 1, 3)) + kp_source.view(b, -1, 1, 1, 1, 3)
        ident = grid.expand(b, 1, *grid.shape[2:])
        return torch.cat([ident, shift], dim=1)

    def heatmaps(self, grid: Tensor, kp_source: Tensor, kp_driving: Tensor) -> Tensor:
        """(B, K+1, 1, D, H, W): Gaussian(x_d) - Gaussian(x_s), variance 0.01, zero background."""
        b = kp_source.shape[0]

        def gaussian(kp: Tensor) -> Tensor:
            sq = ((grid - kp.view(b, -1, 1, 1, 1, 3)) ** 2).sum(-1)
            return torch.exp(-0.5 * sq / 0.01)

        heat = gaussian(kp_driving) - gaussian(kp_source)
        zeros = heat.new_zeros(b, 1, *heat.shape[2:])
        return torch.cat([zeros, heat], dim=1).unsqueeze(2)

    def forward(self, feature: Tensor, kp_source: Tensor, kp_driving: Tensor) -> dict[str, Tensor]:
        """Feature (B, C, D, H, W), keypoints (B, K, 3) → deformation, occlusion_map."""
        b, _, d, h, w = feature.shape
        k1 = self.num_kp + 1
        kp_source, kp_driving = kp_source.float(), kp_driving.float()
        feat = F.relu(self.norm(self.compress(feature)), inplace=True)  # (B, 4, D, H, W)

        grid = make_coordinate_grid(d, h, w, kp_source.device).view(1, 1, d, h, w, 3)
        motions = self.sparse_motions(grid, kp_source, kp_driving)  # (B, K+1, D, H, W, 3)
        feat_rep = feat.unsqueeze(1).expand(b, k1, *feat.shape[1:]).reshape(b * k1, -1, d, h, w)
        deformed = _grid_sample(feat_rep, motions.reshape(b * k1, d, h, w, 3))
        deformed = deformed.view(b, k1, -1, d, h, w)  # (B, K+1, 4, D, H, W)

        heat = self.heatmaps(grid, kp_source, kp_driving)
        x = torch.cat([heat, deformed], dim=2).view(b, -1, d, h, w)  # (B, (K+1)·5, D, H, W)
        pred = self.hourglass(x)

        mask = F.softmax(self.mask(pred).float(), dim=1).unsqueeze(2)  # (B, K+1, 1, D, H, W)
        deformation = (motions.permute(0, 1, 5, 2, 3, 4) * mask).sum(dim=1)
        deformation = deformation.permute(0, 2, 3, 4, 1)  # (B, D, H, W, 3)

        occlusion = torch.sigmoid(self.occlusion(pred.reshape(b, -1, h, w)))
        return {"deformation": deformation, "occlusion_map": occlusion}


class WarpingNetwork(nn.Module):
    """W: dense motion, warp the full volume, 3x3 conv-BN-LeakyReLU, 1x1 conv, x occlusion.

    Args:
        num_kp: implicit keypoints.
        feature_chs: channels of the appearance volume (32).
        depth: its depth (16); feature_chs x depth is the 2-D width after the warp.
        out_chs: output channels (256).
        dense_motion: keyword arguments for `DenseMotionNetwork`.
    """

    def __init__(
        self,
        num_kp: int = 21,
        feature_chs: int = 32,
        depth: int = 16,
        out_chs: int = 256,
        **dense_motion: int,
    ) -> None:
        super().__init__()
        self.dense_motion_network = DenseMotionNetwork(
            num_kp=num_kp, feature_chs=feature_chs, depth=depth, **dense_motion
        )
        self.third = ConvNormAct(feature_chs * depth, out_chs, leaky=True)
        self.fourth = nn.Conv2d(out_chs, out_chs, 1)

    def forward(self, feature: Tensor, kp_source: Tensor, kp_driving: Tensor) -> dict[str, Tensor]:
        """See the module docstring for shapes. `out` is the decoder input."""
        motion = self.dense_motion_network(feature, kp_source, kp_driving)
        warped = _grid_sample(feature, motion["deformation"])  # (B, C, D, H, W)
        b, c, d, h, w = warped.shape
        out = self.fourth(self.third(warped.view(b, c * d, h, w)))
        return {"out": out * motion["occlusion_map"], **motion}
