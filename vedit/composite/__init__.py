"""Compositing: paste re-animated faces back into their frames, bit-exact elsewhere."""
from vedit.composite.blend import ORDERS, composite, paint_order
from vedit.composite.mask import (
    AlphaBox,
    feathered_mask,
    paste_back,
    warp_box,
    warp_mask_template,
)

__all__ = [
    "ORDERS",
    "AlphaBox",
    "composite",
    "feathered_mask",
    "paint_order",
    "paste_back",
    "warp_box",
    "warp_mask_template",
]
