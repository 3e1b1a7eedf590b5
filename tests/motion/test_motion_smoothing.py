"""Driving-track smoothing, missing-frame holding and reference-frame choice."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vedit.motion import (
    MotionTrack,
    NoDrivingFaceError,
    SmoothingOptions,
    driving_reference,
    hold_missing,
    kalman_smooth,
    one_euro,
    paper_lookahead,
    smooth_track,
)
from vedit.motion.types import KeypointMotion


def test_paper_lookahead():
    x = np.array([[0.0], [2.0], [4.0], [10.0]])
    np.testing.assert_array_equal(paper_lookahead(x)[:, 0], [1.0, 3.0, 7.0, 10.0])


def _step_lag(fps: int, amplitude: float) -> int:
    """Frames after a step until One-Euro (defaults) is within 10 % of the new level."""
    signal = np.zeros((60, 1))
    signal[30:] = amplitude
    out = one_euro(signal, Fraction(fps))[:, 0]
    assert np.all(out[:30] == 0)
    return int(np.argmax(np.abs(out - amplitude) <= 0.1 * amplitude)) - 30


@pytest.mark.parametrize("fps", [25, 30])
def test_one_euro_reduces_jitter_and_follows_steps(fps):
    rng = np.random.default_rng(0)
    noisy = 0.3 + rng.normal(0, 1e-3, size=(400, 200))
    out = one_euro(noisy, Fraction(fps))
    ratio = noisy[50:].std() / out[50:].std()
    assert ratio > 2.0, f"jitter only reduced {ratio:.2f}x"
    assert abs(out[50:].mean() - 0.3) < 1e-4  # no bias
    for amplitude in (0.02, 0.05, 0.2, -0.1):
        assert _step_lag(fps, amplitude) <= 2


def test_one_euro_track_keeps_rotations_proper():
    rng = np.random.default_rng(1)
    base = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    base *= np.sign(np.linalg.det(base))
    motions = [
        KeypointMotion(np.zeros((4, 3)), base + rng.normal(0, 1e-3, (3, 3)),
                       rng.normal(0, 1e-3, (4, 3)), 1.0, np.zeros(3))
        for _ in range(40)
    ]
    out = smooth_track(motions, SmoothingOptions("one_euro"), fps=Fraction(25)).track
    np.testing.assert_allclose(out.rotation @ out.rotation.transpose(0, 2, 1),
                               np.broadcast_to(np.eye(3), (40, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(out.rotation), 1.0, atol=1e-12)
    assert out.expression[10:].std() < 0.7 * np.stack([m.expression for m in motions])[10:].std()


def _map_random_walk(z: np.ndarray, r: float, q: float, p0: float) -> np.ndarray:
    """Posterior mean of a random walk by solving its normal equations directly (dense)."""
    t = len(z)
    a = np.zeros((t, t))
    b = z / r
    a[np.arange(t), np.arange(t)] = 1 / r
    a[0, 0] += 1 / p0
    b[0] += z[0] / p0
    for i in range(t - 1):
        a[i, i] += 1 / q
        a[i + 1, i + 1] += 1 / q
        a[i, i + 1] -= 1 / q
        a[i + 1, i] -= 1 / q
    return np.linalg.solve(a, b)


@pytest.mark.parametrize(("r", "q"), [(3e-7, 1e-5), (1e-4, 1e-6)])
def test_kalman_equals_random_walk_posterior(r, q):
    rng = np.random.default_rng(2)
    z = np.cumsum(rng.normal(0, np.sqrt(q), 80)) + rng.normal(0, np.sqrt(r), 80)
    got = kalman_smooth(z[:, None], r, q)[:, 0]
    np.testing.assert_allclose(got, _map_random_walk(z, r, q, 1.0), rtol=0, atol=1e-9)


def test_kalman_track_smooths_jitter():
    assert SmoothingOptions().observation_variance == 3e-7  # the official default
    rng = np.random.default_rng(3)
    noisy = rng.normal(0, np.sqrt(3e-7), size=(200, 50))
    out = smooth_track(
        MotionTrack(np.zeros((200, 50, 3)), np.broadcast_to(np.eye(3), (200, 3, 3)),
                    np.stack([noisy] * 3, axis=-1), np.ones(200), np.zeros((200, 3))),
        SmoothingOptions("kalman", process_variance=1e-9),
    ).track
    assert out.expression.std() < 0.5 * noisy.std()
    np.testing.assert_allclose(out.rotation, np.broadcast_to(np.eye(3), (200, 3, 3)), atol=1e-12)


def _motion(value: float) -> KeypointMotion:
    return KeypointMotion(np.zeros((2, 3)), np.eye(3), np.full((2, 3), value), 1.0 + value,
                          np.zeros(3))


def test_hold_missing_frames():
    frames = [None, _motion(1), None, None, _motion(4), None]
    track, held = hold_missing(frames)
    np.testing.assert_array_equal(track.expression[:, 0, 0], [1, 1, 1, 1, 4, 4])
    np.testing.assert_array_equal(held, [True, False, True, True, False, True])
    smoothed = smooth_track(frames, SmoothingOptions("none"))
    np.testing.assert_array_equal(smoothed.held, held)
    assert len(smoothed.motions()) == 6
    with pytest.raises(NoDrivingFaceError):
        smooth_track([None, None])


def test_smoothing_leaves_input_untouched():
    frames = [_motion(v) for v in (0.0, 1.0, 5.0)]
    before = [m.expression.copy() for m in frames]
    for method in ("paper", "one_euro", "kalman", "none"):
        smooth_track(frames, SmoothingOptions(method))
    for m, b in zip(frames, before, strict=True):
        np.testing.assert_array_equal(m.expression, b)


def test_reference_first_and_index():
    frames = [None, _motion(1), _motion(2), None]
    assert driving_reference(frames, "first") == 1
    assert driving_reference(frames, 2) == 2
    assert driving_reference(smooth_track(frames), "first") == 1
    with pytest.raises(ValueError, match="no driving face"):
        driving_reference(frames, 3)
    with pytest.raises(ValueError, match="outside"):
        driving_reference(frames, 7)
    with pytest.raises(ValueError):
        driving_reference(frames, "middle")


def test_reference_neutral_prefers_least_expressive_closed_mouth():
    # Keypoints 0-1: brows; 2-3: upper / lower lip (y = 0 and 0.1 canonical).
    canonical = np.array([[0, -1, 0], [1, -1, 0], [0, 0, 0], [0, 0.1, 0]], dtype=float)
    openings = [0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 0.5, 0.5, 0.4]
    brows = [0.0, 0.04, 0.01, 0.03, 0.3, 0.05, 0.0, 0.0, 0.0]
    motions = []
    for opening, brow in zip(openings, brows, strict=True):
        expression = np.zeros((4, 3))
        expression[:2, 1] = brow
        expression[2, 1] = -opening / 2
        expression[3, 1] = opening / 2
        motions.append(KeypointMotion(canonical, np.eye(3), expression, 1.0, np.zeros(3)))
    assert driving_reference(motions, "neutral") == 2  # closest to the (open-mouth) median
    lips = np.zeros((4, 3), bool)
    lips[2:] = True
    assert driving_reference(motions, "neutral", lip_mask=lips) == 5  # closed, calm brows
    motions[5] = None
    assert driving_reference(motions, "neutral", lip_mask=lips) == 4
