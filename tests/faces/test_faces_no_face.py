"""Acceptance 5: no face, a face too small, black frames: empty lists and a warning, no crash."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from faces.faces_support import paste, read_frames

from vedit.faces import TrackerConfig, track_frames


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("vedit.faces") and r.levelno == logging.WARNING]


def test_gradient_has_no_face(caplog):
    x = np.linspace(0, 255, 640, dtype=np.float32)
    y = np.linspace(0, 255, 360, dtype=np.float32)[:, None]
    frame = np.stack([np.broadcast_to(x, (360, 640)), np.broadcast_to(y, (360, 640)),
                      np.full((360, 640), 90.0)], axis=2).astype(np.uint8)
    with caplog.at_level(logging.WARNING, logger="vedit.faces"):
        out = list(track_frames([frame] * 4))
    assert out == [[], [], [], []]
    assert any("no face found in 4 frame" in m for m in warnings_of(caplog))


def test_black_frames(caplog):
    black = np.zeros((720, 1280, 3), dtype=np.uint8)
    with caplog.at_level(logging.WARNING, logger="vedit.faces"):
        out = list(track_frames([black, black]))
    assert out == [[], []]
    messages = warnings_of(caplog)
    assert any("blank" in m for m in messages)
    assert any("no face found" in m for m in messages)


@pytest.mark.parametrize(("patch", "min_face_px", "expect"), [
    (20, 24, "no face found"),    # far below what the detector sees: nothing found
    (120, 100, "ignored"),        # found (about 58 px) but below the configured minimum
])
def test_face_too_small(caplog, patch, min_face_px, expect):
    face = cv2.resize(read_frames("d0.mp4", 1)[0][0], (patch, patch),
                      interpolation=cv2.INTER_AREA)
    frame = paste(np.full((720, 1280, 3), 160, dtype=np.uint8), face, 600, 300)
    frame[::40] = 90   # texture, so the frame is not blank
    with caplog.at_level(logging.WARNING, logger="vedit.faces"):
        out = list(track_frames([frame] * 3, TrackerConfig(min_face_px=min_face_px)))
    assert out == [[], [], []]
    assert any(expect in m for m in warnings_of(caplog)), warnings_of(caplog)


def test_black_frame_inside_a_shot_keeps_the_id(caplog):
    frames, fps = read_frames("d0.mp4", 12)
    frames[5] = np.zeros_like(frames[5])
    with caplog.at_level(logging.WARNING, logger="vedit.faces"):
        out = list(track_frames(frames, fps=fps))
    assert out[5] == []
    assert all([ob.track_id for ob in f] == [0] for i, f in enumerate(out) if i != 5)
    assert any("frame 5 is blank" in m for m in warnings_of(caplog))


def test_stray_input_is_rejected():
    with pytest.raises(ValueError, match="uint8 RGB"):
        list(track_frames([np.zeros((10, 10), dtype=np.uint8)]))
