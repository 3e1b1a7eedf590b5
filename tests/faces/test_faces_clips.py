"""Acceptance 1-2: real clips, real MediaPipe: the right number of tracks, stable identities."""
from __future__ import annotations

import numpy as np
import pytest

from vedit.faces.types import N_LANDMARKS


def test_two_faces_keep_their_ids(tracked_clip):
    result = tracked_clip("two_faces.mp4")
    n = len(result.faces)
    assert n == 100
    tracks = result.by_id()
    assert sorted(tracks) == [0, 1], f"expected exactly two tracks, got {sorted(tracks)}"
    mid = result.width / 2
    for tid, frames in tracks.items():
        assert len(frames) >= 0.98 * n, f"track {tid} has landmarks in {len(frames)}/{n} frames"
        xs = np.array([(ob.box[0] + ob.box[2]) / 2 for ob in frames.values()])
        side = np.sign(xs - mid)
        assert np.all(side == side[0]), f"track {tid} crossed sides: ids swapped"
    # ids in order of first appearance, ties left to right: both appear on frame 0
    left = [ob for ob in result.faces[0] if (ob.box[0] + ob.box[2]) / 2 < mid]
    assert left and left[0].track_id == 0
    # every frame reports each face at most once, sorted by id
    for faces in result.faces:
        ids = [ob.track_id for ob in faces]
        assert ids == sorted(set(ids))


@pytest.mark.parametrize(("name", "limit"), [
    ("s13.mp4", None), ("s18.mp4", 100), ("d0.mp4", None), ("d3.mp4", 90), ("d11.mp4", 90),
])
def test_single_face_clips_one_track(tracked_clip, name, limit):
    result = tracked_clip(name, limit)
    n = len(result.faces)
    tracks = result.by_id()
    assert len(tracks) == 1, f"{name}: expected one track, got ids {sorted(tracks)}"
    (tid, frames), = tracks.items()
    assert tid == 0
    assert len(frames) >= 0.98 * n, f"{name}: face in {len(frames)}/{n} frames"
    for ob in frames.values():
        assert ob.landmarks.shape == (N_LANDMARKS, 3) and ob.landmarks.dtype == np.float32
        assert np.isfinite(ob.landmarks).all()
        assert ob.crop.frame_to_crop.shape == (2, 3) and ob.crop.size == 512
        assert 0.0 <= ob.confidence <= 1.0


def test_small_dancer_face_is_found(tracked_clip):
    result = tracked_clip("s13.mp4", None)
    assert result.faces[0], "s13: the small face is not found on the first frame"
    ob = result.faces[0][0]
    w = ob.box[2] - ob.box[0]
    assert w < 0.15 * result.width, "s13 face should be small in the frame"
    # landmarks sit on the face: irises between the eye corners
    iris_l, iris_r = ob.landmarks[468, :2], ob.landmarks[473, :2]
    assert ob.box[0] < iris_l[0] < ob.box[2] and ob.box[0] < iris_r[0] < ob.box[2]


def test_detection_runs_on_a_minority_of_frames(tracked_clip):
    stats = tracked_clip("s18.mp4", 100).stats
    assert stats.detect_frames <= 0.2 * stats.frames
    assert stats.mesh_calls <= 1.1 * stats.frames


def test_landmarks_and_crop_are_consistent(tracked_clip):
    """z is in pixels (like x); the crop maps the face centre near the crop centre."""
    result = tracked_clip("d0.mp4", None)
    ob = result.faces[10][0]
    width = ob.box[2] - ob.box[0]
    z_span = float(np.ptp(ob.landmarks[:, 2]))
    assert 0.2 * width < z_span < 1.5 * width, "z should be in pixels, scaled like x"
    f2c, c2f = ob.crop.frame_to_crop, ob.crop.crop_to_frame
    round_trip = np.vstack([c2f, [0, 0, 1]]) @ np.vstack([f2c, [0, 0, 1]])
    np.testing.assert_allclose(round_trip, np.eye(3), atol=1e-9)
    nose = np.append(ob.landmarks[1, :2], 1.0)
    u, v = f2c @ nose
    assert 0.35 * 512 < u < 0.65 * 512 and 0.4 * 512 < v < 0.75 * 512


def test_mesh_pool_meshes_a_frames_windows_at_once_with_the_same_result():
    """The two faces of a group shot, meshed by two graphs in two threads, are exactly what one
    graph gives window by window, in the windows' order."""
    import threading

    from faces.faces_support import read_frames

    from vedit.faces._mediapipe import Detector, Mesh, MeshPool
    from vedit.faces.geometry import box_centre, box_side

    frames, _ = read_frames("two_faces.mp4", 3)
    detector = Detector(0.5, 0.3)
    try:
        boxes = [d.box for d in detector(frames[0])]
    finally:
        detector.close()
    assert len(boxes) == 2
    windows = [(box_centre(b), 1.8 * box_side(b)) for b in boxes]
    single, pool = Mesh(0.5, 256), MeshPool(0.5, 256, workers=2)
    threads = set()
    original = Mesh.__call__

    def spy(self, *args):
        threads.add(threading.current_thread().name)
        return original(self, *args)

    try:
        Mesh.__call__ = spy
        for rgb in frames:
            expected = [single(rgb, c, s) for c, s in windows]
            threads.clear()
            got = pool(rgb, windows)
            assert len(got) == 2 and all(len(g) >= 1 for g in got)
            for e, g in zip(expected, got, strict=True):
                assert len(e) == len(g)
                for a, b in zip(e, g, strict=True):
                    np.testing.assert_array_equal(a, b)
            assert len(threads) == 2 and all(t.startswith("vedit-mesh") for t in threads)
        # a single window stays in the caller's thread
        threads.clear()
        pool(frames[0], windows[:1])
        assert threads == {threading.current_thread().name}
    finally:
        Mesh.__call__ = original
        single.close()
        pool.close()
