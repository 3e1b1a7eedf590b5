"""Eq. 8 composition against an independently written evaluation of the paper's formula."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from vedit.motion import (
    MotionOptions,
    MotionTrack,
    compose,
    compose_motion,
    compose_track,
    smooth_track,
)
from vedit.motion.types import KeypointMotion

K = 21


def direct_eq8(src, drv_i, drv_next, drv_0):
    """LivePortrait appendix E, Eq. 8, written out point by point (column vectors R^T x)."""
    r = drv_i.rotation @ np.linalg.inv(drv_0.rotation) @ src.rotation
    delta = src.expression + 0.5 * (drv_i.expression + drv_next.expression) - drv_0.expression
    s = src.scale * (drv_i.scale / drv_0.scale)
    t = src.translation + drv_i.translation - drv_0.translation
    out = np.empty((src.canonical.shape[0], 3))
    for k in range(out.shape[0]):
        p = s * (r.T @ src.canonical[k] + delta[k]) + t
        out[k] = [p[0], p[1], p[2] - t[2]]
    return out


def _angle(r: np.ndarray) -> float:
    return math.degrees(math.acos(np.clip((np.trace(r) - 1) / 2, -1, 1)))


def test_matches_direct_formula_with_paper_smoothing(rng, make_motion):
    src = make_motion(rng, K)
    drv = [make_motion(rng, K, canonical=rng.normal(size=(K, 3))) for _ in range(4)]
    smoothed = smooth_track(drv)  # paper: 0.5 (delta_i + delta_i+1)
    ref = smoothed.raw.frame(0)
    for i in range(4):
        nxt = drv[min(i + 1, 3)]
        got = compose(src, smoothed.track.frame(i), ref)
        np.testing.assert_allclose(got, direct_eq8(src, drv[i], nxt, drv[0]), atol=1e-12)


def test_rotation_composition_order(rng, make_motion):
    src, d0, di = (make_motion(rng, K) for _ in range(3))
    got = compose_motion(src, di, d0)
    right = di.rotation @ d0.rotation.T @ src.rotation
    np.testing.assert_allclose(got.rotation, right, atol=1e-12)
    t_xy = np.array([got.translation[0], got.translation[1], 0.0])
    keypoints = compose(src, di, d0)
    np.testing.assert_allclose(
        keypoints, got.scale * (src.canonical @ right + got.expression) + t_xy, atol=1e-12)
    wrong_orders = [
        src.rotation @ di.rotation @ d0.rotation.T,
        d0.rotation.T @ di.rotation @ src.rotation,
        di.rotation @ src.rotation @ d0.rotation.T,
        src.rotation @ d0.rotation.T @ di.rotation,
    ]
    for wrong in wrong_orders:
        assert np.abs(wrong - right).max() > 1e-2  # the orders really differ here
        wrong_kp = got.scale * (src.canonical @ wrong + got.expression) + t_xy
        assert np.abs(keypoints - wrong_kp).max() > 1e-2


def test_scale_ratio_and_translation_with_tz_dropped(rng, make_motion):
    src, d0 = make_motion(rng, K), make_motion(rng, K)
    di = KeypointMotion(d0.canonical, d0.rotation, d0.expression, d0.scale * 1.25,
                        d0.translation + np.array([0.3, -0.2, 5.0]))
    got = compose(src, di, d0)
    t = src.translation + np.array([0.3, -0.2, 0.0])
    expect = 1.25 * src.scale * (src.canonical @ src.rotation + src.expression)
    expect = expect + np.array([t[0], t[1], 0.0])
    np.testing.assert_allclose(got, expect, atol=1e-12)
    # t_z of neither source nor driving reaches the keypoints.
    np.testing.assert_allclose(got[:, 2], expect[:, 2], atol=1e-12)


_FIRST_FIVE = np.zeros((K, 3), bool) | (np.arange(K) < 5)[:, None]
ALL_OPTIONS = [
    MotionOptions(),
    MotionOptions(region="exp"),
    MotionOptions(region="pose"),
    MotionOptions(region="lip", expression_mask=_FIRST_FIVE),
    MotionOptions(region="eyes", expression_mask=np.ones((K, 3), bool)),
    MotionOptions(rotation_limit_deg=5.0, scale_damping=0.5, expression_gain=1.7),
]


@pytest.mark.parametrize("options", ALL_OPTIONS)
def test_reference_frame_gives_back_source_exactly(rng, options, make_motion, make_rotation):
    src = make_motion(rng, K)
    d0 = make_motion(rng, K)
    # Frame 0 of a track whose next frame has the same expression: the look-ahead is a no-op.
    d1 = KeypointMotion(d0.canonical, make_rotation(rng), d0.expression.copy(), 1.1,
                        d0.translation + 1)
    smoothed = smooth_track([d0, d1])
    got = compose(src, smoothed.track.frame(0), smoothed.raw.frame(0), options)
    assert np.array_equal(got, src.keypoints())
    track = compose_track(MotionTrack.from_motions([src, src]), smoothed.track,
                          smoothed.raw.frame(0), options)
    np.testing.assert_allclose(track[0], src.keypoints(), atol=1e-14)


def test_lip_region_moves_only_masked_entries_and_keeps_pose(rng, make_motion):
    src, d0, di = (make_motion(rng, K) for _ in range(3))
    mask = np.zeros((K, 3), bool)
    mask[[6, 12, 14, 17, 19, 20]] = True
    got = compose_motion(src, di, d0, MotionOptions(region="lip", expression_mask=mask))
    assert np.array_equal(got.rotation, src.rotation)
    assert got.scale == src.scale
    assert np.array_equal(got.translation, src.translation)
    assert np.array_equal(got.expression[~mask], src.expression[~mask])
    np.testing.assert_allclose(got.expression[mask],
                               (src.expression + di.expression - d0.expression)[mask])
    assert np.abs(got.expression[mask] - src.expression[mask]).min() > 0


def test_exp_region_keeps_pose_pose_region_keeps_expression(rng, make_motion):
    src, d0, di = (make_motion(rng, K) for _ in range(3))
    exp = compose_motion(src, di, d0, MotionOptions(region="exp"))
    assert np.array_equal(exp.rotation, src.rotation) and exp.scale == src.scale
    assert np.array_equal(exp.translation, src.translation)
    np.testing.assert_allclose(exp.expression, src.expression + di.expression - d0.expression)
    pose = compose_motion(src, di, d0, MotionOptions(region="pose"))
    assert np.array_equal(pose.expression, src.expression)
    np.testing.assert_allclose(pose.rotation, di.rotation @ d0.rotation.T @ src.rotation)
    assert pose.scale == pytest.approx(src.scale * di.scale / d0.scale)


def test_rotation_limit_bounds_angle_and_keeps_axis(rng, make_motion, make_rotation):
    src, d0 = make_motion(rng, K), make_motion(rng, K)
    relative = make_rotation(rng, max_angle=math.radians(90))
    relative_angle = _angle(relative)
    assert relative_angle > 20
    di = KeypointMotion(d0.canonical, relative @ d0.rotation, d0.expression, d0.scale,
                        d0.translation)
    got = compose_motion(src, di, d0, MotionOptions(rotation_limit_deg=10.0))
    applied = got.rotation @ src.rotation.T
    assert _angle(applied) == pytest.approx(10.0, abs=1e-7)
    axis = lambda r: np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])  # noqa: E731
    np.testing.assert_allclose(axis(applied) / np.linalg.norm(axis(applied)),
                               axis(relative) / np.linalg.norm(axis(relative)), atol=1e-9)
    unlimited = compose_motion(src, di, d0, MotionOptions(rotation_limit_deg=relative_angle + 1))
    np.testing.assert_allclose(unlimited.rotation, relative @ src.rotation, atol=1e-12)


def test_scale_damping(rng, make_motion):
    src, d0 = make_motion(rng, K), make_motion(rng, K)
    di = KeypointMotion(d0.canonical, d0.rotation, d0.expression, d0.scale * 1.44, d0.translation)
    assert compose_motion(src, di, d0, MotionOptions(scale_damping=0.0)).scale == src.scale
    assert compose_motion(src, di, d0, MotionOptions(transfer_scale=False)).scale == src.scale
    half = compose_motion(src, di, d0, MotionOptions(scale_damping=0.5)).scale
    assert half == pytest.approx(src.scale * 1.2)
    assert compose_motion(src, di, d0).scale == pytest.approx(src.scale * 1.44)


def test_transfer_switches_and_gain(rng, make_motion):
    src, d0, di = (make_motion(rng, K) for _ in range(3))
    no_rot = compose_motion(src, di, d0, MotionOptions(transfer_rotation=False))
    assert np.array_equal(no_rot.rotation, src.rotation)
    no_t = compose_motion(src, di, d0, MotionOptions(transfer_translation=False))
    assert np.array_equal(no_t.translation, src.translation)
    gain = compose_motion(src, di, d0, MotionOptions(expression_gain=2.0))
    np.testing.assert_allclose(gain.expression,
                               src.expression + 2 * (di.expression - d0.expression))


def test_options_validation():
    from vedit.engines.base import REGIONS as ENGINE_REGIONS
    from vedit.motion import REGIONS

    assert REGIONS == ENGINE_REGIONS
    with pytest.raises(ValueError, match="expression_mask"):
        MotionOptions(region="lip")
    with pytest.raises(ValueError, match="region"):
        MotionOptions(region="mouth")
    with pytest.raises(ValueError, match="scale_damping"):
        MotionOptions(scale_damping=1.5)


def test_track_matches_per_frame_and_is_fast(rng, make_motion):
    t_count, k = 300, 478
    src = MotionTrack.from_motions([make_motion(rng, k) for _ in range(t_count)])
    drv = MotionTrack.from_motions([make_motion(rng, k) for _ in range(t_count)])
    ref = drv.frame(0)
    mask = np.zeros((k, 3), bool)
    mask[::7] = True
    options = MotionOptions(region="all", rotation_limit_deg=30.0, scale_damping=0.7,
                            expression_mask=mask)
    out = compose_track(src, drv, ref, options)
    for i in (0, 1, 150, 299):
        np.testing.assert_allclose(out[i], compose(src.frame(i), drv.frame(i), ref, options),
                                   atol=1e-12)
    best = min(_timed(lambda: compose_track(src, drv, ref, options)) for _ in range(3))
    assert best < 0.05, f"300 x 478 composition took {best * 1000:.1f} ms"


def test_still_source_broadcasts(rng, make_motion):
    src = make_motion(rng, K)
    drv = MotionTrack.from_motions([make_motion(rng, K) for _ in range(5)])
    out = compose_track(src, drv, drv.frame(0))
    assert out.shape == (5, K, 3)
    np.testing.assert_allclose(out[3], compose(src, drv.frame(3), drv.frame(0)), atol=1e-12)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
