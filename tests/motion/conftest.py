"""Random keypoint motions for the motion tests."""
from __future__ import annotations

import numpy as np
import pytest

from vedit.motion.types import KeypointMotion


def random_rotation(rng: np.random.Generator, max_angle: float | None = None) -> np.ndarray:
    """(3, 3) proper rotation: QR of a Gaussian matrix, signs fixed so det = +1.

    With max_angle (radians), a rotation about a random axis by an angle up to it instead.
    """
    if max_angle is not None:
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = rng.uniform(0.2, 1.0) * max_angle
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def random_motion(rng: np.random.Generator, k: int, canonical: np.ndarray | None = None,
                  max_angle: float | None = None) -> KeypointMotion:
    """A KeypointMotion with random everything (or the given canonical keypoints)."""
    return KeypointMotion(
        canonical=rng.normal(size=(k, 3)) if canonical is None else canonical,
        rotation=random_rotation(rng, max_angle),
        expression=0.05 * rng.normal(size=(k, 3)),
        scale=float(rng.uniform(0.8, 1.5)),
        translation=rng.normal(size=3) * 0.1,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def make_motion():
    """Factory fixture: random_motion(rng, k, canonical=None, max_angle=None)."""
    return random_motion


@pytest.fixture
def make_rotation():
    """Factory fixture: random_rotation(rng, max_angle=None)."""
    return random_rotation
