"""Rotation helpers and the MotionTrack container."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vedit.motion import MotionTrack
from vedit.motion.rotation import (
    clamp_rotation_angle,
    matrix_to_quaternion,
    nearest_rotation,
    quaternion_to_matrix,
    rotation_angle,
)


def _axis_angle(axis, angle) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def test_quaternion_round_trip_including_half_turns(make_rotation, rng):
    rotations = np.stack([make_rotation(rng) for _ in range(50)]
                         + [_axis_angle(rng.normal(size=3), math.pi) for _ in range(5)]
                         + [np.eye(3), np.diag([1.0, -1.0, -1.0])])
    back = quaternion_to_matrix(matrix_to_quaternion(rotations))
    np.testing.assert_allclose(back, rotations, atol=1e-12)
    assert rotation_angle(_axis_angle([1, 2, 3], 0.7)) == pytest.approx(0.7)
    assert rotation_angle(np.diag([1.0, -1.0, -1.0])) == pytest.approx(math.pi)


def test_nearest_rotation_and_clamp(make_rotation, rng):
    r = make_rotation(rng)
    noisy = r + rng.normal(0, 1e-3, (3, 3))
    fixed = nearest_rotation(noisy)
    np.testing.assert_allclose(fixed @ fixed.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(fixed) == pytest.approx(1.0)
    assert np.abs(fixed - r).max() < 3e-3
    reflection = nearest_rotation(np.diag([1.0, 1.0, -1.0]))
    assert np.linalg.det(reflection) == pytest.approx(1.0)
    small, big = _axis_angle([0, 1, 0], 0.1), _axis_angle([0, 1, 0], 1.0)
    out = clamp_rotation_angle(np.stack([small, big]), 0.5)
    assert np.array_equal(out[0], small)  # within the bound: untouched, bit for bit
    np.testing.assert_allclose(out[1], _axis_angle([0, 1, 0], 0.5), atol=1e-12)


def test_motion_track_round_trip_and_validation(make_motion, rng):
    motions = [make_motion(rng, 5) for _ in range(4)]
    track = MotionTrack.from_motions(motions)
    assert len(track) == 4 and track.num_keypoints == 5
    for m, back in zip(motions, track.motions(), strict=True):
        np.testing.assert_array_equal(back.keypoints(), m.keypoints())
    np.testing.assert_allclose(track.keypoints(), np.stack([m.keypoints() for m in motions]),
                               atol=1e-14)
    picked = track.take(np.array([3, 3, 0]))
    np.testing.assert_array_equal(picked.expression[1], motions[3].expression)
    assert len(MotionTrack.repeat(motions[0], 7)) == 7
    with pytest.raises(ValueError, match="rotation"):
        MotionTrack(track.canonical, track.rotation[:3], track.expression, track.scale,
                    track.translation)
    with pytest.raises(ValueError):
        MotionTrack.from_motions([])
