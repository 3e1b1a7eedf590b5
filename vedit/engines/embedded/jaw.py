"""Lip mode (dubbing): the lower face follows the lips, the rest of the head stays the source's.

Eq. 8 with only the lower-face expression entries moves the lips, and also the jaw outline,
chin and cheeks by the driving's deltas. The outline points are a silhouette, not fixed skin:
when the driving actor turns or nods they slide over the face, and their deltas say the jaw
moved when it did not. Drawn into the source, that reshapes the lower face, and a landmark
model reading the result fits a head pitched or turned by a degree or two (on s18 x d11, 1.3
degrees on average against the source's own pose, up to 3 in frames where the mouth barely
moves). So in lip mode the lips keep their Eq. 8 targets and the rest of the lower face is
derived from them: skin next to the lips follows its nearest lip point (philtrum, mouth
corners, the fold under the lower lip), the chin and jaw follow a fixed share of the lower
lip's drop (`chin_follow`) straight down the face (a jaw opens by turning about hinges beside
the ears, which in a frontal view moves it down, not sideways), and nothing else moves: the
face outline above the mouth corners, the cheeks and the nose stay the source's, and the
lower outline keeps its width. The mouth opens as a real one does, with the jaw.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .topology import (
    FACE_CHIN,
    FACE_OVAL,
    FACE_TOP,
    LIPS,
    OUTER_LOWER,
    OUTER_UPPER,
    canonical_face,
    lip_region,
)


@dataclass(frozen=True)
class JawOptions:
    """Parameters of the lip-mode lower face.

    Attributes:
        chin_follow: fraction of the lower lip's drop that the chin and jaw follow.
        lip_reach: how far (face heights, canonical face) around the lips the skin follows its
            nearest lip point rather than the jaw (Gaussian fall-off).
    """

    chin_follow: float = 0.8
    lip_reach: float = 0.08


@functools.lru_cache(maxsize=8)
def _weights(chin_follow: float, lip_reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per landmark: the outer-lip point it is nearest to, how closely it follows that point
    (1 on the lip, falling off with distance; 0 on the face outline), and the share of the
    lower lip's drop it follows as part of the jaw (0 above the mouth corners, `chin_follow`
    from the lower lip down). Both are 0 for the lips themselves and outside the lower face."""
    t = canonical_face()
    face_h = float(np.linalg.norm(t[FACE_CHIN, :2] - t[FACE_TOP, :2]))
    ring = np.array(sorted(set(OUTER_UPPER + OUTER_LOWER)))
    dist = np.sqrt(((t[:, None, :2] - t[None, ring, :2]) ** 2).sum(-1))
    nearest = ring[dist.argmin(1)]
    near = np.exp(-((dist.min(1) / face_h / max(lip_reach, 1e-9)) ** 2))
    corner_y = float(t[[OUTER_LOWER[0], OUTER_LOWER[-1]], 1].mean())
    bottom_y = float(t[list(OUTER_LOWER), 1].max())
    ramp = np.clip((t[:, 1] - corner_y) / max(bottom_y - corner_y, 1e-9), 0.0, 1.0)
    jaw = chin_follow * ramp * ramp * (3.0 - 2.0 * ramp)
    moves = lip_region()
    moves[list(LIPS)] = False
    moves[[i for i in FACE_OVAL if t[i, 1] <= corner_y]] = False
    near, jaw = np.where(moves, near, 0.0), np.where(moves, jaw, 0.0)
    near[list(FACE_OVAL)] = 0.0                 # the outline moves with the jaw alone

    for a in (nearest, near, jaw):
        a.flags.writeable = False
    return nearest, near, jaw


def lip_mode_targets(src: np.ndarray, dst: np.ndarray, opts: JawOptions) -> np.ndarray:
    """Targets for a lower-face-only edit: lips as given, the rest of the lower face from them.

    Args:
        src, dst: (478, 2) float64 source and target landmarks, frame pixels; `dst` differs
            from `src` only in the lower face (lip mode).
        opts: jaw parameters.

    Returns:
        (478, 2) float64: the lips of `dst`; every other lower-face point moved by a blend of
        its nearest lip point's motion (skin next to the lips) and its share of the lower
        lip's drop straight down the face (the jaw); all other points at `src`.
    """
    nearest, near, jaw = _weights(opts.chin_follow, opts.lip_reach)
    down = src[FACE_CHIN] - src[FACE_TOP]
    down /= max(float(np.linalg.norm(down)), 1e-9)
    lip = list(OUTER_LOWER[1:-1])
    drop = float(((dst[lip] - src[lip]) @ down).mean())
    follow = dst[nearest] - src[nearest]
    out = src + near[:, None] * follow + ((1.0 - near) * jaw * drop)[:, None] * down
    out[list(LIPS)] = dst[list(LIPS)]
    return out
