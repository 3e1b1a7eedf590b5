"""Driving -> source timeline mapping with exact rationals."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from vedit.motion import map_driving, still_source_timeline

NTSC = Fraction(30000, 1001)


def test_30fps_driving_on_25fps_source_by_time():
    m = map_driving(6, Fraction(25), 100, Fraction(30))
    np.testing.assert_array_equal(m.indices, [0, 1, 2, 3, 4, 6])  # floor(1.2 j)
    assert m.output_count == 6 and m.in_range.all()


def test_ntsc_ten_minutes_without_drift():
    count = 25 * 600 + 1
    m = map_driving(count, Fraction(25), 10**6, NTSC)
    expect = [math.floor(Fraction(j, 25) * NTSC) for j in range(0, count, 7)]
    np.testing.assert_array_equal(m.indices[::7], expect)
    assert m.indices[-1] == 17982  # 600 s * 29.97002997... fps
    same = map_driving(18000, NTSC, 18000, NTSC)
    np.testing.assert_array_equal(same.indices, np.arange(18000))  # identity, no drift
    down = map_driving(18000, NTSC, 18000, Fraction(24000, 1001))
    assert down.indices[-1] == math.floor(Fraction(17999 * 4, 5))


@pytest.mark.parametrize(
    ("fit", "expect"),
    [
        ("hold", [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]),
        ("loop", [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]),
        ("pingpong", [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]),
        ("trim", [0, 1, 2, 3]),
    ],
)
def test_fit_modes(fit, expect):
    m = map_driving(10, Fraction(25), 4, Fraction(25), fit=fit)
    np.testing.assert_array_equal(m.indices, expect)
    assert m.output_count == len(expect)
    np.testing.assert_array_equal(m.in_range, np.arange(len(expect)) < 4)


def test_pingpong_single_frame_and_trim_of_long_driving():
    np.testing.assert_array_equal(
        map_driving(5, Fraction(25), 1, Fraction(25), fit="pingpong").indices, [0] * 5)
    assert map_driving(10, Fraction(25), 40, Fraction(30), fit="trim").output_count == 10
    # 30 driving frames at 30 fps last 1 s = 25 source frames at 25 fps.
    assert map_driving(100, Fraction(25), 30, Fraction(30), fit="trim").output_count == 25


def test_offset_positive_delays_negative_skips():
    late = map_driving(8, Fraction(25), 4, Fraction(25), offset=Fraction(2, 25))
    np.testing.assert_array_equal(late.indices, [0, 0, 0, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(late.in_range, [0, 0, 1, 1, 1, 1, 0, 0])
    early = map_driving(4, Fraction(25), 10, Fraction(25), offset=Fraction(-2, 25))
    np.testing.assert_array_equal(early.indices, [2, 3, 4, 5])
    trimmed = map_driving(20, Fraction(25), 4, Fraction(25), fit="trim", offset=Fraction(2, 25))
    assert trimmed.output_count == 6
    looped = map_driving(8, Fraction(25), 3, Fraction(25), fit="loop", offset=Fraction(1, 25))
    np.testing.assert_array_equal(looped.indices, [0, 0, 1, 2, 0, 1, 2, 0])
    half_frame = map_driving(3, Fraction(25), 10, Fraction(25), offset=Fraction(-1, 50))
    np.testing.assert_array_equal(half_frame.indices, [0, 1, 2])  # nearest earlier


def test_variable_frame_rate_source():
    m = map_driving(5, Fraction(25), 100, Fraction(25), source_pts=[1000, 1040, 1080, 1200, 1240],
                    time_base=Fraction(1, 1000))
    np.testing.assert_array_equal(m.indices, [0, 1, 2, 5, 6])
    with pytest.raises(ValueError, match="time_base"):
        map_driving(2, Fraction(25), 10, Fraction(25), source_pts=[0, 1])
    with pytest.raises(ValueError, match="increasing"):
        map_driving(2, Fraction(25), 10, Fraction(25), source_pts=[5, 5],
                    time_base=Fraction(1, 90000))


def test_still_source_and_validation():
    m = still_source_timeline(5, NTSC)
    np.testing.assert_array_equal(m.indices, np.arange(5))
    assert m.source_fps == NTSC and m.output_count == 5
    with pytest.raises(TypeError):
        map_driving(5, 29.97, 10, Fraction(25))
    with pytest.raises(ValueError):
        map_driving(5, Fraction(25), 10, Fraction(25), fit="stretch")
