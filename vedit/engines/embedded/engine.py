"""EmbeddedEngine: LivePortrait's motion model on MediaPipe landmarks, rendered by a dense warp.

Explicit keypoints replace the learned ones: each face's 478 MediaPipe landmarks, in the face's
normalised crop coordinates (see `shape`), are split into x = s * (x_c @ R + delta) + t with a
similarity Procrustes of the rigid landmarks onto a constant canonical face (`topology`).
Rendering moves the source frame's pixels so its landmarks land on the target keypoints: a
piecewise-affine backward warp fading to exactly identity outside the head (`warp`), lids carried
as a whole and clamped (`eyes`), and the mouth interior painted where the source never showed it
(`mouth`). No weights, no downloads; CPU only.

Rendering is a pure function of (frame, observation, source and target keypoints) and of what
`prepare_shot` learned from the whole shot (each person's open-mouth exemplars and colours, from
frames chosen by their landmarks alone). Nothing changes while `motion()` or `render()` run, so
driving clips analysed by the same instance leave no trace, and any chunk of a shot renders to
exactly the pixels the whole shot would.

When only lower-face keypoints move (region "lip"), the lips keep their targets and the rest
of the lower face is derived from them (`jaw`: no silhouette deltas of a turning driving
reshape the jaw), and the warp is gated to the lower face: above the eyes' lower ring and
outside a margin around the face outline nothing moves, so eyes, lids, brows, hair, ears and
background stay the source's own pixels.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vedit.engines.base import REGIONS, Engine, FacePatch, register
from vedit.faces.types import FaceObservation
from vedit.motion.types import KeypointMotion

if TYPE_CHECKING:
    from vedit.faces.shot import ShotTracks

from .eyes import (
    EyeOptions,
    adjust_lids,
    eye_lids,
    fine_box,
    gaze_shift,
    occlusion_controls,
    pushed_sources,
    smooth_lids,
)
from .jaw import JawOptions, lip_mode_targets
from .mouth import (
    MouthOptions,
    MouthPainter,
    TrackMouth,
    choose_frames,
    keep_lip_thickness,
    learn_track,
    mouth_box,
    mouth_frame,
)
from .shape import decompose, mouth_gap, to_frame_xy, to_normalised, umeyama
from .topology import (
    EYES,
    FACE_OVAL,
    IRISES,
    N_POINTS,
    NOSE_BASE,
    RIGID,
    canonical_face,
    eye_region,
    lip_region,
)
from .warp import (
    Field,
    WarpOptions,
    alpha_from_displacement,
    apply_field,
    build_field,
    lower_gate,
)


@dataclass(frozen=True)
class EmbeddedOptions:
    """All parameters of the embedded engine (see each part's own options).

    Attributes:
        frontal_deg: largest head turn (angle between the face's forward axis and the camera
            axis) of a frame that `prepare_shot` may learn exemplars and colours from.
    """

    warp: WarpOptions = field(default_factory=WarpOptions)
    eyes: EyeOptions = field(default_factory=EyeOptions)
    mouth: MouthOptions = field(default_factory=MouthOptions)
    jaw: JawOptions = field(default_factory=JawOptions)
    frontal_deg: float = 25.0


#: How far (fraction of the face outline's radius) a lower-face-only warp may reach outside the
#: outline: room for the chin to drop, not enough to move the hair or ears.
LOWER_MARGIN = 0.12


@register
class EmbeddedEngine(Engine):
    """Landmark-keypoint engine: MediaPipe mesh motion, warp rendering, painted mouth interior.

    Args:
        options: engine parameters; defaults are tuned on the shared example clips.

    What the engine knows of each person (colours, open-mouth exemplars) is learned from the
    whole shot by `prepare_shot` and only read afterwards; `close()` drops it.
    """

    name = "embedded"

    def __init__(self, options: EmbeddedOptions | None = None) -> None:
        self.options = options or EmbeddedOptions()
        self._canonical = canonical_face()
        self._mouth = MouthPainter(self.options.mouth)
        self._controls = np.ones(N_POINTS, bool)
        self._controls[list(IRISES)] = False
        self._lower = lip_region()
        self._known: dict[int, tuple[tuple[int, int], TrackMouth]] = {}

    def prepare_shot(self, shot: ShotTracks, frame_at: Callable[[int], np.ndarray]) -> None:
        """Learn each person's mouth exemplars and colours from the whole shot.

        Frames are chosen from the tracks' landmarks alone (widest mouth openings of a frontal
        enough head, and frames spread over the track for colour), then fetched in increasing
        order, so the result depends only on the shot, never on what is rendered afterwards.

        Args:
            shot: every face track of the shot.
            frame_at: source frame i as (H, W, 3) uint8 RGB.
        """
        self._known = {}
        plans = {}
        for track in shot.tracks:
            frames = track.present_frames
            if len(frames) == 0:
                continue
            pts = track.landmarks[track.valid].astype(np.float64)
            gaps = np.array([mouth_gap(p) for p in pts])
            widths = np.array([mouth_frame(p[:, :2])[3] for p in pts])
            frontal = np.array([self._facing(p) for p in pts])
            plans[track.track_id] = (track, *choose_frames(frames, gaps, widths, frontal,
                                                           self.options.mouth))
        wanted = sorted({i for _, ex, col in plans.values() for i in (*ex, *col)})
        pictures = {i: frame_at(i) for i in wanted}
        for tid, (track, ex, col) in plans.items():
            frames = {i: (pictures[i], track.landmarks[i - track.start, :, :2].astype(np.float64))
                      for i in {*ex, *col}}
            self._known[tid] = ((shot.height, shot.width), learn_track(frames, ex, col))

    def _facing(self, landmarks: np.ndarray) -> bool:
        """Whether the head's forward axis is within `frontal_deg` of the camera axis."""
        idx = list(RIGID)
        _, r, _ = umeyama(self._canonical[idx], landmarks[idx])
        return bool(r[2, 2] >= np.cos(np.radians(self.options.frontal_deg)))

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
        for face in faces:
            out.append(decompose(to_normalised(face.landmarks, face.crop), self._canonical))
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
        step = np.abs(dst - src)
        step = np.maximum(step[:, 0], step[:, 1])      # .max(1), faster over an axis of 2
        # np.allclose(src, dst, rtol=0, atol=1e-3) from the steps: only a NaN step (a NaN, or
        # the same infinity in both) needs its rules
        biggest = step.max()
        if biggest <= 1e-3 or (np.isnan(biggest)
                               and np.allclose(src, dst, rtol=0.0, atol=1e-3)):
            return _empty_patch(frame, src)
        moving = step > 1e-6
        lower_only = not moving[~self._lower].any()
        if lower_only:
            dst = lip_mode_targets(src, dst, self.options.jaw)
            moving = np.abs(dst - src).max(1) > 1e-6
        dst = keep_lip_thickness(src, dst, self.options.mouth)
        eyes = self.options.eyes
        boxes: dict = {"mouth": mouth_box(dst)}
        extra = src_lids = dst_lids = None
        if not lower_only:
            # the eye frames and lid margins every lid step reads, computed once
            src_lids = eye_lids(src)
            dst = adjust_lids(src, dst, eyes, src_lids)
            dst_lids = eye_lids(dst)
            boxes.update({i: fine_box(dst, eye) for i, eye in enumerate(EYES)})
            extra = occlusion_controls(src, dst, eyes, src_lids, dst_lids)
        pushed = src if lower_only else pushed_sources(src, dst, eyes, src_lids, dst_lids)
        fld = build_field(pushed, dst, self._controls, frame.shape[:2], self.options.warp,
                          extra, boxes)
        if fld is None:
            return _empty_patch(frame, src)
        if lower_only:
            fld = self._lower_face(fld, src, dst, moving)
        for i, eye in enumerate(EYES):
            if i in fld.fine:
                x, y, d = fld.fine[i]
                frames = None if dst_lids is None else (src_lids[i].frame, dst_lids[i].frame)
                gaze = gaze_shift(src, dst, eye, (x, y), d.shape[:2], eyes, frames)
                if gaze is not None:
                    d += gaze
        rgb, disp = apply_field(frame, fld, self.options.warp.cubic)
        alpha = alpha_from_displacement(disp, self.options.warp)
        if not lower_only:
            smooth_lids(rgb, alpha, (fld.x0, fld.y0), src, dst, eyes, src_lids, dst_lids)
        shape, known = self._known.get(face.track_id, (None, None))
        self._mouth.paint(known if shape == frame.shape[:2] else None, frame, src, dst, rgb,
                          alpha, (fld.x0, fld.y0))
        # bounding box of alpha > 0 from its row and column projections (np.nonzero of the
        # whole box lists every pixel)
        painted = alpha > 0
        rows, cols = np.flatnonzero(painted.any(1)), np.flatnonzero(painted.any(0))
        if len(rows) == 0:
            return _empty_patch(frame, src)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return FacePatch(fld.x0 + int(x0), fld.y0 + int(y0),
                         np.ascontiguousarray(rgb[y0:y1, x0:x1]),
                         np.ascontiguousarray(alpha[y0:y1, x0:x1]))

    def _lower_face(self, fld: Field, src: np.ndarray, dst: np.ndarray,
                    moving: np.ndarray) -> Field:
        """`fld` gated to the lower face, for targets that move only lower-face keypoints.

        Nothing moves above the eyes' lower lid rings (plus a margin) nor outside the face
        outline (source and target, enlarged by `LOWER_MARGIN`); the full warp starts at the
        highest moving landmark, at the latest at the nose base.
        """
        down = src[152] - src[10]
        face_h = max(float(np.linalg.norm(down)), 1e-9)
        down /= face_h
        along = (src - src[10]) @ down
        eye_low = max(float(along[[*eye.ring2[2], *eye.lower]].max()) for eye in EYES)
        start = eye_low + 0.03 * face_h
        full = max(min(float(along[moving].min()), float(along[NOSE_BASE])), start + 1.0)
        oval = np.concatenate([src[list(FACE_OVAL)], dst[list(FACE_OVAL)]])
        hull = cv2.convexHull(oval.astype(np.float32))[:, 0].astype(np.float64)
        centre = oval.mean(0)
        region = centre + (1.0 + LOWER_MARGIN) * (hull - centre)
        return lower_gate(fld, src[10], down, start, full, region, 0.4 * LOWER_MARGIN * face_h)

    def close(self) -> None:
        """Forget what prepare_shot learned."""
        self._known = {}


def _check_lengths(frames: Sequence[np.ndarray], faces: Sequence[FaceObservation]) -> None:
    if len(frames) != len(faces):
        raise ValueError(f"{len(frames)} frames but {len(faces)} faces; pass frames[i] per face")


def _empty_patch(frame: np.ndarray, pts: np.ndarray) -> FacePatch:
    """A 1x1 patch with alpha 0 (nothing moves)."""
    h, w = frame.shape[:2]
    x = int(np.clip(np.round(pts[:, 0].mean()), 0, w - 1))
    y = int(np.clip(np.round(pts[:, 1].mean()), 0, h - 1))
    return FacePatch(x, y, frame[y:y + 1, x:x + 1].copy(), np.zeros((1, 1), np.float32))
