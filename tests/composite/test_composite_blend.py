"""Alpha blending of face patches: exact pass-through, order, clipping, rounding."""
from __future__ import annotations

import numpy as np
import pytest

from vedit.composite import composite, paint_order
from vedit.engines.base import FacePatch


def _frame(h: int = 40, w: int = 60, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _patch(x0, y0, h, w, colour, alpha=1.0) -> FacePatch:
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = colour
    a = alpha if isinstance(alpha, np.ndarray) else np.full((h, w), alpha, np.float32)
    return FacePatch(x0=x0, y0=y0, rgb=rgb, alpha=a.astype(np.float32))


def test_alpha_zero_is_bit_identical_and_changed_is_exact():
    frame = _frame()
    rng = np.random.default_rng(1)
    alpha = rng.uniform(0, 1, (10, 12)).astype(np.float32)
    alpha[rng.uniform(size=alpha.shape) < 0.5] = 0.0
    alpha[0, 0] = 1e-7  # tiny but > 0: may change, so it is marked
    patch = FacePatch(5, 7, rng.integers(0, 256, (10, 12, 3), dtype=np.uint8), alpha)
    before = frame.copy()
    out, changed = composite(frame, [patch])
    np.testing.assert_array_equal(frame, before)  # input untouched
    expect = np.zeros(frame.shape[:2], bool)
    expect[7:17, 5:17] = alpha > 0
    np.testing.assert_array_equal(changed, expect)
    np.testing.assert_array_equal(out[~changed], frame[~changed])
    blended = np.rint(frame[7:17, 5:17] + alpha[..., None] * (patch.rgb.astype(np.float32)
                                                              - frame[7:17, 5:17]))
    np.testing.assert_array_equal(out[7:17, 5:17], blended.astype(np.uint8))


def test_rounding_and_full_alpha():
    frame = np.full((4, 4, 3), 10, np.uint8)
    out, _ = composite(frame, [_patch(0, 0, 2, 2, 20, 0.3), _patch(2, 2, 2, 2, 200, 1.0)])
    assert out[0, 0, 0] == 13  # 10 + 0.3 * 10
    assert (out[2:, 2:] == 200).all()
    out, changed = composite(frame, [_patch(0, 0, 4, 4, 99, 0.0)])
    assert not changed.any() and (out == frame).all()


def test_larger_face_on_top_by_default_given_order_otherwise():
    frame = np.zeros((30, 30, 3), np.uint8)
    small = _patch(10, 10, 6, 6, (255, 0, 0))
    large = _patch(5, 5, 15, 15, (0, 0, 255))
    for patches in ([small, large], [large, small]):
        out, _ = composite(frame, patches)
        assert tuple(out[12, 12]) == (0, 0, 255)  # larger face painted last, on top
    out, _ = composite(frame, [large, small], order="given")
    assert tuple(out[12, 12]) == (255, 0, 0)
    out, _ = composite(frame, [large, small], order=[1, 0])
    assert tuple(out[12, 12]) == (0, 0, 255)
    assert paint_order([large, small]) == [1, 0]
    with pytest.raises(ValueError):
        composite(frame, [large, small], order=[0, 0])


def test_patches_clipped_at_frame_edges():
    frame = _frame(20, 30)
    patches = [_patch(-3, -2, 6, 8, 255), _patch(26, 17, 10, 10, 0, 0.5),
               _patch(100, 100, 5, 5, 7), _patch(-20, 5, 5, 5, 7)]
    out, changed = composite(frame, patches)
    expect = np.zeros((20, 30), bool)
    expect[0:4, 0:5] = True
    expect[17:20, 26:30] = True
    np.testing.assert_array_equal(changed, expect)
    assert (out[0:4, 0:5] == 255).all()
    half = np.rint(frame[17:, 26:].astype(np.float32) * 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out[17:, 26:], half)
    np.testing.assert_array_equal(out[~expect], frame[~expect])


def test_rejects_bad_frame():
    with pytest.raises(ValueError):
        composite(np.zeros((4, 4, 3), np.float32), [])
