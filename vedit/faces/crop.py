"""LivePortrait crop windows from face-mesh landmarks, and their lag-light smoothing.

Pure numpy: the window is computed from raw landmarks (see ``CropConfig`` for the convention),
then a One-Euro filter steadies it so the animated face does not shimmer, while fast moves are
still followed within a frame or two. Landmarks are never smoothed: the engines need the raw
expression; only the window that cuts the face out moves smoothly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vedit.faces.config import CropConfig
from vedit.faces.types import CropTransform

# Face-mesh indices (subject's right eye appears on the image left).
_EYE_LEFT_IMG = (33, 133)       # outer, inner corner of the image-left eye
_EYE_RIGHT_IMG = (362, 263)     # inner, outer corner of the image-right eye
_BROWS = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107,
          276, 283, 282, 295, 285, 300, 293, 334, 296, 336)


@dataclass(frozen=True)
class CropWindow:
    """A square crop window in frame pixels.

    Attributes:
        centre: (2,) float64 x, y of the window centre (the vx/vy shift already applied).
        side: window side in frame pixels (``scale`` x landmark extent).
        angle: roll in radians, positive clockwise in the image; 0 when ``rotate`` is off.
    """

    centre: np.ndarray
    side: float
    angle: float

    def transform(self, size: int) -> CropTransform:
        """The (2, 3) affines between frame pixels and a ``size`` x ``size`` crop."""
        s = size / self.side
        c, si = math.cos(self.angle), math.sin(self.angle)
        cx, cy = float(self.centre[0]), float(self.centre[1])
        half = size / 2.0
        # Crop = s * R(-angle) (p - centre) + half: rotating by -angle levels the eye line.
        f2c = np.array([[s * c, s * si, half - s * (c * cx + si * cy)],
                        [-s * si, s * c, half - s * (-si * cx + c * cy)]], dtype=np.float64)
        return CropTransform(size=size, frame_to_crop=f2c, crop_to_frame=invert_affine(f2c))


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine, as (2, 3) float64.

    Closed form rather than ``np.linalg.inv``: a LAPACK call per frame costs milliseconds on a
    busy 2-core machine (thread start-up), the formula microseconds.
    """
    (a, b, tx), (c, d, ty) = np.asarray(m, dtype=np.float64)
    det = a * d - b * c
    if abs(det) < 1e-12:
        raise ValueError("affine is not invertible")
    return np.array([[d / det, -b / det, (b * ty - d * tx) / det],
                     [-c / det, a / det, (c * tx - a * ty) / det]])


def roll_angle(landmarks: np.ndarray) -> float:
    """Eye-line roll of one face, radians, positive clockwise in the image.

    Args:
        landmarks: (478, 2+) face-mesh landmarks in pixels.
    """
    left = landmarks[list(_EYE_LEFT_IMG), :2].mean(axis=0)
    right = landmarks[list(_EYE_RIGHT_IMG), :2].mean(axis=0)
    d = right - left
    if float(np.hypot(d[0], d[1])) < 1e-6:
        return 0.0
    return math.atan2(float(d[1]), float(d[0]))


def crop_window(landmarks: np.ndarray, config: CropConfig) -> CropWindow:
    """Raw (unsmoothed) LivePortrait window of one face.

    Args:
        landmarks: (478, 2+) face-mesh landmarks, frame pixels (z ignored).
        config: crop convention.

    Returns:
        The window; its side is at least one pixel even for degenerate input.
    """
    pts = np.asarray(landmarks[:, :2], dtype=np.float64)
    angle = roll_angle(pts) if config.rotate else 0.0
    c, s = math.cos(angle), math.sin(angle)
    ux = np.array([c, s])           # along the eye line
    uy = np.array([-s, c])          # face's downward axis
    local = np.stack([pts @ ux, pts @ uy], axis=1)
    if config.extent == "brows_to_chin":
        top = local[list(_BROWS), 1].min()
        local = local[local[:, 1] >= top]
    lo, hi = local.min(axis=0), local.max(axis=0)
    side = max(float((hi - lo).max()), 1.0) * config.scale
    mid = (lo + hi) / 2.0
    centre = ux * mid[0] + uy * mid[1]
    centre = centre + ux * (config.vx * side) + uy * (config.vy * side)
    return CropWindow(centre=centre, side=side, angle=angle)


class OneEuroFilter:
    """One-Euro low-pass filter over a small vector (Casiez et al., CHI 2012).

    Smooths hard when the signal is still and opens up with speed, which is what a crop window
    needs: no shimmer on a talking head, little lag on a whip pan.

    Args:
        rate: samples per second (the shot's frame rate).
        min_cutoff: cut-off at rest, Hz.
        beta: cut-off increase per unit of (speed / speed_scale).
        d_cutoff: cut-off of the speed estimate, Hz.
    """

    def __init__(self, rate: float, min_cutoff: float, beta: float, d_cutoff: float) -> None:
        self.rate = float(rate)
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def _alpha(self, cutoff: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.rate)

    def reset(self) -> None:
        """Forget the past; the next sample passes through unchanged."""
        self._x = None
        self._dx = None

    @property
    def value(self) -> np.ndarray | None:
        """The last filtered value, or None before the first sample."""
        return self._x

    def __call__(self, x: np.ndarray, speed_scale: float = 1.0) -> np.ndarray:
        """Filter one sample.

        Args:
            x: (n,) float64 sample.
            speed_scale: the speed (units / s) is divided by this before ``beta`` applies, so a
                pixel signal can be judged in crop sides per second.

        Returns:
            (n,) float64 filtered sample.
        """
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._dx is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return self._x.copy()
        dx = (x - self._x) * self.rate
        a_d = self._alpha(self.d_cutoff)
        self._dx = a_d * dx + (1.0 - a_d) * self._dx
        speed = float(np.linalg.norm(self._dx)) / max(speed_scale, 1e-9)
        a = self._alpha(self.min_cutoff + self.beta * speed)
        self._x = a * x + (1.0 - a) * self._x
        return self._x.copy()


class CropSmoother:
    """Per-track smoothing of the crop window (centre, log side, roll).

    Args:
        config: crop settings (cut-offs, ``smooth`` switch).
        fps: frame rate of the shot, frames per second.
    """

    def __init__(self, config: CropConfig, fps: float) -> None:
        self.config = config
        self._centre = OneEuroFilter(fps, config.min_cutoff, config.beta, config.d_cutoff)
        self._log_side = OneEuroFilter(fps, config.min_cutoff, config.beta, config.d_cutoff)
        self._angle = OneEuroFilter(fps, config.angle_min_cutoff, config.beta, config.d_cutoff)

    def reset(self) -> None:
        """Start afresh (a track came back somewhere else)."""
        for f in (self._centre, self._log_side, self._angle):
            f.reset()

    def __call__(self, raw: CropWindow) -> CropWindow:
        """Smoothed window for this frame, given this frame's raw window."""
        if not self.config.smooth:
            return raw
        prev_side = self._log_side.value
        side_ref = math.exp(float(prev_side[0])) if prev_side is not None else raw.side
        centre = self._centre(raw.centre, speed_scale=side_ref)
        log_side = self._log_side(np.array([math.log(raw.side)]))
        angle = raw.angle
        prev_angle = self._angle.value
        if prev_angle is not None:   # unwrap next to the previous value
            angle = float(prev_angle[0]) + math.remainder(angle - float(prev_angle[0]), math.tau)
        angle_f = self._angle(np.array([angle]))
        return CropWindow(centre=centre, side=math.exp(float(log_side[0])),
                          angle=float(angle_f[0]))
