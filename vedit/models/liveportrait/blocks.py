"""Conv → BatchNorm → activation blocks shared by the appearance extractor (F) and warper (W).

Parameter names (`conv`, `norm`) follow the official checkpoints so that a strict
`load_state_dict` works. BatchNorm always runs with its running statistics (eval mode).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvNormAct"]


class ConvNormAct(nn.Module):
    """kxk conv, BatchNorm, ReLU (or LeakyReLU 0.01), then an optional average pool.

    Covers the official `SameBlock2d`, `DownBlock2d` and `DownBlock3d`.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        dims: 2 for (B, C, H, W) inputs, 3 for (B, C, D, H, W).
        kernel_size: conv kernel (padding keeps the size).
        pool: average-pool H and W by this factor last (depth is kept); None for no pooling.
        leaky: LeakyReLU with slope 0.01 instead of ReLU.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        dims: int = 2,
        kernel_size: int = 3,
        pool: int | None = None,
        leaky: bool = False,
    ) -> None:
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
        self.conv = conv(in_chs, out_chs, kernel_size, padding=kernel_size // 2)
        self.norm = norm(out_chs)
        self.leaky = leaky
        self.pool: nn.Module = nn.Identity()
        if pool is not None:
            self.pool = nn.AvgPool2d(pool) if dims == 2 else nn.AvgPool3d((1, pool, pool))

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(x))
        # In place is safe: the BatchNorm output is a fresh tensor.
        x = F.leaky_relu(x, 0.01, inplace=True) if self.leaky else F.relu(x, inplace=True)
        return self.pool(x)
