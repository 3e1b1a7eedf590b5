"""Pure parts of the face layer: crop convention, smoothing, boxes, whole-shot arrays, JSON."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vedit.errors import ConfigError, InputError, OutputError
from vedit.faces import (
    CropConfig,
    CropTransform,
    FaceObservation,
    ShotTracks,
    TrackerConfig,
    crop_window,
    main_face,
)
from vedit.faces.crop import CropSmoother, OneEuroFilter, invert_affine, roll_angle
from vedit.faces.geometry import box_iou, nms

VEDIT = Path(__file__).resolve().parents[2] / "vedit"


@pytest.fixture(scope="module")
def landmarks(tracked_clip) -> np.ndarray:
    """Real (478, 3) landmarks of d0's upright face."""
    return tracked_clip("d0.mp4", None).faces[0][0].landmarks.astype(np.float64)


def rotate(points: np.ndarray, angle: float, about: np.ndarray) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    out = points.copy()
    out[:, :2] = (points[:, :2] - about) @ np.array([[c, s], [-s, c]]) + about
    return out


def test_roll_follows_the_eye_line(landmarks):
    base = roll_angle(landmarks)
    assert abs(base) < 0.15
    centre = landmarks[:, :2].mean(axis=0)
    for angle in (-0.6, 0.3, 1.0):   # positive = clockwise in the image (y down)
        assert roll_angle(rotate(landmarks, angle, centre)) == pytest.approx(base + angle, abs=1e-6)


def test_window_turns_and_moves_with_the_face(landmarks):
    config = CropConfig()
    w0 = crop_window(landmarks, config)
    centre = landmarks[:, :2].mean(axis=0)
    w1 = crop_window(rotate(landmarks, 0.5, centre), config)
    assert w1.side == pytest.approx(w0.side, rel=1e-6)
    assert w1.angle == pytest.approx(w0.angle + 0.5, abs=1e-6)
    expected = rotate(w0.centre[None], 0.5, centre)[0]
    np.testing.assert_allclose(w1.centre, expected, atol=1e-6)
    shifted = landmarks + np.array([30.0, -12.0, 0.0])
    moved = crop_window(shifted, config).centre
    np.testing.assert_allclose(moved, w0.centre + np.array([30.0, -12.0]))


def test_shift_is_upward_and_relative_to_the_crop_side(landmarks):
    up = crop_window(landmarks, CropConfig(vy=-0.125, rotate=False))
    level = crop_window(landmarks, CropConfig(vy=0.0, rotate=False))
    assert up.centre[1] == pytest.approx(level.centre[1] - 0.125 * up.side)
    assert up.centre[0] == pytest.approx(level.centre[0])


def test_extent_conventions(landmarks):
    chin = crop_window(landmarks, CropConfig(rotate=False))
    mesh = crop_window(landmarks, CropConfig(rotate=False, extent="mesh"))
    assert mesh.side > chin.side   # the forehead makes the full mesh taller
    box = landmarks[:, :2].max(axis=0) - landmarks[:, :2].min(axis=0)
    assert mesh.side == pytest.approx(2.3 * box.max())


def test_transform_levels_the_eyes_and_centres_the_window(landmarks):
    centre = landmarks[:, :2].mean(axis=0)
    tilted = rotate(landmarks, 0.4, centre)
    w = crop_window(tilted, CropConfig())
    t = w.transform(512)
    assert isinstance(t, CropTransform) and t.size == 512
    np.testing.assert_allclose(t.frame_to_crop @ np.append(w.centre, 1), [256, 256], atol=1e-9)
    eyes = np.array([tilted[[33, 133], :2].mean(0), tilted[[362, 263], :2].mean(0)])
    in_crop = np.c_[eyes, np.ones(2)] @ t.frame_to_crop.T
    assert in_crop[0, 1] == pytest.approx(in_crop[1, 1], abs=1e-6)
    assert in_crop[0, 0] < in_crop[1, 0]
    np.testing.assert_allclose(t.crop_to_frame, invert_affine(t.frame_to_crop))
    # the crop side maps to the window side
    corners = np.array([[0, 0, 1], [512, 0, 1.0]]) @ t.crop_to_frame.T
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(w.side)


def test_one_euro_is_still_on_still_input_and_follows_steps():
    f = OneEuroFilter(30, 0.4, 10, 2)
    for _ in range(5):
        np.testing.assert_allclose(f(np.array([3.0, 4.0])), [3, 4])
    for _ in range(30):
        out = f(np.array([13.0, 4.0]), speed_scale=10)
    assert out[0] == pytest.approx(13, abs=0.05)
    f.reset()
    np.testing.assert_allclose(f(np.array([-1.0, 0.0])), [-1, 0])


def test_smoothing_can_be_switched_off(landmarks):
    config = CropConfig(smooth=False)
    smoother = CropSmoother(config, 25)
    raw = crop_window(landmarks, config)
    assert smoother(raw) is raw


def test_config_validation():
    with pytest.raises(ConfigError):
        CropConfig(extent="ears")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        CropConfig(scale=0)
    with pytest.raises(ConfigError):
        TrackerConfig(detect_every=0)
    with pytest.raises(ConfigError):
        TrackerConfig(max_gap=-1)


def test_boxes():
    a = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], dtype=np.float32)
    iou = box_iou(a, a)
    assert iou[0, 0] == pytest.approx(1) and iou[0, 1] == pytest.approx(25 / 175)
    keep = nms(np.vstack([a, [[1, 1, 10, 10]]]), np.array([0.5, 0.9, 0.8]), 0.3)
    assert keep.tolist() == [1, 2]


def observation(track_id: int, x: float, side: float) -> FaceObservation:
    lm = np.zeros((478, 3), dtype=np.float32)
    lm[:, 0] = np.linspace(x, x + side, 478)
    lm[:, 1] = np.linspace(50, 50 + side, 478)
    f2c = np.array([[2.0, 0, -x], [0, 2.0, -50]])
    return FaceObservation(track_id, np.array([x, 50, x + side, 50 + side], dtype=np.float32),
                           lm, CropTransform(512, f2c, invert_affine(f2c)), 0.9, True)


def toy_shot() -> ShotTracks:
    stream = [[observation(0, 10, 40)], [observation(0, 12, 40), observation(1, 200, 90)],
              [observation(1, 205, 90)], [observation(0, 14, 40)], []]
    return ShotTracks.from_observations(stream, 320, 240, Fraction(25))


def test_shot_arrays_and_slicing():
    shot = toy_shot()
    assert shot.ids == [0, 1] and shot.n_frames == 5
    t0 = shot.track(0)
    assert (t0.start, t0.stop) == (0, 4)
    assert t0.valid.tolist() == [True, True, False, True]
    assert t0.absent_frames.tolist() == [2] and t0.present_frames.tolist() == [0, 1, 3]
    assert t0.landmarks.shape == (4, 478, 3) and np.isnan(t0.landmarks[2]).all()
    assert t0.observation(2) is None and t0.observation(3).box[0] == 14
    part = t0.slice(1, 3)
    assert (part.start, part.stop) == (1, 3) and part.valid.tolist() == [True, False]
    assert [ob.track_id for ob in shot.frame(1)] == [0, 1]
    assert main_face(shot) == 1    # bigger, even if seen on fewer frames
    empty = ShotTracks.from_observations([[], []], 320, 240)
    assert main_face(empty) is None and empty.tracks == ()


def test_json_round_trip(tmp_path):
    shot = toy_shot()
    path = shot.to_json(tmp_path / "t.json")
    doc = json.loads(path.read_text())
    face = doc["frames"][1]["faces"][1]
    assert face["id"] == 1 and len(face["landmarks"]) == 478 and len(face["box"]) == 4
    assert np.array(face["crop"]["frame_to_crop"]).shape == (2, 3) and "confidence" in face
    back = ShotTracks.from_json(path)
    assert back.ids == shot.ids and back.n_frames == 5 and back.fps == Fraction(25)
    for a, b in zip(back.tracks, shot.tracks, strict=True):
        np.testing.assert_array_equal(a.valid, b.valid)
        np.testing.assert_allclose(a.landmarks[a.valid], b.landmarks[b.valid], atol=0.006)
        np.testing.assert_allclose(a.crop_to_frame[a.valid], b.crop_to_frame[b.valid])
    assert not list(tmp_path.glob(".*partial*"))


def test_json_errors(tmp_path):
    with pytest.raises(InputError, match=r"missing\.json"):
        ShotTracks.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        ShotTracks.from_json(bad)
    bad.write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a vedit face-tracks file"):
        ShotTracks.from_json(bad)
    with pytest.raises(OutputError):
        toy_shot().to_json(tmp_path / "no" / "such" / "dir.json")


def test_import_walls():
    """Only vedit/faces imports mediapipe; vedit/faces never imports av itself."""
    pattern = re.compile(r"^\s*(?:import|from)\s+(mediapipe|av)\b", re.MULTILINE)
    for path in VEDIT.rglob("*.py"):
        for module in pattern.findall(path.read_text(encoding="utf-8")):
            where = path.relative_to(VEDIT).parts[0]
            if module == "mediapipe":
                assert where == "faces", f"{path} imports mediapipe"
            if where == "faces":
                assert module != "av", f"{path} imports av (use vedit.io)"


def test_unknown_backend_and_missing_video(tmp_path):
    from vedit.faces import create_tracker, track_video

    with pytest.raises(ConfigError, match="unknown face tracker"):
        create_tracker(TrackerConfig(backend="nope"))
    with pytest.raises(InputError):
        next(iter(track_video(tmp_path / "absent.mp4")))


def test_face_layer_imports_stay_light():
    """The face layer imports MediaPipe without matplotlib (and a later import of matplotlib
    still gets the real package: the stand-ins are gone), and without scipy.optimize."""
    code = ("import sys\n"
            "import vedit.faces._mediapipe as m\n"
            "assert m.mp.solutions.face_mesh.FaceMesh\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
            "assert 'scipy.optimize' not in sys.modules, 'scipy.optimize was imported'\n"
            "import matplotlib.pyplot as plt\n"
            "assert callable(plt.figure), 'a stand-in leaked'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_small_assignments_match_scipy():
    """Up to four pairs the matching is found by enumeration (no scipy.optimize import); it
    must pick the same allowed pairs as the Hungarian solver, "not allowed" entries included."""
    from scipy.optimize import linear_sum_assignment

    from vedit.faces._assoc import assign

    rng = np.random.default_rng(7)
    for _ in range(500):
        n, m = (int(v) for v in rng.integers(1, 7, 2))
        cost = rng.random((n, m))
        cost[rng.random((n, m)) < 0.3] = 1e6
        rows, cols = linear_sum_assignment(cost)
        expected = sorted((int(r), int(c)) for r, c in zip(rows, cols, strict=True)
                          if cost[r, c] < 1e6)
        assert sorted(assign(cost)) == expected, cost
