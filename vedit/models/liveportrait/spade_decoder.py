"""SPADE decoder G: warped feature → 512x512 image.

Weight-compatible with `base_models/spade_generator.pth` (official `SPADEDecoder`).

    (B, 256, 64, 64) → (B, 3, 512, 512) float in (0, 1) RGB

Spectral norm: the checkpoint stores `weight_orig`, `weight_u`, `weight_v` (old-style
`torch.nn.utils.spectral_norm`). At inference the official kernel is
weight_orig / sigma with sigma = u · (W_mat v) from the STORED u and v (no power iteration, no SVD).
`SpectralConv2d` folds that division once, whenever weights are loaded, into a plain
non-persistent `weight` buffer — the same float32 operations as the official per-call
computation, so the result is bit-identical and the forward pass is a plain conv.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SPADE", "SPADEDecoder", "SPADEResBlock", "SpectralConv2d"]


class SpectralConv2d(nn.Module):
    """Conv2d with kernel weight_orig / sigma, sigma = u · (weight_orig.reshape(out, -1) @ v).

    State-dict keys: `weight_orig`, `weight_u`, `weight_v`, `bias` (if any), as in the
    official checkpoints.
    """

    weight: Tensor
    weight_u: Tensor
    weight_v: Tensor

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        fan_in = in_chs * kernel_size * kernel_size
        self.weight_orig = nn.Parameter(
            torch.randn(out_chs, in_chs, kernel_size, kernel_size) / fan_in**0.5
        )
        self.bias = nn.Parameter(torch.zeros(out_chs)) if bias else None
        self.register_buffer("weight_u", F.normalize(torch.randn(out_chs), dim=0))
        self.register_buffer("weight_v", F.normalize(torch.randn(fan_in), dim=0))
        self.register_buffer("weight", torch.empty_like(self.weight_orig), persistent=False)
        self.register_load_state_dict_post_hook(_refold_after_load)
        self.fold()

    @torch.no_grad()
    def fold(self) -> None:
        """Recompute the effective kernel from weight_orig, weight_u, weight_v (float32)."""
        w = self.weight_orig.float()
        w_mat = w.reshape(w.shape[0], -1)
        sigma = torch.dot(self.weight_u.float(), torch.mv(w_mat, self.weight_v.float()))
        self.weight = (w / sigma).to(self.weight_orig.dtype)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)


def _refold_after_load(module: nn.Module, _incompatible: Any) -> None:
    """load_state_dict post-hook: the stored u, v and weight_orig changed, so refold."""
    if isinstance(module, SpectralConv2d):
        module.fold()


class SPADE(nn.Module):
    """Spatially-adaptive norm: instance-norm(x)·(1 + gamma(seg)) + β(seg).

    `seg` must already have x's spatial size (the decoder resizes it once per resolution,
    the same nearest resize the official code repeats inside every norm).
    """

    def __init__(self, chs: int, seg_chs: int, hidden: int = 128) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(seg_chs, hidden, 3, padding=1), nn.ReLU(inplace=True)
        )
        self.mlp_gamma = nn.Conv2d(hidden, chs, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, chs, 3, padding=1)

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        normalized = F.instance_norm(x, eps=1e-5)
        actv = self.mlp_shared(seg)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResBlock(nn.Module):
    """SPADE residual block fin → fout; learned 1x1 shortcut when fin ≠ fout.

    main = conv_1(lrelu(norm_1(conv_0(lrelu(norm_0(x)))))), LeakyReLU slope 0.2.
    """

    def __init__(self, fin: int, fout: int, seg_chs: int) -> None:
        super().__init__()
        mid = min(fin, fout)
        self.conv_0 = SpectralConv2d(fin, mid, 3)
        self.conv_1 = SpectralConv2d(mid, fout, 3)
        self.norm_0 = SPADE(fin, seg_chs)
        self.norm_1 = SPADE(mid, seg_chs)
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.conv_s = SpectralConv2d(fin, fout, 1, bias=False)
            self.norm_s = SPADE(fin, seg_chs)

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        """x (B, fin, H, W), seg (B, seg_chs, H, W) → (B, fout, H, W)."""
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2, inplace=True))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2, inplace=True))
        return shortcut + dx


class SPADEDecoder(nn.Module):
    """G: conv, six SPADE blocks at 64², two upsampling SPADE blocks, conv + PixelShuffle.

    Args:
        in_chs: channels of the warped feature; also the SPADE conditioning channels.
        out_chs: channels before the image conv.
        num_middle: SPADE blocks at the input resolution.
    """

    def __init__(self, in_chs: int = 256, out_chs: int = 64, num_middle: int = 6) -> None:
        super().__init__()
        self.num_middle = num_middle
        self.fc = nn.Conv2d(in_chs, 2 * in_chs, 3, padding=1)
        for i in range(num_middle):
            self.add_module(f"G_middle_{i}", SPADEResBlock(2 * in_chs, 2 * in_chs, in_chs))
        self.up_0 = SPADEResBlock(2 * in_chs, in_chs, in_chs)
        self.up_1 = SPADEResBlock(in_chs, out_chs, in_chs)
        self.conv_img = nn.Sequential(nn.Conv2d(out_chs, 3 * 4, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, feature: Tensor) -> Tensor:
        """(B, in_chs, H, W) → (B, 3, 8H, 8W) in (0, 1)."""
        x = self.fc(feature)
        for i in range(self.num_middle):
            x = getattr(self, f"G_middle_{i}")(x, feature)
        seg = feature
        for block in (self.up_0, self.up_1):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            seg = F.interpolate(feature, size=x.shape[2:], mode="nearest")
            x = block(x, seg)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2, inplace=True)))
