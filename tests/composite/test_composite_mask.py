"""Feathered masks, box-restricted mask warps and crop paste-back alignment."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vedit.composite import (
    composite,
    feathered_mask,
    paste_back,
    warp_box,
    warp_mask_template,
)

MASK_TEMPLATE = Path(__file__).resolve().parents[3] / "shared" / "media" / "mask_template.png"


def _textured_frame(h: int = 360, w: int = 480, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 blurred-noise texture: smooth enough for bilinear resampling (sigma 2
    px) yet broadband, so phase correlation has a sharp peak."""
    noise = np.random.default_rng(seed).uniform(0, 255, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).round().astype(np.uint8)


def _similarity(angle_deg, scale, centre, size) -> np.ndarray:
    """(2, 3) frame -> crop affine: centre of the frame face to the crop centre."""
    m = cv2.getRotationMatrix2D(centre, angle_deg, scale)
    m[:, 2] += np.array([size / 2, size / 2]) - np.array(centre)
    return m


def test_feathered_mask_inside_outside_and_ramp():
    square = np.array([[10, 10], [50, 10], [50, 50], [10, 50]], float)
    mask = feathered_mask((60, 60), square, feather_px=8)
    assert mask.dtype == np.float32
    assert mask[30, 30] == 1.0 and mask[5, 5] == 0.0 and mask[30, 55] == 0.0
    assert (mask[:9] == 0).all() and (mask[:, 52:] == 0).all()  # nothing outside the polygon
    row = mask[30, 10:31]
    assert 0 < row[0] < row[3] < row[6] < 1 and row[7] == 1 and row[-1] == 1  # 8 px ramp
    assert (np.diff(row) >= 0).all()
    hard = feathered_mask((60, 60), square, feather_px=0)
    assert set(np.unique(hard)) == {0.0, 1.0}
    scattered = np.random.default_rng(0).uniform(15, 45, (40, 2))
    hull = feathered_mask((60, 60), np.vstack([scattered, square]), 4)
    np.testing.assert_array_equal(hull, feathered_mask((60, 60), square, 4))


def test_warp_mask_template_is_box_of_full_frame_warp():
    template = np.zeros((128, 128), np.float32)
    template[16:112, 16:112] = 1.0
    template = cv2.GaussianBlur(template, (0, 0), 5)
    crop_to_frame = cv2.invertAffineTransform(_similarity(20, 2.0, (300.0, 200.0), 128))
    box = warp_mask_template(template, crop_to_frame, (720, 1280))
    h, w = box.alpha.shape
    assert h * w < 0.02 * 720 * 1280  # only the face's box, not the frame
    full = cv2.warpAffine(template, crop_to_frame, (1280, 720), flags=cv2.INTER_LINEAR)
    # Equal up to OpenCV's 1/32-pixel quantisation of sampling positions.
    np.testing.assert_allclose(box.alpha, full[box.y0:box.y0 + h, box.x0:box.x0 + w], atol=5e-3)
    outside = full.copy()
    outside[box.y0:box.y0 + h, box.x0:box.x0 + w] = 0
    assert outside.max() == 0  # the box holds all of the warped mask


def test_warp_box_clips_and_can_be_empty():
    shift = np.array([[1.0, 0, -50], [0, 1.0, -40]])
    assert warp_box(shift, (64, 64), (100, 100)) == (0, 0, 15, 25)
    x0, y0, x1, y1 = warp_box(np.array([[1.0, 0, 500], [0, 1, 500]]), (64, 64), (100, 100))
    assert x1 - x0 == 0 or y1 - y0 == 0


def _phase_shift(a: np.ndarray, b: np.ndarray) -> float:
    win = cv2.createHanningWindow(a.shape[::-1], cv2.CV_64F)
    (dx, dy), _ = cv2.phaseCorrelate(a.astype(np.float64), b.astype(np.float64), win)
    return float(np.hypot(dx, dy))


def _paste_error(crop, crop_to_frame, frame, mask):
    """(phase-correlation shift px, mean abs diff) of a pasted crop against the frame."""
    patch = paste_back(crop, crop_to_frame, frame, mask)
    h, w = patch.alpha.shape
    truth = frame[patch.y0:patch.y0 + h, patch.x0:patch.x0 + w]
    inner = cv2.erode((patch.alpha >= 1.0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ys, xs = np.nonzero(inner)
    cy, cx = int(ys.mean()), int(xs.mean())
    sl = (slice(cy - 48, cy + 48), slice(cx - 48, cx + 48))
    assert inner[sl].all()

    def gray(im):
        return im.astype(np.float64).mean(-1)

    shift = _phase_shift(gray(patch.rgb[sl]), gray(truth[sl]))
    return shift, float(np.abs(patch.rgb.astype(float) - truth)[inner].mean()), patch


def test_paste_back_aligns_subpixel():
    frame = _textured_frame()
    size = 256
    frame_to_crop = _similarity(17.0, 1.37, (243.3, 171.6), size)
    crop = cv2.warpAffine(frame, frame_to_crop, (size, size), flags=cv2.INTER_LINEAR)
    crop_to_frame = cv2.invertAffineTransform(frame_to_crop)
    mask = np.zeros((size, size), np.float32)
    mask[8:-8, 8:-8] = 1.0
    shift, diff, patch = _paste_error(crop, crop_to_frame, frame, mask)
    assert shift < 0.2 and diff < 1.5, (shift, diff)
    # The same measurement sees a one-pixel and a quarter-pixel error in the affine.
    for dx, min_shift, min_diff in ((1.0, 0.7, 4.0), (0.25, 0.2, 1.8)):
        off = crop_to_frame.copy()
        off[0, 2] += dx
        wrong_shift, wrong_diff, _ = _paste_error(crop, off, frame, mask)
        assert wrong_shift > min_shift and wrong_diff > min_diff, (dx, wrong_shift, wrong_diff)
    out, changed = composite(frame, [patch])
    assert np.abs(out.astype(int) - frame)[changed].mean() < 1.5
    np.testing.assert_array_equal(out[~changed], frame[~changed])


def test_paste_back_partly_outside_frame():
    frame = _textured_frame(100, 120)
    crop = np.full((64, 64, 3), 200, np.uint8)
    c2f = np.array([[1.0, 0, -30], [0, 1.0, 80]])
    patch = paste_back(crop, c2f, frame, np.ones((64, 64), np.float32))
    assert patch.x0 == 0 and patch.y0 == 79
    assert patch.x0 + patch.alpha.shape[1] <= 120 and patch.y0 + patch.alpha.shape[0] <= 100
    assert (patch.rgb[patch.alpha > 0] == 200).all()  # replicated border: no dark seam
    gone = paste_back(crop, np.array([[1.0, 0, 500], [0, 1.0, 0]]), frame, np.ones((64, 64)))
    assert gone.alpha.size == 0
    out, changed = composite(frame, [gone])
    assert not changed.any() and np.array_equal(out, frame)


@pytest.mark.skipif(not MASK_TEMPLATE.exists(), reason=f"{MASK_TEMPLATE} not present")
def test_official_mask_template():
    template = cv2.imread(str(MASK_TEMPLATE), cv2.IMREAD_UNCHANGED)
    c2f = cv2.invertAffineTransform(_similarity(-8, 512 / 300, (640.0, 360.0), 512))
    box = warp_mask_template(template, c2f, (720, 1280))
    assert box.alpha.max() == pytest.approx(1.0) and box.alpha.min() == 0.0
    small = warp_mask_template(template, c2f @ np.diag([2.0, 2.0, 1.0]), (720, 1280),
                               crop_size=256)
    np.testing.assert_allclose(small.alpha.sum(), box.alpha.sum(), rtol=0.02)
