"""Acceptance 4: the smoothed crop is steady on a talking head and keeps up with a fast pan.

Jitter is measured two ways, both in units of the crop side: the mean frame-to-frame move of
the crop centre (must stay below 0.5 %), and the mean second difference (frame-to-frame change
of that move: shimmer, with steady motion removed), which the smoothing must at least halve
compared with the raw per-frame window computed from the same landmarks.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from faces.faces_support import read_frames

from vedit.faces import CropConfig, TrackerConfig, crop_window, track_frames


def centres_and_sides(faces, config: CropConfig):
    """(T, 2) smoothed centres, (T, 2) raw centres, (T,) raw sides of the only face."""
    smooth, raw, sides = [], [], []
    for frame in faces:
        assert len(frame) == 1
        ob = frame[0]
        c2f = ob.crop.crop_to_frame
        smooth.append(c2f @ np.array([ob.crop.size / 2, ob.crop.size / 2, 1.0]))
        w = crop_window(ob.landmarks, config)
        raw.append(w.centre)
        sides.append(w.side)
    return np.array(smooth), np.array(raw), np.array(sides)


def jitter(centres: np.ndarray, sides: np.ndarray) -> tuple[float, float]:
    step = np.linalg.norm(np.diff(centres, axis=0), axis=1) / sides[1:]
    accel = np.linalg.norm(np.diff(centres, n=2, axis=0), axis=1) / sides[2:]
    return float(step.mean()), float(accel.mean())


def test_crop_is_steady_on_a_close_up(tracked_clip):
    faces = tracked_clip("s18.mp4", 100).faces
    smooth, raw, sides = centres_and_sides(faces, TrackerConfig().crop)
    s_step, s_accel = jitter(smooth, sides)
    r_step, r_accel = jitter(raw, sides)
    print(f"s18 crop jitter: smoothed step {100 * s_step:.3f} % accel {100 * s_accel:.3f} %, "
          f"raw step {100 * r_step:.3f} % accel {100 * r_accel:.3f} %")
    assert s_step < 0.005, f"smoothed crop moves {100 * s_step:.2f} % of its side per frame"
    assert s_step < r_step
    assert s_accel < 0.5 * r_accel, "smoothing should at least halve the shimmer"


@pytest.fixture(scope="module")
def pan():
    """s18 frames shifted left: still 10 frames, 24 px/frame for 20 frames, still 12 frames."""
    frames, fps = read_frames("s18.mp4", 42)
    shifts = [0.0] * 10 + [24.0 * (k + 1) for k in range(20)] + [480.0] * 12
    moved = []
    for frame, dx in zip(frames, shifts, strict=True):
        m = np.float32([[1, 0, -dx], [0, 1, 0]])
        h, w = frame.shape[:2]
        moved.append(cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return moved, fps, np.array(shifts)


def test_fast_pan_is_followed_within_two_frames(pan):
    frames, fps, _ = pan
    config = TrackerConfig()
    faces = list(track_frames(frames, config, fps))
    smooth, raw, sides = centres_and_sides(faces, config.crop)
    speed = 24.0
    lag = (smooth[:, 0] - raw[:, 0]) / speed      # pan goes left: the smoothed x trails behind
    during = lag[10:30]
    print(f"pan lag (frames): max {during.max():.2f}, mean {during.mean():.2f}")
    assert during.max() <= 2.0, f"crop lags {during.max():.2f} frames behind the pan"
    # settles once the pan stops: within 1 % of the side after 4 frames
    settled = np.abs(smooth[34:, 0] - raw[34:, 0]) / sides[34:]
    assert settled.max() < 0.01
