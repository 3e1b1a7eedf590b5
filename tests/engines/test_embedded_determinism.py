"""The embedded engine renders each frame from that frame and the shot alone (chunked renders).

A real clip whose actor opens the mouth wide (d0.mp4, used here as a source) is tracked once; the
engine learns the shot in `prepare_shot`, then renders frames in different orders, from fresh
engines, and with driving-analysis calls to `motion()` in between: the patches must be identical
bit for bit. Skips when the shared clips are absent.
"""
from __future__ import annotations

import numpy as np
import pytest

from vedit.engines.embedded import EmbeddedEngine
from vedit.engines.embedded.shape import mouth_gap, to_frame_xy, to_normalised
from vedit.engines.embedded.topology import INNER_LOWER, OUTER_LOWER

FRAMES = (3, 30, 45, 70)


@pytest.fixture(scope="module")
def shot(media):
    faces_api = pytest.importorskip("vedit.faces.api")
    from vedit.io import open_video

    path = media / "d0.mp4"
    tracks = faces_api.track_shot(path)
    if not tracks.ids:
        pytest.skip("vedit.faces found no face in d0.mp4")
    with open_video(path) as reader:
        frames = [f.rgb() for f in reader]
    return tracks, frames


def _prepared(tracks, frames) -> EmbeddedEngine:
    eng = EmbeddedEngine()
    fetched = []

    def frame_at(i: int) -> np.ndarray:
        fetched.append(i)
        return frames[i]

    eng.prepare_shot(tracks, frame_at)
    assert fetched == sorted(set(fetched)), "prepare_shot should fetch frames in order"
    return eng


def _target(motion, face) -> np.ndarray:
    """The source with its jaw dropped by 0.12 face heights: the mouth must be painted."""
    px = to_frame_xy(motion.keypoints(), face.crop)
    drop = np.zeros_like(px)
    lower = [*INNER_LOWER[1:-1], *OUTER_LOWER[1:-1], 152, 148, 176, 377, 400, 17, 18, 200, 199]
    drop[lower, 1] = 0.12 * np.linalg.norm(px[10] - px[152])
    target = to_normalised(np.concatenate([px + drop, face.landmarks[:, 2:3]], 1), face.crop)
    target[:, 2] = motion.keypoints()[:, 2]
    return target


def _render(eng: EmbeddedEngine, tracks, frames, i: int):
    face = tracks.frame(i)[0]
    (m,) = eng.motion([frames[i]], [face])
    (patch,) = eng.render([frames[i]], [face], [m], [_target(m, face)])
    return patch


def _same(a, b) -> bool:
    return (a.x0, a.y0) == (b.x0, b.y0) and np.array_equal(a.rgb, b.rgb) and np.array_equal(
        a.alpha, b.alpha)


def test_learns_exemplars_from_the_whole_shot(shot):
    tracks, frames = shot
    eng = _prepared(tracks, frames)
    (tid,) = tracks.ids
    known = eng._known[tid][1]
    assert known.lip_rgb is not None and known.skin_rgb is not None
    assert known.exemplars, "d0's actor opens the mouth wide: the shot has exemplars"
    track = tracks.tracks[0]
    widest = max(mouth_gap(track.landmarks[i - track.start].astype(np.float64))
                 for i in track.present_frames)
    assert known.exemplars[0].gap == pytest.approx(widest, rel=1e-6)


def test_frames_render_the_same_in_any_order_and_from_fresh_engines(shot):
    tracks, frames = shot
    forward = _prepared(tracks, frames)
    first = {i: _render(forward, tracks, frames, i) for i in FRAMES}
    assert all(p.alpha.max() > 0 for p in first.values())

    backward = _prepared(tracks, frames)
    for i in reversed(FRAMES):
        # a driving analysis in between, on other frames: it must leave no trace
        backward.motion([frames[i + 1]], [tracks.frame(i + 1)[0]])
        assert _same(_render(backward, tracks, frames, i), first[i]), i

    for i in FRAMES:                               # each frame alone, as a chunk of one
        assert _same(_render(_prepared(tracks, frames), tracks, frames, i), first[i]), i
        assert _same(_render(forward, tracks, frames, i), first[i]), i


def test_render_without_prepare_shot_is_still_a_function_of_the_frame(shot):
    tracks, frames = shot
    eng = EmbeddedEngine()
    a = _render(eng, tracks, frames, 45)
    _render(eng, tracks, frames, 30)
    assert _same(_render(eng, tracks, frames, 45), a)
    assert _same(_render(EmbeddedEngine(), tracks, frames, 45), a)
