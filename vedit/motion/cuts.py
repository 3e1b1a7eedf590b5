"""Cuts between driving takes: find them in the pictures, and join the takes' head motion.

Editors often hand in a driving performance that is two or more takes spliced together. Eq. 8
measures the driving's head motion from one reference frame, so at a cut, where the camera
position, zoom and head placement change, the re-animated head would jump with them, and the
smoothing would mix frames of both takes.

Finding cuts (PySceneDetect's "content" idea, numpy only): each frame becomes a small HSV
thumbnail; the change between consecutive frames is the mean absolute difference of hue
(circular), saturation and value on a 0-255 scale. A cut is a change that is both large in
itself (`MIN_PICTURE_CHANGE`) and large against the clip's recent typical change
(`MIN_CHANGE_RATIO` times the median change of the previous `NEIGHBOURS` frames), so fast
head motion, a dancing full-body shot or a noisy talking clip do not fire. The test only looks
back, so a cut is known when its frame arrives: the driving analysis restarts its face tracker
there, whose crop smoothing would otherwise glide for a few frames from the old framing to the
new one (motion is read in crop coordinates, so that glide would be head motion).

Measured on the project's real clips (../shared/media): the largest change of any continuous
frame is 12.5 (s13, a dancer); a cut to a reframed take of the same performance (1.15x zoom,
small shift) scores 23.6 at ~24x the frames before it, a cut to another clip or a 1.5x
reframe 46-49. Hence 18 and 6: above every real change, below every cut, and a clip whose
typical change is 3 (a talking head, d11) still cuts at 18. Neither test suffices alone: the
dancer's fastest frames reach 8.8 times the median of the frames before them (at a change of
11.5), and a steady fast pan changes a lot every frame.

The face box is not used to confirm a cut: a dancer's face box jumps by 0.3 face sizes between
real frames, while a cut between two centred close-ups moves it by 0.07, so it would veto real
cuts and not veto anything the picture test lets through.

Joining takes: at each cut c, the following take's rigid motion continues from where the
previous take ended, a zero-motion step at the cut (row vectors, x_c @ R, as eq8.py):

    R'_i = (R_i R_c^-1) R'_c-1,    t'_i = t_i - t_c + t'_c-1,    s'_i = s_i s'_c-1 / s_c.

Within a take every relative motion Eq. 8 uses is kept exactly (R'_i R'_j^-1 = R_i R_j^-1,
t'_i - t'_j = t_i - t_j, s'_i / s'_j = s_i / s_j). Expressions are absolute, in canonical
space, and are not chained (that would accumulate drift); smoothing.py only never smooths
across a cut.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from vedit.motion.track import MotionTrack

__all__ = [
    "CUT_MODES",
    "MIN_CHANGE_RATIO",
    "MIN_PICTURE_CHANGE",
    "CutDetector",
    "find_cuts",
    "is_cut",
    "join_takes",
    "picture_change",
    "picture_signature",
    "take_bounds",
]

CUT_MODES = ("join", "off")
"""join: detect cuts, join the takes' pose and smooth each take on its own; off: Eq. 8 as is."""

MIN_PICTURE_CHANGE = 18.0
"""Smallest picture change (0-255 HSV scale) that can be a cut; real clips peak at 12.5."""

MIN_CHANGE_RATIO = 6.0
"""A cut's change over the median change of the frames before it."""

NEIGHBOURS = 8
"""Frames before a frame whose changes give its typical change."""

_THUMBNAIL_ROWS = 36
_SAMPLES_PER_BLOCK = 5


def picture_signature(rgb: np.ndarray) -> np.ndarray:
    """A frame as a small HSV thumbnail, (rows, cols, 3) float32 in [0, 1].

    Means of blocks ~1/36 of the height: small enough that noise, grain and compression
    shimmer average out, large enough that a reframed shot differs everywhere. Each block is
    sampled on a grid of at most 5 x 5 pixels, so a 4K frame costs about what a small one does
    (under a millisecond). Sums are exact integers, one axis at a time (a mean over two
    non-adjacent axes of a float copy cost twice as much).
    """
    rgb = np.asarray(rgb)
    h, w = rgb.shape[:2]
    block = max(1, h // _THUMBNAIL_ROWS)
    step = max(1, block // _SAMPLES_PER_BLOCK)
    block -= block % step
    hh, ww = (h // block) * block, (w // block) * block
    per_block = block // step
    rows, cols = hh // block, ww // block
    sampled = rgb[:hh:step, :ww:step, :3]
    column_sums = sampled.reshape(rows, per_block, cols * per_block * 3).sum(axis=1,
                                                                             dtype=np.uint32)
    sums = column_sums.reshape(rows, cols, per_block, 3).sum(axis=2, dtype=np.uint32)
    return _hsv(sums.astype(np.float32) / np.float32(per_block * per_block * 255))


def _hsv(rgb: np.ndarray) -> np.ndarray:
    """HSV of RGB in [0, 1], hue as a fraction of a turn (0 for greys)."""
    top, bottom = rgb.max(axis=-1), rgb.min(axis=-1)
    spread = top - bottom
    safe = np.maximum(spread, 1e-12)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(top == r, ((g - b) / safe) % 6.0,
                   np.where(top == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)) / 6.0
    hue = np.where(spread > 0, hue, 0.0)
    saturation = np.where(top > 0, spread / np.maximum(top, 1e-12), 0.0)
    return np.stack([hue, saturation, top], axis=-1).astype(np.float32)


def picture_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute HSV difference of two signatures on a 0-255 scale (hue circular)."""
    if a.shape != b.shape:
        return 255.0
    hue = np.abs(a[..., 0] - b[..., 0])
    hue = 2.0 * np.minimum(hue, 1.0 - hue)
    rest = np.abs(a[..., 1:] - b[..., 1:])
    return float(255.0 * (hue.mean() + rest[..., 0].mean() + rest[..., 1].mean()) / 3.0)


def find_cuts(changes: Sequence[float] | np.ndarray,
              min_change: float = MIN_PICTURE_CHANGE,
              min_ratio: float = MIN_CHANGE_RATIO,
              neighbours: int = NEIGHBOURS) -> np.ndarray:
    """Frames that start a new take, from the picture changes of consecutive frames.

    Args:
        changes: (T,) change of frame i from frame i-1 (`changes[0]` is ignored).
        min_change: a cut's smallest change.
        min_ratio: a cut's smallest change over the median change of the `neighbours` frames
            before it; the median is floored at 1 so a still clip's near-zero changes do not
            make every small flicker a cut.

    Returns:
        (N,) int64 sorted frame indices c >= 1: frame c is the first of a new take.
    """
    changes = np.asarray(changes, dtype=np.float64)
    candidates = np.flatnonzero(changes[1:] >= min_change) + 1
    cuts = [int(i) for i in candidates if is_cut(changes, int(i), min_change, min_ratio,
                                                   neighbours)]
    return np.asarray(cuts, dtype=np.int64)


def is_cut(changes: Sequence[float] | np.ndarray, index: int,
           min_change: float = MIN_PICTURE_CHANGE, min_ratio: float = MIN_CHANGE_RATIO,
           neighbours: int = NEIGHBOURS) -> bool:
    """Whether frame `index` starts a new take, from its change and the ones before it only."""
    change = float(changes[index])
    if index < 1 or change < min_change:
        return False
    before = np.asarray(changes[max(1, index - neighbours):index], dtype=np.float64)
    typical = max(float(np.median(before)) if before.size else 0.0, 1.0)
    return change >= min_ratio * typical


class CutDetector:
    """Cuts of a clip fed one frame at a time, each known when its frame arrives.

    Keeps the previous frame's thumbnail and one float per frame, never pictures.
    """

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self.changes: list[float] = []

    def add(self, rgb: np.ndarray) -> bool:
        """The next frame, (H, W, 3) uint8 RGB. Returns whether it starts a new take."""
        signature = picture_signature(rgb)
        previous, self._previous = self._previous, signature
        self.changes.append(0.0 if previous is None else picture_change(previous, signature))
        return is_cut(self.changes, len(self.changes) - 1)

    def cuts(self) -> np.ndarray:
        """Frames that start a new take (see `find_cuts`)."""
        return find_cuts(self.changes)


def take_bounds(count: int, cuts: Sequence[int] | np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop)] of each take of a `count`-frame clip cut at `cuts`.

    Cuts outside 1..count-1 are ignored (a partly analysed clip keeps its full list).
    """
    inside = sorted({int(c) for c in np.asarray(cuts, dtype=np.int64).ravel() if 0 < c < count})
    edges = [0, *inside, count]
    return list(itertools.pairwise(edges))


def join_takes(track: MotionTrack, cuts: Sequence[int] | np.ndarray) -> MotionTrack:
    """The track with each take's rotation, translation and scale continuing the previous one.

    See the module docstring for the formulas. Canonical keypoints and expressions are kept.
    Returns the input itself when there is no cut inside the track.
    """
    bounds = take_bounds(len(track), cuts)
    if len(bounds) == 1:
        return track
    rotation = track.rotation.copy()
    translation = track.translation.copy()
    scale = track.scale.copy()
    for start, stop in bounds[1:]:
        own = track.rotation[start:stop] @ track.rotation[start].T  # R_i R_c^-1
        own[0] = np.eye(3)  # exact, so the cut itself is a zero-motion step
        rotation[start:stop] = own @ rotation[start - 1]
        translation[start:stop] = (track.translation[start:stop] - track.translation[start]
                                   + translation[start - 1])
        scale[start:stop] = track.scale[start:stop] * (scale[start - 1] / track.scale[start])
    return track.with_arrays(rotation=rotation, translation=translation, scale=scale)
