"""Implicit-keypoint motion of one face in one frame, shared by every engine.

LivePortrait (arXiv 2407.03168) writes a frame's keypoints as
    x = s * (x_c @ R + delta) + t            (row vectors, right-multiplied rotation)
with x_c the canonical keypoints (K, 3), R a (3, 3) rotation, delta the expression (K, 3),
s a scalar scale and t a (3,) translation. The neural engine has K = 21 learned keypoints;
the embedded engine uses MediaPipe's K = 478 landmarks. Both express keypoints in the
face's normalised crop coordinates, so translations of different actors are comparable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KeypointMotion:
    """Motion of one face in one frame.

    Attributes:
        canonical: (K, 3) float64 canonical keypoints x_c.
        rotation: (3, 3) float64 R, row-vector convention (x_c @ R).
        expression: (K, 3) float64 delta.
        scale: float s.
        translation: (3,) float64 t (z is ignored when composing, as in LivePortrait).
    """

    canonical: np.ndarray
    rotation: np.ndarray
    expression: np.ndarray
    scale: float
    translation: np.ndarray

    def __post_init__(self) -> None:
        k = self.canonical.shape[0]
        if self.canonical.shape != (k, 3) or self.expression.shape != (k, 3):
            raise ValueError("canonical and expression must both be (K, 3)")
        if self.rotation.shape != (3, 3) or self.translation.shape != (3,):
            raise ValueError("rotation must be (3, 3) and translation (3,)")

    def keypoints(self) -> np.ndarray:
        """(K, 3) x = s * (x_c @ R + delta) + t, with t_z dropped."""
        t = np.array([self.translation[0], self.translation[1], 0.0])
        return self.scale * (self.canonical @ self.rotation + self.expression) + t
