"""Appearance feature extractor F: source crop → 3-D appearance feature volume.

Weight-compatible with `base_models/appearance_feature_extractor.pth`
(official class `AppearanceFeatureExtractor`).

    (B, 3, 256, 256) float [0, 1] RGB → (B, 32, 16, 64, 64)
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import ConvNormAct

__all__ = ["AppearanceFeatureExtractor"]


class ResBlock3d(nn.Module):
    """Pre-activation 3-D residual block: BN → ReLU → conv → BN → ReLU → conv, + input."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(chs, chs, 3, padding=1)
        self.conv2 = nn.Conv3d(chs, chs, 3, padding=1)
        self.norm1 = nn.BatchNorm3d(chs)
        self.norm2 = nn.BatchNorm3d(chs)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.norm1(x), inplace=True))
        out = self.conv2(F.relu(self.norm2(out), inplace=True))
        return out + x


class AppearanceFeatureExtractor(nn.Module):
    """F: 2-D encoder, lift 512 channels to (32 channels x 16 depth), 3-D residual blocks.

    Args:
        in_chs: image channels.
        base_chs: width of the first conv; doubles at each of `num_down` down blocks.
        max_chs: channels before the lift (= feature_chs x depth).
        feature_chs: channels of the 3-D volume.
        depth: depth of the 3-D volume.
        num_down: number of x½ down blocks (256 → 64 with 2).
        num_res: number of 3-D residual blocks.
    """

    def __init__(
        self,
        in_chs: int = 3,
        base_chs: int = 64,
        max_chs: int = 512,
        feature_chs: int = 32,
        depth: int = 16,
        num_down: int = 2,
        num_res: int = 6,
    ) -> None:
        super().__init__()
        if feature_chs * depth != max_chs:
            raise ValueError(f"feature_chs x depth ({feature_chs}x{depth}) must equal {max_chs}")
        self.feature_chs = feature_chs
        self.depth = depth
        self.first = ConvNormAct(in_chs, base_chs)
        chs = [min(max_chs, base_chs * 2**i) for i in range(num_down + 1)]
        self.down_blocks = nn.ModuleList(
            ConvNormAct(chs[i], chs[i + 1], pool=2) for i in range(num_down)
        )
        self.second = nn.Conv2d(chs[-1], max_chs, 1)
        self.resblocks_3d = nn.Sequential()
        for i in range(num_res):  # official child names are "3dr0", "3dr1", ...
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(feature_chs))

    def forward(self, img: Tensor) -> Tensor:
        """(B, 3, H, W) [0, 1] RGB → (B, feature_chs, depth, H/4, W/4)."""
        x = self.first(img)
        for block in self.down_blocks:
            x = block(x)
        x = self.second(x)
        b, _, h, w = x.shape
        # Channel index c·depth + d: a plain row-major view, as in the official code.
        x = x.reshape(b, self.feature_chs, self.depth, h, w)
        return self.resblocks_3d(x)
