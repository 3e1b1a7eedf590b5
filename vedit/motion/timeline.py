"""Lay a driving performance onto the source shot's timeline, by time, with exact rationals.

The output always has the source's frames, rate and timestamps (the editor's cut must not
move); each source frame gets one driving frame. Source and driving differ in rate (25 vs
30000/1001 fps) and length, so the mapping goes through time, never through frame counts.

Mapping rule (nearest earlier, i.e. "what is on screen"): source frame j is shown at time
tau_j (j / source_fps, or (pts_j - pts_0) * time_base for a variable-frame-rate source). The
driving starts `offset` seconds into the shot, so its local time is u_j = tau_j - offset, and
the driving frame on screen at u_j is

    k_j = floor(u_j * driving_fps),

the frame whose display interval [k / fps, (k + 1) / fps) contains u_j. All of this is
computed with integers and Fractions, so there is no epsilon and no drift: a 10-minute shot
maps frame 17982 of a 30000/1001 fps driving exactly where a 600 s timestamp says.

Offset sign: positive = the driving starts later than the shot (the performance's first frame
lines up with source time `offset`); negative = the shot starts `-offset` seconds into the
performance (its beginning is skipped). This is the `--driving-offset` cue alignment.

Outside the driving (k < 0 or k >= driving_count) the `fit` decides:
    hold: before the start frame 0, past the end the last frame (the default).
    loop: past the end, 0, 1, ..., n-1, 0, 1, ...
    pingpong: past the end, ..., n-2, n-1, n-2, ..., 1, 0, 1, ... (period 2n - 2).
    trim: the output stops where the driving ends (min of both durations, counting the
        offset).
For every fit, source frames before the driving starts (positive offset) hold frame 0: the
performance has not begun, and frame 0 is usually the reference, so the source stays as shot.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["FIT_MODES", "DrivingMap", "map_driving", "still_source_timeline"]

FIT_MODES = ("hold", "loop", "pingpong", "trim")


@dataclass(frozen=True)
class DrivingMap:
    """Which driving frame drives each output frame.

    Attributes:
        indices: (N,) int64 driving frame index per output frame, in [0, driving_count).
            Output frame j is source frame j (N = output_count <= source frames).
        in_range: (N,) bool, True where the driving time fell inside the performance, False
            where the fit rule (hold / loop / pingpong / before-start hold) chose the frame.
        source_fps: the output (source) frame rate.
        driving_fps: the driving frame rate.
    """

    indices: np.ndarray
    in_range: np.ndarray
    source_fps: Fraction
    driving_fps: Fraction

    def __post_init__(self) -> None:
        indices = np.asarray(self.indices, dtype=np.int64)
        in_range = np.asarray(self.in_range, dtype=bool)
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "in_range", in_range)
        if indices.ndim != 1 or in_range.shape != indices.shape:
            raise ValueError("indices and in_range must both be (N,)")
        if indices.size and indices.min() < 0:
            raise ValueError("driving indices must be >= 0")

    @property
    def output_count(self) -> int:
        """N, the number of output frames."""
        return int(self.indices.shape[0])


def map_driving(
    source_count: int,
    source_fps: Fraction,
    driving_count: int,
    driving_fps: Fraction,
    fit: str = "hold",
    offset: Fraction = Fraction(0),
    source_pts: Sequence[int] | np.ndarray | None = None,
    time_base: Fraction | None = None,
) -> DrivingMap:
    """Driving frame for every source frame, by time (see the module docstring for the rule).

    Args:
        source_count: frames in the source shot.
        source_fps: source frame rate, e.g. Fraction(25) or Fraction(30000, 1001).
        driving_count: frames in the driving clip, >= 1.
        driving_fps: driving frame rate.
        fit: "hold", "loop", "pingpong" or "trim".
        offset: seconds (Fraction) from the shot's start to the driving's start; positive =
            the driving starts later, negative = its beginning is skipped.
        source_pts: (source_count,) integer presentation timestamps in `time_base` units, for
            variable-frame-rate sources; times are taken relative to the first one. When
            given, source_fps is only recorded, not used for timing.
        time_base: seconds per pts unit; required with source_pts.

    Returns:
        The `DrivingMap`; its output_count is source_count, or fewer with fit="trim".

    Raises:
        ValueError: for bad counts, rates, fit names, or pts.
        TypeError: for float rates or offsets (they cannot represent 30000/1001 exactly).
    """
    source_fps = _rational("source_fps", source_fps)
    driving_fps = _rational("driving_fps", driving_fps)
    offset = _rational("offset", offset, positive=False)
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
    if source_count < 0 or driving_count < 1:
        raise ValueError(f"need source_count >= 0 and driving_count >= 1, got {source_count}, "
                         f"{driving_count}")

    raw = _raw_driving_indices(source_count, source_fps, driving_fps, offset, source_pts,
                               time_base)
    n = driving_count
    if fit == "trim":
        raw = raw[: int(np.searchsorted(raw, n, side="left"))]
    in_range = (raw >= 0) & (raw < n)
    after = np.maximum(raw, 0)
    if fit in ("hold", "trim"):
        indices = np.minimum(after, n - 1)
    elif fit == "loop":
        indices = after % n
    elif n == 1:  # pingpong of one frame
        indices = np.zeros_like(after)
    else:
        phase = after % (2 * n - 2)
        indices = np.where(phase < n, phase, 2 * n - 2 - phase)
    return DrivingMap(indices=indices, in_range=in_range, source_fps=source_fps,
                      driving_fps=driving_fps)


def still_source_timeline(driving_count: int, driving_fps: Fraction) -> DrivingMap:
    """Timeline for a still-image source: the output takes the driving's length and rate.

    Args:
        driving_count: frames in the driving clip, >= 1.
        driving_fps: driving frame rate; also the output's.

    Returns:
        Identity `DrivingMap` (output frame j = driving frame j).
    """
    driving_fps = _rational("driving_fps", driving_fps)
    if driving_count < 1:
        raise ValueError(f"driving_count must be >= 1, got {driving_count}")
    return DrivingMap(
        indices=np.arange(driving_count, dtype=np.int64),
        in_range=np.ones(driving_count, dtype=bool),
        source_fps=driving_fps,
        driving_fps=driving_fps,
    )


def _raw_driving_indices(
    source_count: int,
    source_fps: Fraction,
    driving_fps: Fraction,
    offset: Fraction,
    source_pts: Sequence[int] | np.ndarray | None,
    time_base: Fraction | None,
) -> np.ndarray:
    """(source_count,) int64 floor((tau_j - offset) * driving_fps), unbounded, exact.

    With tau_j = q_j * A / B (q_j = j and A / B = 1 / source_fps, or q_j = pts_j - pts_0 and
    A / B = time_base), k_j = floor((q_j * A * o_d - o_n * B) * d_n / (B * o_d * d_d)) — one
    Python-integer floor division per frame, exact at any length.
    """
    if source_pts is None:
        q = list(range(source_count))
        step = 1 / source_fps
    else:
        if time_base is None:
            raise ValueError("time_base is required with source_pts")
        step = _rational("time_base", time_base)
        pts = [int(p) for p in np.asarray(source_pts).reshape(-1)]
        if len(pts) != source_count:
            raise ValueError(f"got {len(pts)} source_pts for {source_count} source frames")
        if any(pts[i + 1] <= pts[i] for i in range(len(pts) - 1)):
            raise ValueError("source_pts must be strictly increasing (presentation order)")
        q = [p - pts[0] for p in pts]
    a, b = step.numerator, step.denominator
    o_n, o_d = offset.numerator, offset.denominator
    d_n, d_d = driving_fps.numerator, driving_fps.denominator
    mul, sub, div = a * o_d * d_n, o_n * b * d_n, b * o_d * d_d
    return np.array([(qj * mul - sub) // div for qj in q], dtype=np.int64)


def _rational(name: str, value: Fraction | int, positive: bool = True) -> Fraction:
    """`value` as a Fraction; floats are refused, rates must be > 0."""
    if isinstance(value, bool) or not isinstance(value, (Fraction, int, np.integer)):
        raise TypeError(f"{name} must be a Fraction or int (e.g. Fraction(30000, 1001)), "
                        f"got {type(value).__name__}")
    value = Fraction(int(value)) if isinstance(value, np.integer) else Fraction(value)
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value
