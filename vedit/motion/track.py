"""A whole face track's motion as parallel arrays, so composition and smoothing vectorise.

`KeypointMotion` (types.py) is one frame; engines hand out lists of them. Smoothing and
composing a 300-frame, 478-keypoint shot one object at a time costs Python overhead per frame,
so the motion package works on `MotionTrack`, T frames stacked, and converts at the edges.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vedit.motion.types import KeypointMotion

__all__ = ["MotionTrack"]


@dataclass(frozen=True)
class MotionTrack:
    """Motion of one face over T frames (same model as `KeypointMotion`, stacked).

    Attributes:
        canonical: (T, K, 3) float64 canonical keypoints x_c.
        rotation: (T, 3, 3) float64 R, row-vector convention (x_c @ R).
        expression: (T, K, 3) float64 delta.
        scale: (T,) float64 s.
        translation: (T, 3) float64 t (t_z is dropped when composing keypoints).
    """

    canonical: np.ndarray
    rotation: np.ndarray
    expression: np.ndarray
    scale: np.ndarray
    translation: np.ndarray

    def __post_init__(self) -> None:
        for name in ("canonical", "rotation", "expression", "scale", "translation"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        t = self.scale.shape[0] if self.scale.ndim == 1 else -1
        k = self.canonical.shape[1] if self.canonical.ndim == 3 else -1
        if t < 1 or k < 1:
            raise ValueError("a MotionTrack needs scale (T,) and canonical (T, K, 3), T, K >= 1")
        expected = {
            "canonical": (t, k, 3),
            "rotation": (t, 3, 3),
            "expression": (t, k, 3),
            "translation": (t, 3),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must be {shape}, got {getattr(self, name).shape}")

    @classmethod
    def from_motions(cls, motions: Sequence[KeypointMotion]) -> MotionTrack:
        """Stack per-frame motions (all with the same K) into one track."""
        if len(motions) == 0:
            raise ValueError("cannot build a MotionTrack from zero frames")
        return cls(
            canonical=np.stack([m.canonical for m in motions]),
            rotation=np.stack([m.rotation for m in motions]),
            expression=np.stack([m.expression for m in motions]),
            scale=np.array([float(m.scale) for m in motions]),
            translation=np.stack([m.translation for m in motions]),
        )

    @classmethod
    def repeat(cls, motion: KeypointMotion, count: int) -> MotionTrack:
        """`count` copies of one frame's motion (e.g. a still source image)."""
        return cls.from_motions([motion]).take(np.zeros(count, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.scale.shape[0])

    @property
    def num_keypoints(self) -> int:
        """K, keypoints per frame."""
        return int(self.canonical.shape[1])

    def frame(self, i: int) -> KeypointMotion:
        """Frame i as a `KeypointMotion` (copies, so the track stays unchanged)."""
        return KeypointMotion(
            canonical=self.canonical[i].copy(),
            rotation=self.rotation[i].copy(),
            expression=self.expression[i].copy(),
            scale=float(self.scale[i]),
            translation=self.translation[i].copy(),
        )

    def take(self, indices: Any) -> MotionTrack:
        """New track of the frames at `indices` (int array, slice or bool mask).

        This is how a driving track is laid onto the source timeline:
        `driving.take(driving_map.indices)`.
        """
        if isinstance(indices, (int, np.integer)):
            indices = [int(indices)]
        return MotionTrack(
            canonical=self.canonical[indices],
            rotation=self.rotation[indices],
            expression=self.expression[indices],
            scale=self.scale[indices],
            translation=self.translation[indices],
        )

    def motions(self) -> list[KeypointMotion]:
        """Per-frame `KeypointMotion` list (what engines consume)."""
        return [self.frame(i) for i in range(len(self))]

    def with_arrays(self, **changes: np.ndarray) -> MotionTrack:
        """New track with some fields replaced (e.g. a smoothed expression)."""
        return replace(self, **changes)

    def keypoints(self) -> np.ndarray:
        """(T, K, 3) float64 x = s * (x_c @ R + delta) + t per frame, t_z dropped."""
        t = self.translation.copy()
        t[:, 2] = 0.0
        posed = np.matmul(self.canonical, self.rotation) + self.expression
        return self.scale[:, None, None] * posed + t[:, None, :]
