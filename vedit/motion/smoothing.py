"""Driving-track clean-up before Eq. 8: fill frames without a face, then smooth.

Order matters and is fixed: missing frames are held first (the filters need a value every
frame), then the whole track is smoothed on the *driving's own* timeline (the paper's
look-ahead delta_d,i+1 is the next driving frame, not the next source frame), and only then is
the result laid onto the source timeline (timeline.py).

Methods:
    paper: Eq. 8's expression look-ahead 0.5 (delta_i + delta_i+1), the last frame averaged
        with itself; pose untouched. The default, as in the paper.
    one_euro: One-Euro filter (Casiez et al., CHI 2012) on expression, rotation entries, scale
        and translation: an exponential smoother whose cutoff rises with speed, so still
        faces are steadied and fast motion passes with little lag. Causal.
    kalman: constant-position Kalman filter + Rauch-Tung-Striebel smoother, like the official
        code's pykalman `smooth` (initial mean = first frame, initial covariance 1, process
        variance 1e-5, observation variance 3e-7 per element), applied to the same fields.
    none: holds missing frames only.

Cuts between driving takes (cuts.py): given the frames where a new take starts, missing frames
are held within their own take, each take's pose is joined onto the previous take's end, and
every method smooths each take on its own (the look-ahead of a take's last frame is itself, the
filters restart), so no smoothing mixes frames of two takes.

Rotations are smoothed as matrices, entry by entry, and projected back onto SO(3) with an SVD
(nearest rotation), which is well defined for any rotation and has no quaternion sign flips.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from vedit.motion.cuts import join_takes, take_bounds
from vedit.motion.rotation import nearest_rotation
from vedit.motion.track import MotionTrack
from vedit.motion.types import KeypointMotion

__all__ = [
    "SMOOTHING_METHODS",
    "NoDrivingFaceError",
    "SmoothedTrack",
    "SmoothingOptions",
    "hold_missing",
    "kalman_smooth",
    "one_euro",
    "paper_lookahead",
    "smooth_track",
]

SMOOTHING_METHODS = ("paper", "one_euro", "kalman", "none")


class NoDrivingFaceError(ValueError):
    """No driving frame has a face, so there is no performance to transfer."""


@dataclass(frozen=True)
class SmoothingOptions:
    """How a driving track is smoothed.

    The One-Euro defaults are tuned for keypoint units (normalised crop coordinates, values of
    order 0.01-1, frame-to-frame jitter of order 1e-3) at 25-30 fps: a still face's 1e-3
    jitter drops ~2.4x (more for smaller jitter), and expression steps of 0.02 or more reach
    90 % of their new value within one frame.

    Attributes:
        method: one of SMOOTHING_METHODS.
        min_cutoff: One-Euro cutoff at rest, Hz. Lower = steadier still faces.
        beta: One-Euro cutoff increase per unit/s of speed. Higher = less lag on fast motion.
        d_cutoff: One-Euro cutoff of its speed estimate, Hz.
        observation_variance: Kalman measurement noise variance per element (official 3e-7).
        process_variance: Kalman random-walk variance per element per frame (official 1e-5).
    """

    method: str = "paper"
    min_cutoff: float = 0.5
    beta: float = 40.0
    d_cutoff: float = 4.0
    observation_variance: float = 3e-7
    process_variance: float = 1e-5

    def __post_init__(self) -> None:
        if self.method not in SMOOTHING_METHODS:
            raise ValueError(f"method must be one of {SMOOTHING_METHODS}, got {self.method!r}")
        for name in ("min_cutoff", "d_cutoff", "observation_variance", "process_variance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")


@dataclass(frozen=True)
class SmoothedTrack:
    """A driving track ready for Eq. 8.

    Attributes:
        track: the smoothed motion, T frames, every frame filled.
        raw: the unsmoothed motion with missing frames held (Eq. 8 takes its reference
            delta_d,0 from here, unsmoothed).
        held: (T,) bool, True where the frame had no face and a neighbour's motion was held.
        cuts: (N,) int64 sorted frames that start a new driving take (empty: one take); both
            tracks are then joined there (cuts.py), and smoothing never crossed them.
    """

    track: MotionTrack
    raw: MotionTrack
    held: np.ndarray
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        held = np.asarray(self.held, dtype=bool)
        object.__setattr__(self, "held", held)
        if held.shape != (len(self.track),) or len(self.raw) != len(self.track):
            raise ValueError("track, raw and held must all have T frames")
        cuts = np.asarray(self.cuts, dtype=np.int64).reshape(-1)
        object.__setattr__(self, "cuts", cuts)
        if cuts.size and (np.any(np.diff(cuts) <= 0) or cuts[0] < 1 or cuts[-1] >= len(held)):
            raise ValueError(f"cuts must be increasing frames within 1..T-1, got {cuts}")

    def __len__(self) -> int:
        return len(self.track)

    def motions(self) -> list[KeypointMotion]:
        """The smoothed track as per-frame motions."""
        return self.track.motions()


def hold_missing(
    motions: Sequence[KeypointMotion | None] | MotionTrack,
    cuts: Sequence[int] | np.ndarray = (),
) -> tuple[MotionTrack, np.ndarray]:
    """Fill frames without a face (None) by holding the last good motion.

    Frames before the first good one take the first good one, so a late-starting face does not
    leave the start of the shot empty. With cuts, a frame holds a motion of its own take (one
    from before the cut would be another camera set-up); a take without any face holds the
    previous take's last one.

    Args:
        motions: T per-frame motions, None where the driving frame had no face.
        cuts: frames that start a new take.

    Returns:
        (track, held): the filled (T frames) track and a (T,) bool of the held frames.

    Raises:
        NoDrivingFaceError: when every frame is None (or T == 0).
    """
    if isinstance(motions, MotionTrack):
        return motions, np.zeros(len(motions), dtype=bool)
    valid = np.array([m is not None for m in motions], dtype=bool)
    if not valid.any():
        raise NoDrivingFaceError("no face was found in any driving frame")
    good = [m for m in motions if m is not None]
    held_from = _held_from(valid, take_bounds(len(valid), cuts))
    rank = np.cumsum(valid) - 1  # position of each valid frame among the good ones
    track = MotionTrack.from_motions(good).take(rank[held_from])
    return track, ~valid


def _held_from(valid: np.ndarray, takes: list[tuple[int, int]]) -> np.ndarray:
    """For each frame, the frame with a face whose motion it shows (itself when it has one)."""
    last = np.maximum.accumulate(np.where(valid, np.arange(len(valid)), -1))
    last[last < 0] = int(np.argmax(valid))
    for start, stop in takes[1:]:
        inside = valid[start:stop]
        if inside.any():
            take_last = last[start:stop]  # a view: the take's frames
            take_last[take_last < start] = start + int(np.argmax(inside))
    return last


def smooth_track(
    motions: Sequence[KeypointMotion | None] | MotionTrack,
    options: SmoothingOptions | None = None,
    fps: Fraction = Fraction(30),
    cuts: Sequence[int] | np.ndarray = (),
) -> SmoothedTrack:
    """Hold missing frames, join the takes at cuts, then smooth each take.

    Args:
        motions: T per-frame driving motions on the driving's own timeline, None = no face.
        options: method and parameters; default is the paper's look-ahead.
        fps: the driving's frame rate (the One-Euro cutoffs are in Hz).
        cuts: frames that start a new driving take (cuts.py); none by default.

    Returns:
        A new `SmoothedTrack`; the input is not modified.

    Raises:
        NoDrivingFaceError: when no frame has a face.
    """
    options = options or SmoothingOptions()
    raw, held = hold_missing(motions, cuts)
    takes = take_bounds(len(raw), cuts)
    cut_frames = np.array([start for start, _ in takes[1:]], dtype=np.int64)
    raw = join_takes(raw, cut_frames)
    method = options.method
    if method == "none":
        return SmoothedTrack(track=raw, raw=raw, held=held, cuts=cut_frames)
    if method == "paper":
        smoothed = raw.with_arrays(expression=_per_take(paper_lookahead, raw.expression, takes))
        return SmoothedTrack(track=smoothed, raw=raw, held=held, cuts=cut_frames)

    def filt_one(x: np.ndarray) -> np.ndarray:
        if method == "one_euro":
            return one_euro(x, fps, options.min_cutoff, options.beta, options.d_cutoff)
        return kalman_smooth(x, options.observation_variance, options.process_variance)

    def filt(x: np.ndarray) -> np.ndarray:
        return _per_take(filt_one, x, takes)

    smoothed = raw.with_arrays(
        expression=filt(raw.expression),
        rotation=nearest_rotation(filt(raw.rotation)),
        scale=filt(raw.scale),
        translation=filt(raw.translation),
    )
    return SmoothedTrack(track=smoothed, raw=raw, held=held, cuts=cut_frames)


def _per_take(smooth: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
              takes: list[tuple[int, int]]) -> np.ndarray:
    """`smooth` applied to each take's frames of x on their own, so no take sees another."""
    if len(takes) == 1:
        return smooth(x)
    return np.concatenate([smooth(x[start:stop]) for start, stop in takes], axis=0)


def paper_lookahead(x: np.ndarray) -> np.ndarray:
    """Eq. 8's 0.5 (x_i + x_i+1) along axis 0; the last frame is averaged with itself.

    Args:
        x: (T, ...) float array.

    Returns:
        (T, ...) float64, a new array; x_i exactly where x_i+1 == x_i.
    """
    x = np.asarray(x, dtype=np.float64)
    nxt = np.concatenate([x[1:], x[-1:]], axis=0)
    return 0.5 * (x + nxt)


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    """Exponential-smoothing weight of a first-order low-pass at `cutoff` Hz, `rate` Hz sampling."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def one_euro(
    x: np.ndarray,
    fps: Fraction,
    min_cutoff: float = 0.5,
    beta: float = 40.0,
    d_cutoff: float = 4.0,
) -> np.ndarray:
    """One-Euro filter along axis 0, each element independently (Casiez et al. 2012).

    Args:
        x: (T, ...) float samples at `fps`.
        fps: sampling rate, frames per second.
        min_cutoff: cutoff at rest, Hz.
        beta: cutoff increase per unit/s of filtered speed.
        d_cutoff: cutoff for the speed estimate, Hz.

    Returns:
        (T, ...) float64, a new array; frame 0 equals x[0].
    """
    x = np.asarray(x, dtype=np.float64)
    rate = float(fps)
    a_d = _alpha(d_cutoff, rate)
    out = np.empty_like(x)
    out[0] = x[0]
    speed = np.zeros_like(x[0])
    for i in range(1, x.shape[0]):
        raw_speed = (x[i] - out[i - 1]) * rate
        speed = speed + a_d * (raw_speed - speed)
        a = _alpha(min_cutoff + beta * np.abs(speed), rate)
        out[i] = out[i - 1] + a * (x[i] - out[i - 1])
    return out


def kalman_smooth(
    x: np.ndarray,
    observation_variance: float = 3e-7,
    process_variance: float = 1e-5,
    initial_variance: float = 1.0,
) -> np.ndarray:
    """Constant-position Kalman filter + RTS smoother along axis 0, elements independent.

    The model is pykalman's as the official code configures it: state = position, identity
    transition and observation, isotropic noise, initial mean = x[0]. With isotropic noise every
    element has the same gain sequence, so the gains are computed once (scalars) and applied to
    all elements at once.

    Args:
        x: (T, ...) float observations.
        observation_variance: measurement noise variance r.
        process_variance: random-walk variance q per frame.
        initial_variance: prior variance around x[0].

    Returns:
        (T, ...) float64 smoothed means, a new array.
    """
    x = np.asarray(x, dtype=np.float64)
    t_count = x.shape[0]
    filtered = np.empty_like(x)
    p_pred = np.empty(t_count)
    p_filt = np.empty(t_count)
    prediction = x[0]
    p = initial_variance
    for i in range(t_count):
        p_pred[i] = p
        gain = p / (p + observation_variance)
        filtered[i] = prediction + gain * (x[i] - prediction)
        p_filt[i] = (1.0 - gain) * p
        prediction = filtered[i]
        p = p_filt[i] + process_variance
    smoothed = filtered.copy()
    for i in range(t_count - 2, -1, -1):
        g = p_filt[i] / p_pred[i + 1]
        smoothed[i] = filtered[i] + g * (smoothed[i + 1] - filtered[i])
    return smoothed
