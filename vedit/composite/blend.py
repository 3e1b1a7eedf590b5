"""Alpha-blend re-animated face patches into a frame, touching only what must change.

The writer passes every pixel outside `changed` through bit-exact (no re-rounding, no colour
drift on the untouched parts of a finished shot), so `changed` is exact: True where some patch
has alpha > 0 after clipping to the frame, and only there may a value differ.

Paint order (`order="area"`, the default): patches are painted in ascending order of their
face area, measured as the sum of their alpha (the visible face, not its bounding box, which
grows with in-plane rotation); ties keep the given order. The largest face, which is usually
the closest to the camera, ends on top where two faces overlap. `order="given"` paints in the
sequence order, and an explicit permutation of patch indices paints in that order (last on
top).

Rounding: each patch is blended in float32 as dst + alpha * (src - dst) and rounded to nearest
(ties to even, numpy's rint) into uint8 before the next patch is painted; alpha 1 gives the
patch's pixel exactly, alpha 0 leaves the frame's.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vedit.engines.base import FacePatch

__all__ = ["ORDERS", "composite", "paint_order"]

ORDERS = ("area", "given")


def paint_order(patches: Sequence[FacePatch], order: str | Sequence[int] = "area") -> list[int]:
    """Indices of `patches` in painting order (first painted first; the last ends on top).

    Args:
        patches: the face patches of one frame.
        order: "area" (ascending alpha sum, stable), "given", or a permutation of
            range(len(patches)).

    Returns:
        A permutation of range(len(patches)).

    Raises:
        ValueError: for an unknown order name or a list that is not a permutation.
    """
    n = len(patches)
    if isinstance(order, str):
        if order == "given":
            return list(range(n))
        if order == "area":
            areas = [float(np.sum(p.alpha, dtype=np.float64)) for p in patches]
            return sorted(range(n), key=lambda i: areas[i])
        raise ValueError(f"order must be one of {ORDERS} or a list of indices, got {order!r}")
    indices = [int(i) for i in order]
    if sorted(indices) != list(range(n)):
        raise ValueError(f"order {indices} is not a permutation of the {n} patch indices")
    return indices


def composite(
    frame: np.ndarray,
    patches: Sequence[FacePatch],
    order: str | Sequence[int] = "area",
) -> tuple[np.ndarray, np.ndarray]:
    """Paste face patches into a frame.

    Patches may extend past the frame's edges; the parts outside are dropped. Only each
    patch's own box is processed, so small faces in 4K frames cost little beyond the copy.

    Args:
        frame: (H, W, 3) uint8 RGB; not modified.
        patches: face patches, rgb (h, w, 3) uint8, alpha (h, w) float in [0, 1] (values
            outside are clipped, NaN counts as 0).
        order: painting order, see `paint_order` ("area": larger faces on top).

    Returns:
        (new_frame, changed): a new (H, W, 3) uint8 frame and an (H, W) bool array, True
        exactly where some patch's clipped alpha is > 0. Every other pixel of new_frame is
        bit-identical to frame.

    Raises:
        ValueError: for a frame that is not (H, W, 3) uint8, a patch that is not uint8, or a
            bad order.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    height, width = frame.shape[:2]
    out = frame.copy()
    changed = np.zeros((height, width), dtype=bool)
    for index in paint_order(patches, order):
        patch = patches[index]
        if patch.rgb.dtype != np.uint8:
            raise ValueError(f"patch {index} rgb must be uint8, got {patch.rgb.dtype}")
        h, w = patch.alpha.shape
        fx0, fy0 = max(patch.x0, 0), max(patch.y0, 0)
        fx1, fy1 = min(patch.x0 + w, width), min(patch.y0 + h, height)
        if fx1 <= fx0 or fy1 <= fy0:
            continue
        rows = slice(fy0 - patch.y0, fy1 - patch.y0)
        cols = slice(fx0 - patch.x0, fx1 - patch.x0)
        alpha = np.nan_to_num(patch.alpha[rows, cols].astype(np.float32), nan=0.0)
        np.clip(alpha, 0.0, 1.0, out=alpha)
        on = alpha > 0
        if not on.any():
            continue
        dst = out[fy0:fy1, fx0:fx1]
        base = dst.astype(np.float32)
        # where alpha is 0 the blend gives back dst exactly (dst + 0 * (src - dst)), so the
        # whole box can be written; alpha is spread to the 3 channels explicitly because
        # numpy's broadcast over a last axis of 3 is several times slower than a plain product
        blended = patch.rgb[rows, cols].astype(np.float32)
        blended -= base
        blended *= cv2.merge([alpha, alpha, alpha])
        blended += base
        np.rint(blended, out=blended)
        np.clip(blended, 0, 255, out=blended)
        dst[...] = blended
        changed[fy0:fy1, fx0:fx1] |= on
    return out, changed
