"""Landmarks <-> normalised crop coordinates, and their similarity (Procrustes) decomposition.

Normalised crop coordinates: a frame pixel p maps to n = k (p - c) / size, with c the centre of
the face's square crop in frame pixels, k its scale (crop pixels per frame pixel) and size its
side, so the crop spans [-0.5, 0.5] with the origin at its centre; z (MediaPipe depth in pixels)
is scaled by the same factor. Translations of different actors are then comparable, and a
keypoint delta of 0.01 is 1 % of the crop, i.e. a fixed fraction of the face's own size.

The crop's own rotation is ignored on purpose: the tracker turns its crops with the head's roll,
and normalising through that rotation would hide most of the roll from the decomposition (and
from Eq. 8, which then could not transfer it). The axes stay the frame's, so R holds the full
head rotation.
"""
from __future__ import annotations

import math

import numpy as np

from vedit.faces.types import CropTransform
from vedit.motion.types import KeypointMotion

from .topology import FACE_CHIN, FACE_TOP, MOUTH_PAIRS, RIGID


def _crop_scale(affine: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))


def _similarity(crop: CropTransform) -> tuple[np.ndarray, float]:
    """The crop's centre (2,) in frame pixels and its frame-pixel -> normalised factor k/size."""
    b = np.asarray(crop.crop_to_frame, np.float64)
    centre = b[:, :2] @ np.full(2, crop.size / 2.0) + b[:, 2]
    return centre, _crop_scale(np.asarray(crop.frame_to_crop, np.float64)) / crop.size


def to_normalised(landmarks: np.ndarray, crop: CropTransform) -> np.ndarray:
    """(K, 3) frame-pixel landmarks -> (K, 3) float64 normalised crop coordinates (no roll)."""
    p = np.asarray(landmarks, np.float64)
    centre, k = _similarity(crop)
    out = np.empty_like(p)
    out[:, :2] = (p[:, :2] - centre) * k
    out[:, 2] = p[:, 2] * k
    return out


def to_frame_xy(points: np.ndarray, crop: CropTransform) -> np.ndarray:
    """(K, >=2) normalised crop coordinates -> (K, 2) float64 frame pixels (z is dropped)."""
    centre, k = _similarity(crop)
    return np.asarray(points, np.float64)[:, :2] / k + centre


def umeyama(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity y ~ s * x @ R + t of two (N, 3) point sets (Umeyama 1991).

    Returns:
        s (float), R ((3, 3) rotation, det +1, row-vector convention) and t ((3,)).
    """
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    u, sig, vt = np.linalg.svd(xc.T @ yc)
    d = np.ones(3)
    d[2] = 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0
    r = (u * d) @ vt
    s = float((sig * d).sum() / max((xc**2).sum(), 1e-300))
    return s, r, my - s * (mx @ r)


def decompose(points: np.ndarray, canonical: np.ndarray) -> KeypointMotion:
    """Split (K, 3) normalised landmarks into x = s * (x_c @ R + delta) + t.

    s, R and t come from a similarity Procrustes of the canonical face's `RIGID` subset onto the
    same points of `points`. delta is what is left of every point in the frame's own orientation
    (the keypoint contract adds it after the rotation), scaled by 1/s, so it is a fraction of the
    face's size. As in `KeypointMotion.keypoints()`, t_z is left out of the reconstruction, so
    delta_z holds the (constant per frame) depth offset t_z / s; z does not affect 2-D rendering.
    """
    idx = list(RIGID)
    s, r, t = umeyama(canonical[idx], points[idx])
    t_xy0 = np.array([t[0], t[1], 0.0])
    delta = (points - t_xy0) / s - canonical @ r
    return KeypointMotion(canonical=canonical, rotation=r, expression=delta, scale=s,
                          translation=t)


def mouth_gap(points: np.ndarray) -> float:
    """Inner-lip gap over face height (MediaPipe's |13-14| measure), of (478, >=2) points."""
    p = np.asarray(points, np.float64)[:, :2]
    # sqrt(d.dot(d)) is np.linalg.norm(d), and a left-to-right sum over the (fewer than 8)
    # pairs is np.mean's, bit for bit, without their per-call cost
    gap = 0.0
    for a, b in MOUTH_PAIRS:
        d = p[a] - p[b]
        gap += math.sqrt(d.dot(d))
    gap /= len(MOUTH_PAIRS)
    d = p[FACE_TOP] - p[FACE_CHIN]
    return float(gap / max(math.sqrt(d.dot(d)), 1e-9))
