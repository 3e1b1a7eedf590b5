"""Small rotation helpers shared by Eq. 8 composition and track smoothing (numpy only).

Every function takes stacks of matrices (..., 3, 3) so a whole track is handled in one call.
They are convention-agnostic: a matrix and its transpose (row- vs column-vector use) have the
same angle, and the matrix <-> quaternion maps below are exact inverses of each other, so
clamping an angle never flips the rotation's sense whichever convention the caller uses.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "clamp_rotation_angle",
    "matrix_to_quaternion",
    "nearest_rotation",
    "quaternion_to_matrix",
    "rotation_angle",
]


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """Closest proper rotation to each matrix (Frobenius norm), via SVD.

    Smoothing rotation matrices entry by entry leaves them slightly non-orthogonal (an
    average of rotations is not a rotation); this puts them back on SO(3) without biasing
    any axis, which Gram-Schmidt would.

    Args:
        m: (..., 3, 3) float matrices.

    Returns:
        (..., 3, 3) float64 rotations with determinant +1.
    """
    u, _, vt = np.linalg.svd(np.asarray(m, dtype=np.float64))
    det = np.linalg.det(u @ vt)
    fix = np.ones((*u.shape[:-2], 3))
    fix[..., 2] = np.sign(det) + (det == 0)
    return (u * fix[..., None, :]) @ vt


def rotation_angle(r: np.ndarray) -> np.ndarray:
    """Rotation angle in radians, in [0, pi], of each (..., 3, 3) rotation."""
    r = np.asarray(r, dtype=np.float64)
    q = matrix_to_quaternion(r)
    return 2.0 * np.arctan2(np.linalg.norm(q[..., 1:], axis=-1), np.abs(q[..., 0]))


def matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z) with w >= 0 of (..., 3, 3) rotations (Shepperd's method).

    Shepperd's branch on the largest diagonal term stays accurate near 180 degrees, where the
    plain trace formula divides by ~0.

    Returns:
        (..., 4) float64.
    """
    m = np.asarray(r, dtype=np.float64)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    diag = np.stack([m00 + m11 + m22, m00, m11, m22], axis=-1)
    case = np.argmax(diag, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = 2.0 * np.sqrt(np.maximum(1.0 + m00 + m11 + m22, 1e-300))
        s1 = 2.0 * np.sqrt(np.maximum(1.0 + m00 - m11 - m22, 1e-300))
        s2 = 2.0 * np.sqrt(np.maximum(1.0 - m00 + m11 - m22, 1e-300))
        s3 = 2.0 * np.sqrt(np.maximum(1.0 - m00 - m11 + m22, 1e-300))
        candidates = np.stack(
            [
                np.stack([s0 / 4, (m21 - m12) / s0, (m02 - m20) / s0, (m10 - m01) / s0], -1),
                np.stack([(m21 - m12) / s1, s1 / 4, (m01 + m10) / s1, (m02 + m20) / s1], -1),
                np.stack([(m02 - m20) / s2, (m01 + m10) / s2, s2 / 4, (m12 + m21) / s2], -1),
                np.stack([(m10 - m01) / s3, (m02 + m20) / s3, (m12 + m21) / s3, s3 / 4], -1),
            ],
            axis=-2,
        )
    q = np.take_along_axis(candidates, case[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations of (..., 4) quaternions (w, x, y, z); inverse of the above."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def clamp_rotation_angle(r: np.ndarray, max_angle_rad: float) -> np.ndarray:
    """Rotations whose angle exceeds `max_angle_rad` shortened to it, keeping their axis.

    Rotations already within the bound are returned bit-for-bit unchanged (no round trip
    through quaternions), so a limit never perturbs motion it does not actually limit.

    Args:
        r: (..., 3, 3) rotations.
        max_angle_rad: the bound, >= 0.

    Returns:
        (..., 3, 3) float64, a new array.
    """
    if max_angle_rad < 0:
        raise ValueError(f"max_angle_rad must be >= 0, got {max_angle_rad}")
    r = np.array(r, dtype=np.float64)
    q = matrix_to_quaternion(r)
    vec_norm = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2.0 * np.arctan2(vec_norm, q[..., 0])
    over = angle > max_angle_rad
    if not np.any(over):
        return r
    half = 0.5 * max_angle_rad
    axis = q[..., 1:] / np.where(vec_norm > 0, vec_norm, 1.0)[..., None]
    clamped = np.concatenate([np.full((*q.shape[:-1], 1), np.cos(half)), axis * np.sin(half)], -1)
    r[over] = quaternion_to_matrix(clamped[over])
    return r
