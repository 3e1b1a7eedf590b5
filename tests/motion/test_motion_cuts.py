"""Cuts between driving takes (LP #282): finding them, joining the takes, smoothing per take."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vedit.motion import (
    CutDetector,
    KeypointMotion,
    MotionTrack,
    SmoothedTrack,
    SmoothingOptions,
    compose_track,
    find_cuts,
    hold_missing,
    join_takes,
    picture_change,
    picture_signature,
    smooth_track,
    take_bounds,
)
from vedit.motion.rotation import rotation_angle

K = 6
CUT = 12
LENGTH = 25


def _axis_rotation(axis: int, degrees: float) -> np.ndarray:
    """Rotation by `degrees` about one coordinate axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def _two_takes(seed: int = 0) -> MotionTrack:
    """A head turning slowly, then at CUT another camera: rotated, shifted and zoomed."""
    rng = np.random.default_rng(seed)
    canonical = rng.normal(size=(K, 3))
    rotation, translation, scale = [], [], []
    camera = _axis_rotation(2, 25.0) @ _axis_rotation(1, -12.0)
    for i in range(LENGTH):
        r = _axis_rotation(1, 1.5 * i) @ _axis_rotation(0, 0.5 * i)
        t = np.array([0.002 * i, -0.001 * i, 0.0])
        s = 1.0 + 0.003 * i
        if i >= CUT:
            r, t, s = r @ camera, t + np.array([0.3, -0.2, 0.1]), 1.6 * s
        rotation.append(r)
        translation.append(t)
        scale.append(s)
    return MotionTrack(canonical=np.repeat(canonical[None], LENGTH, axis=0),
                       rotation=np.stack(rotation),
                       expression=0.02 * rng.normal(size=(LENGTH, K, 3)),
                       scale=np.array(scale), translation=np.stack(translation))


def _steps(track: MotionTrack) -> dict[str, np.ndarray]:
    """Frame-to-frame rotation angle (deg), translation distance and |log scale ratio|."""
    relative = track.rotation[1:] @ np.swapaxes(track.rotation[:-1], 1, 2)
    return {"rotation": np.degrees(rotation_angle(relative)),
            "translation": np.linalg.norm(np.diff(track.translation, axis=0), axis=1),
            "scale": np.abs(np.diff(np.log(track.scale)))}


def test_joined_takes_do_not_jump_at_the_cut():
    track = _two_takes()
    before, after = _steps(track), _steps(join_takes(track, [CUT]))
    for name in before:
        typical = np.median(np.delete(before[name], CUT - 1))
        assert before[name][CUT - 1] > 10 * typical, name  # the input does jump
        assert after[name][CUT - 1] <= 1e-9, name           # a zero-motion step
        assert np.allclose(np.delete(after[name], CUT - 1), np.delete(before[name], CUT - 1),
                           atol=1e-9), name                 # every other step is kept


def test_the_take_after_the_cut_keeps_its_own_relative_motion():
    track = _two_takes()
    joined = join_takes(track, [CUT])
    own = slice(CUT, LENGTH)
    rel_in = track.rotation[own] @ track.rotation[CUT].T
    rel_out = joined.rotation[own] @ joined.rotation[CUT].T
    assert np.allclose(rel_in, rel_out, atol=1e-12)
    assert np.allclose(track.translation[own] - track.translation[CUT],
                       joined.translation[own] - joined.translation[CUT], atol=1e-15)
    assert np.allclose(track.scale[own] / track.scale[CUT],
                       joined.scale[own] / joined.scale[CUT], rtol=1e-15)
    # The take before is untouched, expressions and canonical keypoints are never chained.
    for name in ("rotation", "translation", "scale"):
        assert np.array_equal(getattr(track, name)[:CUT], getattr(joined, name)[:CUT]), name
    assert np.array_equal(track.expression, joined.expression)
    assert np.array_equal(track.canonical, joined.canonical)
    # The joined rotations are still rotations.
    assert np.allclose(joined.rotation @ np.swapaxes(joined.rotation, 1, 2), np.eye(3),
                       atol=1e-12)


def test_the_continuation_follows_eq8_conventions():
    """R'_i = R_i R_c^-1 R'_c-1 (row vectors), t'_i = t_i - t_c + t'_c-1, s'_i = s_i s'_c-1/s_c."""
    track = _two_takes()
    joined = join_takes(track, [CUT])
    i = CUT + 5
    expected = track.rotation[i] @ track.rotation[CUT].T @ track.rotation[CUT - 1]
    assert np.allclose(joined.rotation[i], expected, atol=1e-14)
    assert np.allclose(joined.translation[i], track.translation[i] - track.translation[CUT]
                       + track.translation[CUT - 1], atol=1e-15)
    assert joined.scale[i] == pytest.approx(track.scale[i] * track.scale[CUT - 1]
                                            / track.scale[CUT], rel=1e-15)


def test_no_cut_leaves_the_track_identical():
    track = _two_takes()
    assert join_takes(track, []) is track
    assert join_takes(track, [0, LENGTH, LENGTH + 3]) is track  # outside: not cuts
    plain = smooth_track(track, SmoothingOptions("paper"))
    assert np.array_equal(smooth_track(track, SmoothingOptions("paper"), cuts=[]).track.expression,
                          plain.track.expression)
    assert plain.cuts.shape == (0,)


def test_several_cuts_chain():
    track = _two_takes()
    second = 19
    shifted = track.with_arrays(translation=track.translation
                                + (np.arange(LENGTH) >= second)[:, None] * 0.5)
    steps = _steps(join_takes(shifted, [CUT, second]))
    for name in steps:
        assert steps[name][CUT - 1] <= 1e-9 and steps[name][second - 1] <= 1e-9, name


def test_joined_targets_do_not_jump_under_eq8():
    """What the user sees: Eq. 8's target keypoints move at the cut no more than elsewhere."""
    track = _two_takes()
    source = MotionTrack.repeat(track.frame(0), LENGTH)

    def target_steps(driving: MotionTrack) -> np.ndarray:
        targets = compose_track(source, driving, driving.frame(0))
        return np.abs(np.diff(targets, axis=0)).max(axis=(1, 2))

    off, joined = target_steps(track), target_steps(join_takes(track, [CUT]))
    typical = np.delete(off, CUT - 1).max()
    assert off[CUT - 1] > 5 * typical
    assert joined[CUT - 1] <= typical


@pytest.mark.parametrize("method", ["paper", "one_euro", "kalman", "none"])
def test_smoothing_never_mixes_two_takes(method):
    track = _two_takes()
    other = track.with_arrays(expression=track.expression
                              + (np.arange(LENGTH) >= CUT)[:, None, None] * 0.7)
    options = SmoothingOptions(method)
    a = smooth_track(track, options, fps=Fraction(25), cuts=[CUT])
    b = smooth_track(other, options, fps=Fraction(25), cuts=[CUT])
    assert np.array_equal(a.cuts, [CUT])
    # Changing the second take does not change the smoothed first take at all ...
    for name in ("expression", "rotation", "scale", "translation"):
        assert np.array_equal(getattr(a.track, name)[:CUT], getattr(b.track, name)[:CUT]), name
    # ... and the second take is smoothed as if it were a clip of its own (joined pose).
    joined = join_takes(track, [CUT])
    alone = smooth_track(joined.take(slice(CUT, LENGTH)), options, fps=Fraction(25))
    for name in ("expression", "rotation", "scale", "translation"):
        assert np.allclose(getattr(a.track, name)[CUT:], getattr(alone.track, name),
                           atol=1e-12), name
    assert np.array_equal(a.raw.rotation, joined.rotation)


def test_paper_lookahead_stops_at_the_cut():
    track = _two_takes()
    smoothed = smooth_track(track, SmoothingOptions("paper"), cuts=[CUT]).track
    assert np.array_equal(smoothed.expression[CUT - 1], track.expression[CUT - 1])
    assert np.allclose(smoothed.expression[CUT - 2],
                       0.5 * (track.expression[CUT - 2] + track.expression[CUT - 1]))
    without = smooth_track(track, SmoothingOptions("paper")).track
    assert not np.allclose(without.expression[CUT - 1], track.expression[CUT - 1])


def test_missing_faces_hold_within_their_own_take():
    track = _two_takes()
    frames: list[KeypointMotion | None] = track.motions()
    frames[CUT] = frames[CUT + 1] = None  # the new take's face is found only at CUT + 2
    frames[3] = None
    held, missing = hold_missing(frames, cuts=[CUT])
    assert missing.sum() == 3
    assert np.array_equal(held.rotation[CUT], track.rotation[CUT + 2])  # its own take's
    assert np.array_equal(held.rotation[3], track.rotation[2])
    plain, _ = hold_missing(frames)
    assert np.array_equal(plain.rotation[CUT], track.rotation[CUT - 1])  # without cuts
    # A take without any face holds the previous take's last frame.
    empty = [*track.motions()[:CUT], *([None] * (LENGTH - CUT))]
    held, _ = hold_missing(empty, cuts=[CUT])
    assert np.array_equal(held.rotation[LENGTH - 1], track.rotation[CUT - 1])


def test_smoothed_track_checks_its_cuts():
    track = _two_takes()
    held = np.zeros(LENGTH, dtype=bool)
    with pytest.raises(ValueError, match="cuts"):
        SmoothedTrack(track=track, raw=track, held=held, cuts=[0])
    with pytest.raises(ValueError, match="cuts"):
        SmoothedTrack(track=track, raw=track, held=held, cuts=[5, 5])
    assert take_bounds(10, [4, 7]) == [(0, 4), (4, 7), (7, 10)]
    assert take_bounds(10, []) == [(0, 10)]


def test_find_cuts_wants_a_large_and_sudden_change():
    rng = np.random.default_rng(1)
    busy = 3.0 + rng.uniform(-1, 1, 60)  # a talking clip: changes around 3
    busy[0] = 0.0
    assert find_cuts(busy).size == 0
    spliced = busy.copy()
    spliced[30] = 25.0
    assert find_cuts(spliced).tolist() == [30]
    small = busy.copy()
    small[30] = 15.0  # sudden, but no larger than a dancer's fastest frames
    assert find_cuts(small).size == 0
    pan = busy.copy()
    pan[30:] = 22.0  # a fast, steady stretch: not a cut after its first frame
    assert find_cuts(pan).tolist() in ([], [30])


def _textured(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A smooth colourful picture (blurred noise), uint8 RGB."""
    base = rng.uniform(0, 255, (size // 8, size // 8, 3))
    return np.kron(base, np.ones((8, 8, 1))).astype(np.uint8)


def test_picture_change_sees_a_new_framing_not_noise():
    rng = np.random.default_rng(2)
    picture = _textured(rng)
    noisy = np.clip(picture.astype(int) + rng.integers(-6, 7, picture.shape), 0, 255)
    reframed = np.kron(picture[:48, 24:72], np.ones((2, 2, 1), dtype=np.uint8))
    sig = picture_signature(picture)
    assert sig.dtype == np.float32 and sig.ndim == 3
    assert picture_change(sig, sig) == 0.0
    assert picture_change(sig, picture_signature(noisy.astype(np.uint8))) < 5.0
    assert picture_change(sig, picture_signature(reframed)) > 25.0


def test_detector_reports_the_cut_when_its_frame_arrives():
    rng = np.random.default_rng(3)
    first, second = _textured(rng), _textured(rng)
    detector = CutDetector()
    found = []
    for i in range(20):
        picture = first if i < 11 else second
        jitter = rng.integers(-4, 5, picture.shape)
        if detector.add(np.clip(picture.astype(int) + jitter, 0, 255).astype(np.uint8)):
            found.append(i)
    assert found == [11]
    assert detector.cuts().tolist() == [11]
