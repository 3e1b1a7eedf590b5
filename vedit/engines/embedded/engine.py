"""EmbeddedEngine: LivePortrait's motion model on MediaPipe landmarks, rendered by a dense warp.

Explicit keypoints replace the learned ones: each face's 478 MediaPipe landmarks, in the face's
normalised crop coordinates (see `shape`), are split into x = s * (x_c @ R + delta) + t with a
similarity Procrustes of the rigid landmarks onto a constant canonical face (`topology`).
Rendering moves the source frame's pixels so its landmarks land on the target keypoints: a
piecewise-affine backward warp fading to exactly identity outside the head (`warp`), lids carried
as a whole and clamped (`eyes`), and the mouth interior painted where the source never showed it
(`mouth`). No weights, no downloads; CPU only.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vedit.engines.base import REGIONS, Engine, FacePatch, register
from vedit.faces.types import FaceObservation
from vedit.motion.types import KeypointMotion

from .eyes import (
    EyeOptions,
    adjust_lids,
    fine_box,
    gaze_shift,
    occlusion_controls,
    pushed_sources,
    smooth_lids,
)
from .mouth import MouthOptions, MouthPainter, mouth_box
from .shape import decompose, to_frame_xy, to_normalised
from .topology import (
    EYES,
    IRISES,
    N_POINTS,
    canonical_face,
    eye_region,
    lip_region,
)
from .warp import WarpOptions, alpha_from_displacement, apply_field, build_field


@dataclass(frozen=True)
class EmbeddedOptions:
    """All parameters of the embedded engine (see each part's own options)."""

    warp: WarpOptions = field(default_factory=WarpOptions)
    eyes: EyeOptions = field(default_factory=EyeOptions)
    mouth: MouthOptions = field(default_factory=MouthOptions)


@register
class EmbeddedEngine(Engine):
    """Landmark-keypoint engine: MediaPipe mesh motion, warp rendering, painted mouth interior.

    Args:
        options: engine parameters; defaults are tuned on the shared example clips.

    The engine keeps small per-track state: colour estimates and a few open-mouth exemplars per
    (track_id, frame size), filled by `motion()` and `render()`; `close()` drops it.
    """

    name = "embedded"

    def __init__(self, options: EmbeddedOptions | None = None) -> None:
        self.options = options or EmbeddedOptions()
        self._canonical = canonical_face()
        self._mouth = MouthPainter(self.options.mouth)
        self._controls = np.ones(N_POINTS, bool)
        self._controls[list(IRISES)] = False

    def motion(self, frames: Sequence[np.ndarray],
               faces: Sequence[FaceObservation]) -> list[KeypointMotion]:
        """Decompose each face's landmarks (normalised crop coordinates) into s, R, delta, t.

        Args:
            frames: (H, W, 3) uint8 RGB frames; frames[i] holds faces[i].
            faces: tracked faces with landmarks and crop.

        Returns:
            One KeypointMotion per face, canonical = the constant canonical face (478, 3).
        """
        _check_lengths(frames, faces)
        out = []
        for frame, face in zip(frames, faces, strict=True):
            m = decompose(to_normalised(face.landmarks, face.crop), self._canonical)
            out.append(m)
            self._mouth.observe(_key(frame, face), frame,
                                np.asarray(face.landmarks, np.float64)[:, :2])
        return out

    def expression_mask(self, region: str) -> np.ndarray:
        """(478, 3) bool expression entries moved by `region`.

        all/exp: every landmark; pose: none; lip: the lips and every landmark below the nose
        base (jaw, chin, lower cheeks move with the mouth); eyes: lid margins, the two rings of
        lid skin around them, irises and brows.
        """
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; expected one of {REGIONS}")
        if region in ("all", "exp"):
            rows = np.ones(N_POINTS, bool)
        elif region == "pose":
            rows = np.zeros(N_POINTS, bool)
        elif region == "lip":
            rows = lip_region()
        else:
            rows = eye_region()
        return np.repeat(rows[:, None], 3, axis=1)

    def render(self, frames: Sequence[np.ndarray], faces: Sequence[FaceObservation],
               sources: Sequence[KeypointMotion],
               targets: Sequence[np.ndarray]) -> list[FacePatch]:
        """Warp each source frame so its landmarks move from sources[i] to targets[i].

        Args:
            frames: (H, W, 3) uint8 RGB source frames.
            faces: the source faces (their crops map keypoints back to frame pixels).
            sources: motion of each source face, as returned by `motion()`.
            targets: (478, 3) target keypoints, normalised crop coordinates of faces[i].

        Returns:
            One FacePatch per face: the box where pixels move; alpha is exactly 0 where the
            displacement is below `WarpOptions.alpha_floor` and the mouth is not painted.
        """
        _check_lengths(frames, faces)
        if not len(sources) == len(targets) == len(faces):
            raise ValueError("render needs one source motion and one target per face")
        return [self._render_one(f, o, s, np.asarray(t, np.float64))
                for f, o, s, t in zip(frames, faces, sources, targets, strict=True)]

    def _render_one(self, frame: np.ndarray, face: FaceObservation, source: KeypointMotion,
                    target: np.ndarray) -> FacePatch:
        if target.shape != (N_POINTS, 3):
            raise ValueError(f"target keypoints must be ({N_POINTS}, 3), got {target.shape}")
        src = to_frame_xy(source.keypoints(), face.crop)
        dst = to_frame_xy(target, face.crop)
        self._mouth.observe(_key(frame, face), frame, src)
        if np.allclose(src, dst, rtol=0.0, atol=1e-3):
            return _empty_patch(frame, src)
        eyes = self.options.eyes
        dst = adjust_lids(src, dst, eyes)
        boxes = {i: fine_box(dst, eye) for i, eye in enumerate(EYES)}
        boxes["mouth"] = mouth_box(dst)
        fld = build_field(pushed_sources(src, dst, eyes), dst, self._controls, frame.shape[:2],
                          self.options.warp, occlusion_controls(src, dst, eyes), boxes)
        if fld is None:
            return _empty_patch(frame, src)
        for i, eye in enumerate(EYES):
            if i in fld.fine:
                x, y, d = fld.fine[i]
                gaze = gaze_shift(src, dst, eye, (x, y), d.shape[:2], eyes)
                if gaze is not None:
                    d += gaze
        rgb, disp = apply_field(frame, fld, self.options.warp.cubic)
        alpha = alpha_from_displacement(disp, self.options.warp)
        smooth_lids(rgb, alpha, (fld.x0, fld.y0), src, dst, eyes)
        self._mouth.paint(_key(frame, face), frame, src, dst, rgb, alpha,
                          (fld.x0, fld.y0))
        ys, xs = np.nonzero(alpha > 0)
        if len(ys) == 0:
            return _empty_patch(frame, src)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        return FacePatch(fld.x0 + int(x0), fld.y0 + int(y0),
                         np.ascontiguousarray(rgb[y0:y1, x0:x1]),
                         np.ascontiguousarray(alpha[y0:y1, x0:x1]))

    def close(self) -> None:
        """Forget per-track colours and exemplars."""
        self._mouth = MouthPainter(self.options.mouth)


def _key(frame: np.ndarray, face: FaceObservation) -> tuple:
    return (face.track_id, frame.shape[0], frame.shape[1])


def _check_lengths(frames: Sequence[np.ndarray], faces: Sequence[FaceObservation]) -> None:
    if len(frames) != len(faces):
        raise ValueError(f"{len(frames)} frames but {len(faces)} faces; pass frames[i] per face")


def _empty_patch(frame: np.ndarray, pts: np.ndarray) -> FacePatch:
    """A 1x1 patch with alpha 0 (nothing moves)."""
    h, w = frame.shape[:2]
    x = int(np.clip(np.round(pts[:, 0].mean()), 0, w - 1))
    y = int(np.clip(np.round(pts[:, 1].mean()), 0, h - 1))
    return FacePatch(x, y, frame[y:y + 1, x:x + 1].copy(), np.zeros((1, 1), np.float32))
