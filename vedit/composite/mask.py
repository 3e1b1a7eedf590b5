"""Soft masks and the crop -> frame paste-back warp.

Engines render a face in a square crop (LivePortrait: 512 x 512) that is an affine view of
the frame; pasting back warps the crop, and a soft mask, into the frame. Everything here works
in the bounding box of the warped crop only: a small face in a 4K frame costs a small warp, not
a full-frame one (the official code warps the full frame). The box's affine is the crop's
affine translated by (-x0, -y0), so the pixels match a full-frame warp's (up to OpenCV's
1/32-pixel quantisation of sampling positions, which depends on the integer offset).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vedit.engines.base import FacePatch

__all__ = ["AlphaBox", "feathered_mask", "paste_back", "warp_box", "warp_mask_template"]

_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point: vertices to 1/16 pixel


@dataclass(frozen=True)
class AlphaBox:
    """A soft mask placed in a frame: alpha over the box [x0, x0 + w) x [y0, y0 + h).

    Attributes:
        x0, y0: top-left corner in frame pixels (inside the frame).
        alpha: (h, w) float32 in [0, 1]; may be (0, 0) when nothing lands in the frame.
    """

    x0: int
    y0: int
    alpha: np.ndarray

    def __post_init__(self) -> None:
        if self.alpha.ndim != 2 or self.alpha.dtype != np.float32:
            raise ValueError(f"alpha must be (h, w) float32, got {self.alpha.shape} "
                             f"{self.alpha.dtype}")


def feathered_mask(shape: tuple[int, int], points: np.ndarray, feather_px: float,
                   convex: bool = True) -> np.ndarray:
    """A polygon mask with a soft inner edge: 1 deep inside, falling to 0 at the outline.

    The ramp lies entirely inside the polygon (from the outline to `feather_px` inward), so
    nothing outside the outline is ever touched, which keeps `composite`'s changed region
    within the polygon. The ramp is a smoothstep of the Euclidean distance to the outline
    (distance transform), which has no visible kink where it reaches 1. The frame border is
    not an outline: a face cut by the frame edge is not faded there.

    Args:
        shape: (H, W) of the mask.
        points: (N, 2) float x, y pixel coordinates, N >= 3: the polygon, or any points whose
            convex hull is wanted (e.g. face-mesh landmarks) when `convex`.
        feather_px: width of the soft edge in pixels; 0 gives a hard 0/1 mask.
        convex: use the convex hull of `points` instead of the polygon as given.

    Returns:
        (H, W) float32 in [0, 1].
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] < 3:
        raise ValueError(f"need at least 3 points, got {pts.shape[0]}")
    if not feather_px >= 0:
        raise ValueError(f"feather_px must be >= 0, got {feather_px}")
    fixed = np.round(pts * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    if convex:
        fixed = cv2.convexHull(fixed).reshape(-1, 2)
    inside = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(inside, [fixed.reshape(-1, 1, 2)], (255,), lineType=cv2.LINE_8,
                 shift=_SUBPIXEL_BITS)
    if feather_px == 0:
        return (inside > 0).astype(np.float32)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(distance / np.float32(feather_px), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def warp_box(crop_to_frame: np.ndarray, crop_size: tuple[int, int],
             frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Frame box (x0, y0, x1, y1), half-open and clipped, that a warped crop can touch.

    With bilinear sampling a crop of w x h pixels influences frame points whose crop-space
    position lies in (-1, w) x (-1, h); the box bounds the image of that rectangle.

    Args:
        crop_to_frame: (2, 3) affine, crop pixel -> frame pixel.
        crop_size: (h, w) of the crop.
        frame_size: (H, W) of the frame, i.e. frame.shape[:2].

    Returns:
        (x0, y0, x1, y1) ints with 0 <= x0 <= x1 <= W, 0 <= y0 <= y1 <= H (empty when the
        crop misses the frame).
    """
    m = _affine(crop_to_frame)
    h, w = crop_size
    corners = np.array([[-1, -1, 1], [w, -1, 1], [-1, h, 1], [w, h, 1]], dtype=np.float64)
    mapped = corners @ m.T
    height, width = frame_size
    x0 = min(max(math.floor(mapped[:, 0].min()), 0), width)
    y0 = min(max(math.floor(mapped[:, 1].min()), 0), height)
    x1 = min(max(math.ceil(mapped[:, 0].max()) + 1, x0), width)
    y1 = min(max(math.ceil(mapped[:, 1].max()) + 1, y0), height)
    return x0, y0, x1, y1


def warp_mask_template(template: np.ndarray, crop_to_frame: np.ndarray,
                       frame_size: tuple[int, int], crop_size: int | None = None) -> AlphaBox:
    """Warp a crop-space mask (e.g. LivePortrait's mask_template.png) into a frame box.

    Args:
        template: (h, w) float in [0, 1], or uint8 in [0, 255] (as read from a PNG; a
            (h, w, C) image uses its first channel). Laid over the crop's pixel grid.
        crop_to_frame: (2, 3) affine, crop pixel -> frame pixel.
        frame_size: (H, W) of the frame, i.e. frame.shape[:2] (numpy order, not cv2's).
        crop_size: side S of the crop when the template has another size (it is then
            resized to S x S first); None when the template already is the crop's size.

    Returns:
        An `AlphaBox` covering only the warped crop's bounding box inside the frame.
    """
    mask = _as_alpha(template)
    if crop_size is not None and mask.shape != (crop_size, crop_size):
        mask = cv2.resize(mask, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
    x0, y0, x1, y1 = warp_box(crop_to_frame, _hw(mask), frame_size)
    alpha = _warp(mask, crop_to_frame, x0, y0, x1, y1, cv2.BORDER_CONSTANT)
    return AlphaBox(x0=x0, y0=y0, alpha=np.clip(alpha, 0.0, 1.0))


def paste_back(crop_rgb: np.ndarray, crop_to_frame: np.ndarray, frame: np.ndarray,
               mask: np.ndarray) -> FacePatch:
    """Warp a rendered crop and its mask back into the frame, as a `FacePatch`.

    The rgb warp replicates the crop's border pixels outward (cv2.BORDER_REPLICATE) instead of
    blending in black, so a mask that is not 0 at the crop's edge does not darken the seam; the
    mask warp uses a 0 border, so nothing beyond the crop is ever changed.

    Args:
        crop_rgb: (S, S, 3) uint8 RGB rendered face crop.
        crop_to_frame: (2, 3) affine, crop pixel -> frame pixel.
        frame: (H, W, 3) uint8 RGB frame the crop goes back into (only its size is used).
        mask: (S, S) float in [0, 1] (or uint8 0-255) blend weight over the crop.

    Returns:
        A `FacePatch` over the warped crop's bounding box clipped to the frame (possibly
        0 x 0 when the crop lies outside it).
    """
    if crop_rgb.ndim != 3 or crop_rgb.shape[2] != 3 or crop_rgb.dtype != np.uint8:
        raise ValueError(f"crop_rgb must be (S, S, 3) uint8, got {crop_rgb.shape} "
                         f"{crop_rgb.dtype}")
    alpha_crop = _as_alpha(mask)
    if alpha_crop.shape != crop_rgb.shape[:2]:
        raise ValueError(f"mask {alpha_crop.shape} does not match crop {crop_rgb.shape[:2]}")
    x0, y0, x1, y1 = warp_box(crop_to_frame, _hw(crop_rgb), _hw(frame))
    rgb = _warp(crop_rgb, crop_to_frame, x0, y0, x1, y1, cv2.BORDER_REPLICATE)
    alpha = _warp(alpha_crop, crop_to_frame, x0, y0, x1, y1, cv2.BORDER_CONSTANT)
    return FacePatch(x0=x0, y0=y0, rgb=rgb.reshape(y1 - y0, x1 - x0, 3),
                     alpha=np.clip(alpha, 0.0, 1.0))


def _warp(image: np.ndarray, crop_to_frame: np.ndarray, x0: int, y0: int, x1: int, y1: int,
          border: int) -> np.ndarray:
    """cv2.warpAffine of `image` into the frame box [x0, x1) x [y0, y1) (bilinear)."""
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        return np.zeros((max(h, 0), max(w, 0), *image.shape[2:]), dtype=image.dtype)
    m = _affine(crop_to_frame).copy()
    m[0, 2] -= x0
    m[1, 2] -= y0
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border,
                          borderValue=(0, 0, 0, 0))


def _hw(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of an image array."""
    return int(image.shape[0]), int(image.shape[1])


def _affine(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"affine must be (2, 3), got {m.shape}")
    return m


def _as_alpha(mask: np.ndarray) -> np.ndarray:
    """(h, w) float32 in [0, 1] from a float or uint8 mask (first channel of a colour one)."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"mask must be (h, w), got {mask.shape}")
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / np.float32(255)
    return np.clip(mask.astype(np.float32), 0.0, 1.0)
