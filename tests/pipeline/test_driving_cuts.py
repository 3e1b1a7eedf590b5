"""A driving spliced from two takes (LP #282): the cut is found, the takes are joined, no jump.

The spliced driving is real footage: the first 40 frames of d0.mp4, then the rest of d0 seen by
another camera (zoomed 1.4x, shifted, rolled 10 degrees), written with vedit's own encoder.
"""
from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np
import pytest

from vedit.io import VideoWriter, open_video
from vedit.motion import CutDetector, MotionTrack
from vedit.motion.cuts import MIN_PICTURE_CHANGE
from vedit.motion.rotation import rotation_angle
from vedit.pipeline import driving
from vedit.pipeline.driving import analyse_driving, driving_key

CUT = 40
REAL_CLIPS = ("d0", "d3", "d11", "s13", "s18", "two_faces")


def _frames(path, limit: int | None = None) -> list[np.ndarray]:
    with open_video(path) as reader:
        return [frame.rgb() for frame in reader if limit is None or frame.index < limit]


def _other_camera(rgb: np.ndarray, zoom: float = 1.4, shift=(0.12, -0.08),
                  roll_deg: float = 10.0) -> np.ndarray:
    """The same picture seen by another camera: zoomed, shifted and rolled (nearest pixel)."""
    h, w, _ = rgb.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = (xx - w / 2) / zoom, (yy - h / 2) / zoom
    a = np.radians(roll_deg)
    x = np.cos(a) * u - np.sin(a) * v + w / 2 + shift[0] * w
    y = np.sin(a) * u + np.cos(a) * v + h / 2 + shift[1] * h
    xi = np.clip(np.rint(x), 0, w - 1).astype(int)
    yi = np.clip(np.rint(y), 0, h - 1).astype(int)
    return rgb[yi, xi]


def _write(path, frames: list[np.ndarray], fps=Fraction(25)):
    h, w, _ = frames[0].shape
    with VideoWriter(path, width=w, height=h, fps=fps) as writer:
        for rgb in frames:
            writer.write_rgb(np.ascontiguousarray(rgb))
    return path


@pytest.fixture(scope="module")
def spliced(media, tmp_path_factory):
    """d0's first CUT frames, then the rest of d0 through another camera."""
    frames = _frames(media / "d0.mp4")
    take_two = [_other_camera(rgb) for rgb in frames[CUT:]]
    return _write(tmp_path_factory.mktemp("cuts") / "two_takes.mp4", frames[:CUT] + take_two)


@pytest.fixture(scope="module")
def analyses(spliced, engine):
    return {mode: analyse_driving(spliced, engine, cuts=mode) for mode in ("join", "off")}


def _steps(track: MotionTrack) -> dict[str, np.ndarray]:
    """Step i: frame i to i+1. Rotation angle (deg), x-y translation, |log scale ratio|."""
    relative = track.rotation[1:] @ np.swapaxes(track.rotation[:-1], 1, 2)
    return {"rotation": np.degrees(rotation_angle(relative)),
            "translation": np.linalg.norm(np.diff(track.translation[:, :2], axis=0), axis=1),
            "scale": np.abs(np.diff(np.log(track.scale)))}


def _typical(steps: np.ndarray) -> float:
    """The clip's typical large frame-to-frame motion: the 90th percentile away from the cut."""
    away = np.r_[0:CUT - 2, CUT + 6:len(steps)]
    return float(np.percentile(steps[away], 90))


def test_the_cut_is_found_at_its_frame_and_nowhere_else(analyses, caplog, spliced, engine):
    assert analyses["join"].cuts.tolist() == [CUT]
    assert analyses["off"].cuts.tolist() == []
    with caplog.at_level(logging.INFO, logger="vedit.pipeline"):
        analyse_driving(spliced, engine, frame_limit=CUT + 5)
    assert "1 cut between driving takes, at frame 40; the takes are joined" in caplog.text


def test_joined_driving_does_not_jump_at_the_cut(analyses):
    joined, off = _steps(analyses["join"].smoothed.raw), _steps(analyses["off"].smoothed.raw)
    for name in joined:
        typical = _typical(off[name])
        assert off[name][CUT - 1] > 4 * typical, (name, off[name][CUT - 1], typical)
        assert joined[name][CUT - 1] <= 1e-9, name
        # No glide either: the tracker restarted at the cut, so the frames after it move
        # no more than the clip usually does.
        assert joined[name][CUT:CUT + 5].max() <= 2 * typical, (name, joined[name][CUT:CUT + 5],
                                                                typical)


def test_the_takes_keep_their_own_motion(analyses):
    joined, off = analyses["join"].smoothed, analyses["off"].smoothed
    before = slice(0, CUT)
    for name in ("rotation", "translation", "scale", "expression"):
        assert np.array_equal(getattr(joined.raw, name)[before], getattr(off.raw, name)[before])
    assert analyses["join"].reference_index == 0


def test_the_real_clips_have_no_cut(media):
    scores = {}
    for name in REAL_CLIPS:
        detector = CutDetector()
        found = [i for i, rgb in enumerate(_frames(media / f"{name}.mp4")) if detector.add(rgb)]
        assert found == [], name
        scores[name] = max(detector.changes)
    # A margin, not a near miss: the fastest real change (s13's dancer, 12.5) stays well
    # below the smallest change that can be a cut.
    assert max(scores.values()) < 0.8 * MIN_PICTURE_CHANGE, scores


def test_a_cut_to_another_performance_is_found(media, tmp_path):
    frames = _frames(media / "d0.mp4", CUT) + _frames(media / "d11.mp4", 30)
    detector = CutDetector()
    found = [i for i, rgb in enumerate(frames) if detector.add(rgb)]
    assert found == [CUT]


def test_cached_analysis_keeps_the_cuts(analyses, spliced, engine, tmp_path, monkeypatch):
    first = analyse_driving(spliced, engine, cache_dir=tmp_path)
    assert first.cuts.tolist() == [CUT]
    with np.load(next(tmp_path.glob("*.npz")), allow_pickle=False) as data:
        assert data["cuts"].tolist() == [CUT]

    def refuse(*args, **kwargs):
        raise AssertionError("the driving was analysed again instead of loaded")

    monkeypatch.setattr(driving, "create_tracker", refuse)
    again = analyse_driving(spliced, engine, cache_dir=tmp_path)
    assert again.cuts.dtype == first.cuts.dtype and again.cuts.tolist() == [CUT]
    for name in ("rotation", "translation", "scale", "expression"):
        assert np.array_equal(getattr(again.track, name), getattr(first.track, name))
    assert driving_key(spliced, engine) != driving_key(spliced, engine, cuts="off")
    with pytest.raises(ValueError, match="cuts"):
        analyse_driving(spliced, engine, cuts="maybe")


def _head_steps(path) -> np.ndarray:
    """Per output frame step, the main face's box centre movement over its size."""
    from vedit.faces import main_face
    from vedit.faces.api import track_shot

    shot = track_shot(path)
    track = shot.track(main_face(shot))
    assert track.valid.all() and track.start == 0
    box = track.boxes.astype(np.float64)
    centre = (box[:, :2] + box[:, 2:]) / 2
    side = np.sqrt((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))
    return np.linalg.norm(np.diff(centre, axis=0), axis=1) / side[1:]


def test_the_edited_head_does_not_jump_at_the_cut(media, spliced, tmp_path):
    """End to end on s18 (30 fps): the cut (1.6 s) lands on source frame 48."""
    import vedit.pipeline.edit as edit_module
    from vedit.pipeline.config import EditConfig

    start, stop = 36, 60
    at_cut = CUT * 30 // 25 - start - 1  # the step into the cut's source frame
    steps = {}
    for mode in ("join", "off"):
        out = tmp_path / f"{mode}.mp4"
        edit_module.edit(EditConfig(source=media / "s18.mp4", driving=spliced, output=out,
                                    frames=(start, stop), audio=False, driving_cuts=mode))
        steps[mode] = _head_steps(out)
    joined, off = steps["join"], steps["off"]
    around = slice(at_cut, at_cut + 3)  # the cut and the frames the old crop glided over
    elsewhere = np.delete(joined, np.r_[around])
    assert off[around].max() > 3 * joined[around].max(), (off, joined)
    assert joined[around].max() <= 1.5 * elsewhere.max(), joined
