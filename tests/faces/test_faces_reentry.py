"""Acceptance 3: a face leaves the frame and comes back; a stranger gets a new id.

The clip is composed here: d0's face (200 px) on a plain grey background pans out to the right,
stays away, and pans back in. It is written with vedit.io's VideoWriter and tracked from the
file, so decode, track, collect, JSON and preview are exercised together.
"""
from __future__ import annotations

import logging
from fractions import Fraction

import cv2
import numpy as np
import pytest
from faces.faces_support import paste, read_frames

from vedit.faces import ShotTracks, TrackerConfig, render_preview, track_frames, track_shot

W, H, SIDE = 640, 360, 200
N = 60
AWAY = range(20, 35)       # frames where the patch is entirely outside the picture


def patch_x(t: int) -> int:
    """Left edge of the face patch on frame t: still, out right, away, back in, still."""
    if t < 10:
        return 220
    if t < 20:
        return 220 + 45 * (t - 9)
    if t < 35:
        return W + 60
    if t < 45:
        return W + 60 - 45 * (t - 34)
    return 250


def compose(returning: str = "d0.mp4") -> list[np.ndarray]:
    """The pan-out / pan-in clip; ``returning`` picks who comes back."""
    leaving, _ = read_frames("d0.mp4", N)
    coming = leaving if returning == "d0.mp4" else read_frames(returning, N)[0]
    canvas = np.full((H, W, 3), 128, dtype=np.uint8)
    frames = []
    for t in range(N):
        src = leaving[t] if t < 35 else coming[t]
        if returning == "s18.mp4" and t >= 35:
            src = src[60:560, 510:1010]
        patch = cv2.resize(src, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        frames.append(paste(canvas, patch, patch_x(t), 80))
    return frames


@pytest.fixture(scope="module")
def reentry_clip(tmp_path_factory) -> str:
    from vedit.io import VideoWriter

    path = tmp_path_factory.mktemp("reentry") / "reentry.mp4"
    with VideoWriter(path, width=W, height=H, fps=Fraction(25), codec="h264") as writer:
        for frame in compose():
            writer.write_rgb(frame)
    return str(path)


def test_face_keeps_its_id_when_it_returns(reentry_clip, tmp_path):
    calls = []
    shot = track_shot(reentry_clip, progress=lambda done, total: calls.append((done, total)))
    assert shot.n_frames == N and (shot.width, shot.height) == (W, H)
    assert calls[-1][0] == N
    assert shot.ids == [0], f"the returning face got a new id: {shot.ids}"
    track = shot.track(0)
    absent = set(track.absent_frames.tolist())
    assert set(AWAY) <= absent, "frames where the face was outside must be reported absent"
    assert absent <= set(range(12, 42)), f"face reported absent while visible: {sorted(absent)}"
    assert track.start == 0 and track.stop == N

    # JSON round trip keeps ids, presence and landmarks (to the file's 0.01 px)
    path = shot.to_json(tmp_path / "tracks.json")
    back = ShotTracks.from_json(path)
    assert back.ids == shot.ids and back.n_frames == N and back.fps == Fraction(25)
    np.testing.assert_array_equal(back.track(0).valid, track.valid)
    v = track.valid
    np.testing.assert_allclose(back.track(0).landmarks[v], track.landmarks[v], atol=0.006)
    np.testing.assert_allclose(back.track(0).frame_to_crop[v], track.frame_to_crop[v])

    out = render_preview(reentry_clip, shot, tmp_path / "overlay.mp4")
    from vedit.io import open_video

    with open_video(out) as reader:
        assert sum(1 for _ in reader) == N


def test_face_back_after_the_gap_limit_is_a_new_track():
    config = TrackerConfig(max_gap=5)
    ids = [[ob.track_id for ob in faces] for faces in track_frames(compose(), config, 25)]
    assert ids[0] == [0] and ids[-1] == [1]


def test_a_stranger_entering_gets_a_new_id(caplog):
    caplog.set_level(logging.DEBUG, logger="vedit.faces")
    ids = [[ob.track_id for ob in faces] for faces in track_frames(compose("s18.mp4"), fps=25)]
    assert ids[0] == [0]
    assert ids[-1] == [1], "a different person must not inherit the lost track's id"


def test_crossing_faces_keep_their_ids():
    """d0 walks right behind s18 walking left; each keeps its id through the occlusion."""
    a, _ = read_frames("d0.mp4", 40)
    b, _ = read_frames("s18.mp4", 40)
    canvas = np.full((400, 960, 3), 128, dtype=np.uint8)
    canvas[::16] = 100
    frames = []
    for t in range(40):
        pa = cv2.resize(a[t], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        pb = cv2.resize(b[t][60:560, 510:1010], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        frames.append(paste(paste(canvas, pa, 80 + 15 * t, 100), pb, 680 - 15 * t, 100))
    out = list(track_frames(frames, fps=25))
    assert {ob.track_id for faces in out for ob in faces} == {0, 1}
    for t, faces in enumerate(out):
        for ob in faces:   # d0 (id 0) centre is 80 + 15 t + 100, s18 (id 1) 680 - 15 t + 100
            x = (ob.box[0] + ob.box[2]) / 2
            expected = 180 + 15 * t if ob.track_id == 0 else 780 - 15 * t
            assert abs(x - expected) < 30, f"frame {t}: id {ob.track_id} on the wrong face"
    assert [ob.track_id for ob in out[-1]] == [0, 1]
    assert sum(len(f) == 2 for f in out) >= 30
