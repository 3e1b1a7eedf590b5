"""The on-disk driving cache: a second analysis loads exactly what the first one computed.

One real analysis of d11.mp4 with the embedded engine (tracking + motion of every frame) is
shared by the module's tests; everything after it must come from the cache, so the tracker is
made to fail whenever a test says no analysis may run.
"""
from __future__ import annotations

import dataclasses
import logging
import shutil

import numpy as np
import pytest

from vedit.pipeline import driving
from vedit.pipeline.driving import analyse_driving, driving_key


@pytest.fixture(scope="module")
def analysed(media, engine, tmp_path_factory):
    """(driving path, cache folder, the first, computed, performance)."""
    folder = tmp_path_factory.mktemp("drivings")
    path = media / "d11.mp4"
    perf = analyse_driving(path, engine, lip_mask=engine.expression_mask("lip"),
                           cache_dir=folder)
    return path, folder, perf


@pytest.fixture
def no_tracking(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the driving was analysed again instead of loaded")

    monkeypatch.setattr(driving, "create_tracker", refuse)


def _arrays(perf) -> dict[str, np.ndarray]:
    out = {"held": perf.held, "smoothed.held": perf.smoothed.held}
    for name in ("track", "raw"):
        for f in dataclasses.fields(getattr(perf.smoothed, name)):
            out[f"{name}.{f.name}"] = getattr(getattr(perf.smoothed, name), f.name)
    for f in dataclasses.fields(perf.reference):
        out[f"reference.{f.name}"] = np.asarray(getattr(perf.reference, f.name))
    return out


def _assert_identical(a, b) -> None:
    assert (a.path, a.fps, a.count, a.reference_index) == (b.path, b.fps, b.count,
                                                           b.reference_index)
    assert type(a.reference.scale) is type(b.reference.scale)
    xa, xb = _arrays(a), _arrays(b)
    assert xa.keys() == xb.keys()
    for name in xa:
        assert xa[name].dtype == xb[name].dtype and xa[name].shape == xb[name].shape, name
        assert xa[name].tobytes() == xb[name].tobytes(), f"{name} differs"


def _entries(folder):
    return sorted(folder.glob("*.npz"))


def test_second_analysis_loads_the_first_bit_for_bit(analysed, engine, no_tracking):
    path, folder, first = analysed
    assert len(_entries(folder)) == 1 and not list(folder.glob(".*"))
    with np.load(_entries(folder)[0], allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)

    again = analyse_driving(path, engine, lip_mask=engine.expression_mask("lip"),
                            cache_dir=folder)

    _assert_identical(first, again)
    assert first.count > 100


def test_options_that_change_the_motion_change_the_key(analysed, engine, no_tracking):
    path, folder, _ = analysed
    lip = engine.expression_mask("lip")
    base = driving_key(path, engine, lip_mask=lip)
    changed = {
        "smoothing": driving_key(path, engine, smoothing="one_euro", lip_mask=lip),
        "reference": driving_key(path, engine, reference="neutral", lip_mask=lip),
        "lip mask": driving_key(path, engine, lip_mask=~lip),
        "tracker": driving_key(path, engine, lip_mask=lip, tracker_options={"detect_every": 5}),
    }
    assert all(key != base for key in changed.values()), changed
    assert len(set(changed.values())) == len(changed)
    with pytest.raises(AssertionError, match="analysed again"):  # a miss: it would analyse
        analyse_driving(path, engine, smoothing="one_euro", lip_mask=lip, cache_dir=folder)


def test_a_copied_driving_is_a_different_file(analysed, engine, tmp_path):
    path, _, _ = analysed
    copy = tmp_path / "d11.mp4"
    shutil.copyfile(path, copy)
    assert driving_key(copy, engine) != driving_key(path, engine)  # mtime differs
    copy.write_bytes(copy.read_bytes()[:-1] + b"\0")
    assert driving_key(copy, engine) != driving_key(path, engine)


def test_a_corrupt_entry_is_recomputed(analysed, engine, tmp_path, caplog):
    path, folder, first = analysed
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    entry = _entries(broken)[0]
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])

    with caplog.at_level(logging.WARNING, logger="vedit.pipeline"):
        again = analyse_driving(path, engine, lip_mask=engine.expression_mask("lip"),
                                cache_dir=broken)

    assert any("unreadable driving cache entry" in r.getMessage() for r in caplog.records)
    _assert_identical(first, again)
    with np.load(entry, allow_pickle=False) as data:  # rewritten whole
        assert "meta" in data.files


# -- tracking a driving ----------------------------------------------------------------------
def test_a_driving_is_detected_only_where_no_face_is_followed(media, engine, monkeypatch):
    """A driving is one performer: no routine full-frame detections, only the one that finds
    the face at the start; the motion is exactly what detections every 10 frames give."""
    from vedit.faces import _mediapipe

    calls = []
    original = _mediapipe.Detector.__call__

    def counting(self, rgb):
        calls.append(rgb.shape)
        return original(self, rgb)

    monkeypatch.setattr(_mediapipe.Detector, "__call__", counting)
    path = media / "d0.mp4"
    lean = analyse_driving(path, engine, frame_limit=30)
    lean_calls = len(calls)
    calls.clear()
    routine = analyse_driving(path, engine, frame_limit=30, tracker_options={"detect_every": 10})
    assert (lean_calls, len(calls)) == (1, 3)
    _assert_identical(lean, routine)


# -- analysing only the start of a driving ----------------------------------------------------
@pytest.mark.parametrize("smoothing", ["paper", "one_euro"])
def test_frame_limit_gives_the_full_analysis_on_the_frames_a_shot_can_use(
        media, engine, analysed, smoothing):
    """A shot shorter than its driving uses only the driving's start; analysing just that much
    must not change any frame it uses (the paper's smoothing looks one frame ahead)."""
    path, _, full_paper = analysed
    lip = engine.expression_mask("lip")
    full = full_paper if smoothing == "paper" else analyse_driving(
        path, engine, smoothing=smoothing, lip_mask=lip)
    part = analyse_driving(path, engine, smoothing=smoothing, lip_mask=lip, frame_limit=60)
    assert (part.count, part.complete, full.complete) == (60, False, True)
    assert full.count > 200
    usable = part.count - 1  # the last analysed frame lacks its look-ahead
    for name in ("expression", "rotation", "scale", "translation"):
        np.testing.assert_array_equal(getattr(part.track, name)[:usable],
                                      getattr(full.track, name)[:usable])
    assert part.reference_index == full.reference_index == 0
    np.testing.assert_array_equal(part.reference.expression, full.reference.expression)


def test_frame_limit_refuses_the_kalman_smoother(media, engine):
    with pytest.raises(ValueError, match="causal"):
        analyse_driving(media / "d11.mp4", engine, smoothing="kalman", frame_limit=10)


def test_edit_analyses_the_whole_driving_when_the_shot_needs_more(media, engine, monkeypatch):
    """The up-front limit comes from probed durations; when the shot's real timeline reaches
    past it, the driving is analysed in full before any frame is rendered."""
    from vedit.motion import map_driving
    from vedit.pipeline.config import EditConfig
    from vedit.pipeline.edit import _DrivingAnalysis

    config = EditConfig(source=media / "two_faces.mp4", output=media / "unused.mkv",
                        driving=media / "d11.mp4")
    analysis = _DrivingAnalysis(config, engine, "paper", engine.expression_mask("lip"),
                                None, {})
    limit = analysis._frame_limit(config.driving)
    assert 100 <= limit <= 115, "two_faces lasts 4.04 s, d11 runs at ~25 fps"
    short = analysis._analyse(config.driving, 30)
    performances = {config.driving: short}
    fits = {config.driving: map_driving(20, short.fps, short.count, short.fps)}
    assert analysis.complete(performances, fits) == []
    too_long = {config.driving: map_driving(40, short.fps, short.count, short.fps)}
    assert analysis.complete(performances, too_long) == [config.driving]
    assert performances[config.driving].complete
    assert performances[config.driving].count > 200
