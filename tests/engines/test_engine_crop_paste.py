"""Issue 7, acceptance 3: crop -> network frame -> paste-back lands where it came from.

A synthetic frame is cropped with a known rotated, scaled LivePortrait-style affine exactly as
the neural engine crops it; the 512 crop goes back through paste_back with the crop->frame
matrix. With an identity "network" the pasted face must sit on the original to well under a
pixel, and a deliberate one-pixel error in the matrix must be detected.
"""
from __future__ import annotations

import cv2
import numpy as np

from vedit.composite.mask import paste_back
from vedit.engines.liveportrait import paste_mask
from vedit.faces.crop import invert_affine


def _texture(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = rng.random((h // 8, w // 8, 3)).astype(np.float32)
    img = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def _affine(angle_deg: float, side: float, centre: tuple[float, float]) -> np.ndarray:
    """frame -> crop (512) affine of a square of `side` px around `centre`, rotated."""
    a = np.deg2rad(angle_deg)
    s = 512 / side
    c, si = np.cos(a) * s, np.sin(a) * s
    cx, cy = centre
    return np.array([[c, si, 256 - (c * cx + si * cy)], [-si, c, 256 - (-si * cx + c * cy)]])


def _shift(a: np.ndarray, b: np.ndarray, box) -> float:
    y0, y1, x0, x1 = box
    ga = cv2.cvtColor(a[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float64)
    gb = cv2.cvtColor(b[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float64)
    (dx, dy), _ = cv2.phaseCorrelate(ga, gb)
    return float(np.hypot(dx, dy))


def test_crop_and_paste_back_align_to_subpixel():
    frame = _texture(720, 1280)
    f2c = _affine(12.0, 380.0, (640.3, 352.7))
    c2f = invert_affine(f2c)
    crop = cv2.warpAffine(frame, f2c, (512, 512), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    patch = paste_back(crop, c2f, frame, paste_mask(512))
    pasted = frame.copy()
    h, w = patch.alpha.shape
    pasted[patch.y0:patch.y0 + h, patch.x0:patch.x0 + w] = patch.rgb
    box = (260, 450, 540, 740)  # well inside the face area
    assert _shift(frame, pasted, box) < 0.25
    err = np.abs(frame[260:450, 540:740].astype(int) - pasted[260:450, 540:740]).mean()
    assert err < 6.0

    # the same check catches a one-pixel mistake in the paste-back matrix
    wrong = c2f.copy()
    wrong[0, 2] += 1.0
    bad = paste_back(crop, wrong, frame, paste_mask(512))
    shifted = frame.copy()
    shifted[bad.y0:bad.y0 + h, bad.x0:bad.x0 + w] = bad.rgb[:h, :w]
    assert _shift(frame, shifted, box) > 0.4
