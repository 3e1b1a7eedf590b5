"""Multi-face tracking with persistent identities, one frame at a time.

``FaceTracker`` is the interface (one object per video: it owns the detector graphs and the
identities); ``MediaPipeFaceTracker`` implements it:

1. Every face already tracked is followed by running the mesh on a window around where its
   previous landmarks predict it (cost per face, not per pixel; the windows of one frame are
   meshed at once, a graph per core).
2. Full-frame detection runs every ``detect_every`` frames to find newcomers, and on every
   ``search_every``-th frame while a track is lost or nothing is tracked.
3. A new face is first offered to the lost tracks (appearance + size + position, Hungarian);
   if none fits it becomes a new identity, numbered in order of appearance, left to right.
4. A track lost for more than ``max_gap`` frames is closed for good.
"""
from __future__ import annotations

import abc
import logging
import math
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from vedit.faces import _assoc
from vedit.faces.config import TrackerConfig
from vedit.faces.crop import CropSmoother, crop_window
from vedit.faces.geometry import box_centre, box_iou, box_side, landmark_box
from vedit.faces.types import FaceObservation

if TYPE_CHECKING:
    from vedit.faces._mediapipe import Detection

log = logging.getLogger("vedit.faces")


@dataclass
class TrackerStats:
    """Counters of one tracking run (for benchmarks and the end-of-run warning).

    Attributes:
        frames: frames seen.
        detect_frames: frames on which full-frame detection ran.
        mesh_calls: mesh windows run.
        blank_frames: frames skipped as blank (black or uniform).
        small_faces: detections ignored as smaller than ``min_face_px``.
        observations: faces reported, summed over frames.
        tracks: identities created.
    """

    frames: int = 0
    detect_frames: int = 0
    mesh_calls: int = 0
    blank_frames: int = 0
    small_faces: int = 0
    observations: int = 0
    tracks: int = 0


class FaceTracker(abc.ABC):
    """Follows every face of one video; create one per video, feed frames in order.

    Args:
        config: tracker settings.
        fps: frame rate of the video (the crop smoothing is specified in Hz).
    """

    name: ClassVar[str]

    def __init__(self, config: TrackerConfig | None = None, fps: float = 30.0) -> None:
        self.config = config or TrackerConfig()
        self.fps = float(fps)
        self.stats = TrackerStats()
        self._warned: set[str] = set()
        self._closed = False

    @abc.abstractmethod
    def update(self, rgb: np.ndarray) -> list[FaceObservation]:
        """Track the next frame.

        Args:
            rgb: (H, W, 3) uint8 RGB upright frame.

        Returns:
            The faces visible in this frame, sorted by track id (empty when there are none).
        """

    def _release(self) -> None:  # noqa: B027 - optional hook, most trackers hold nothing
        """Free backend resources (graphs, sessions)."""

    def close(self) -> None:
        """Release the backend and warn once if the whole run found no face."""
        if self._closed:
            return
        self._closed = True
        self._release()
        s = self.stats
        if s.frames and not s.observations:
            reasons = []
            if s.blank_frames:
                reasons.append(f"{s.blank_frames} blank")
            if s.small_faces:
                reasons.append(f"{s.small_faces} faces below {self.config.min_face_px} px ignored")
            extra = f" ({', '.join(reasons)})" if reasons else ""
            log.warning("no face found in %d frame(s)%s", s.frames, extra)

    def _warn_once(self, key: str, msg: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


TRACKERS: dict[str, type[FaceTracker]] = {}


def register(cls: type[FaceTracker]) -> type[FaceTracker]:
    """Class decorator: make a tracker selectable by ``TrackerConfig.backend``."""
    TRACKERS[cls.name] = cls
    return cls


def create_tracker(config: TrackerConfig | None = None, fps: float = 30.0) -> FaceTracker:
    """A new tracker of the configured backend.

    Raises:
        vedit.errors.ConfigError: unknown backend name.
    """
    from vedit.errors import ConfigError

    config = config or TrackerConfig()
    if config.backend not in TRACKERS:
        raise ConfigError(None, f"unknown face tracker {config.backend!r}; "
                                f"known: {', '.join(sorted(TRACKERS))}")
    return TRACKERS[config.backend](config, fps)


@dataclass
class _Track:
    """Mutable state of one identity (internal)."""

    id: int
    landmarks: np.ndarray
    box: np.ndarray
    last_seen: int
    smoother: CropSmoother
    confidence: float
    hist: np.ndarray | None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    lost: bool = False
    detected_now: bool = False

    def predicted(self, index: int) -> tuple[np.ndarray, float]:
        """Centre and size expected at frame ``index`` (constant velocity)."""
        steps = min(index - self.last_seen, 3)
        return box_centre(self.box) + self.velocity * steps, box_side(self.box)


@dataclass
class _Face:
    """A mesh found this frame, before it is given to a track (internal)."""

    landmarks: np.ndarray
    box: np.ndarray
    score: float = 1.0
    detected: bool = False


@register
class MediaPipeFaceTracker(FaceTracker):
    """MediaPipe detection + mesh tracker (see module docstring for the algorithm)."""

    name = "mediapipe"

    def __init__(self, config: TrackerConfig | None = None, fps: float = 30.0) -> None:
        super().__init__(config, fps)
        from vedit.faces._mediapipe import Detector, MeshPool

        c = self.config
        self._detector = Detector(c.detection_confidence, c.nms_iou, c.detect_tiles)
        self._mesh = MeshPool(c.mesh_confidence, c.mesh_input)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._index = 0
        self._last_detect = -(10**9)
        self._force_detect = False

    def _release(self) -> None:
        self._detector.close()
        self._mesh.close()

    def update(self, rgb: np.ndarray) -> list[FaceObservation]:
        if self._closed:
            raise RuntimeError("tracker is closed")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
        rgb = np.ascontiguousarray(rgb)
        index = self._index
        self._index += 1
        self.stats.frames += 1
        self._expire(index)
        if self._is_blank(rgb):
            self.stats.blank_frames += 1
            self._warn_once("blank", "frame %d is blank (black or uniform): no face", index)
            for t in self._tracks:
                t.lost = True
            return []

        active = [t for t in self._tracks if not t.lost]
        searching = not active or len(active) < len(self._tracks) or self._force_detect
        since = index - self._last_detect
        run_detect = since >= self.config.detect_every or (
            searching and since >= self.config.search_every)
        detections = self._detect(rgb, index) if run_detect else []
        self._force_detect = False

        seen = self._follow(rgb, index, active)
        claimed = [t.box for t in seen]
        for t in seen:   # a detection over a followed face confirms it
            for det in detections:
                if _contains(t.box, box_centre(det.box)):
                    t.confidence, t.detected_now = det.score, True
                    break
        fresh = self._fresh_faces(rgb, detections, claimed)
        seen += self._admit(rgb, index, fresh)
        return self._observe(sorted(seen, key=lambda t: t.id))

    # -- steps -------------------------------------------------------------------------------

    def _is_blank(self, rgb: np.ndarray) -> bool:
        sample = rgb[::8, ::8]
        return int(sample.max()) - int(sample.min()) < self.config.blank_range

    def _expire(self, index: int) -> None:
        keep = []
        for t in self._tracks:
            if t.lost and index - t.last_seen > self.config.max_gap:
                log.debug("track %d closed after %d frames unseen", t.id, index - t.last_seen)
                continue
            keep.append(t)
        self._tracks = keep

    def _detect(self, rgb: np.ndarray, index: int) -> list[Detection]:
        self._last_detect = index
        self.stats.detect_frames += 1
        kept = []
        for det in self._detector(rgb):
            side = box_side(det.box)
            if side < self.config.min_face_px:
                self.stats.small_faces += 1
                self._warn_once("small", "frame %d: face of %.0f px ignored (min_face_px=%d)",
                                index, side, self.config.min_face_px)
                continue
            kept.append(det)
        return kept

    def _follow(self, rgb: np.ndarray, index: int, active: list[_Track]) -> list[_Track]:
        """Mesh each active track's window, then match windows' faces to tracks."""
        if not active:
            return []
        preds, windows = [], []
        for t in active:
            centre, side = t.predicted(index)
            preds.append((centre, side))
            speed = float(np.linalg.norm(t.velocity))
            windows.append((centre, self.config.roi_scale * side + 2.0 * speed))
        self.stats.mesh_calls += len(windows)
        faces = [_Face(lm, landmark_box(lm)) for found in self._mesh(rgb, windows)
                 for lm in found]
        # The same face seen from two overlapping windows counts once.
        keep = _assoc.dedupe([f.box for f in faces])
        faces = [faces[k] for k in keep]
        cost = _assoc.motion_cost(np.array([p[0] for p in preds]),
                                  np.array([p[1] for p in preds]),
                                  np.array([f.box for f in faces]).reshape(-1, 4))
        matched = dict(_assoc.assign(cost))
        seen = []
        for i, t in enumerate(active):
            if i in matched:
                self._update_track(rgb, t, faces[matched[i]], index)
                seen.append(t)
            else:
                t.lost = True
                log.debug("frame %d: track %d lost", index, t.id)
        return seen

    def _fresh_faces(self, rgb: np.ndarray, detections: list[Detection],
                     claimed: list[np.ndarray]) -> list[_Face]:
        """Meshes of detections that no followed face already covers (best score first)."""
        fresh: list[_Face] = []
        for det in detections:
            if len(fresh) >= self.config.max_faces - len(claimed):
                break
            taken = claimed + [f.box for f in fresh]
            centre = box_centre(det.box)
            if any(_contains(b, centre) for b in taken):
                continue
            best = None
            for lm in self._run_mesh(rgb, centre, self.config.roi_scale * box_side(det.box)):
                box = landmark_box(lm)
                if not _contains(box, centre):
                    continue
                if taken and box_iou(box[None], np.asarray(taken)).max() > 0.3:
                    continue
                d = float(np.linalg.norm(box_centre(box) - centre))
                if best is None or d < best[0]:
                    best = (d, _Face(lm, box, det.score, True))
            if best is not None:
                fresh.append(best[1])
        return fresh

    def _admit(self, rgb: np.ndarray, index: int, fresh: list[_Face]) -> list[_Track]:
        """Give new faces to lost tracks that they match, else open new identities."""
        if not fresh:
            return []
        lost = [t for t in self._tracks if t.lost]
        hists = [_assoc.appearance(rgb, f.box) for f in fresh]
        pairs = []
        if lost:
            cost = _assoc.reid_cost(np.array([t.box for t in lost]), [t.hist for t in lost],
                                    np.array([index - t.last_seen for t in lost]),
                                    np.array([f.box for f in fresh]), hists,
                                    self.config.reid_max_distance)
            pairs = _assoc.assign(cost)
        out: list[_Track] = []
        taken = set()
        for i, j in pairs:
            t = lost[i]
            log.debug("frame %d: track %d back after %d frames", index, t.id,
                      index - t.last_seen)
            t.lost = False
            t.velocity = np.zeros(2)
            self._update_track(rgb, t, fresh[j], index)
            t.detected_now = True
            out.append(t)
            taken.add(j)
        room = self.config.max_faces - sum(not t.lost for t in self._tracks)
        new = sorted((j for j in range(len(fresh)) if j not in taken),
                     key=lambda j: box_centre(fresh[j].box)[0])
        for j in new[:max(room, 0)]:
            f = fresh[j]
            t = _Track(id=self._next_id, landmarks=f.landmarks, box=f.box, last_seen=index,
                       smoother=CropSmoother(self.config.crop, self.fps), confidence=f.score,
                       hist=hists[j], detected_now=True)
            self._next_id += 1
            self.stats.tracks += 1
            log.debug("frame %d: new track %d", index, t.id)
            self._tracks.append(t)
            out.append(t)
        return out

    def _update_track(self, rgb: np.ndarray, t: _Track, face: _Face, index: int) -> None:
        old_centre, old_side = box_centre(t.box), box_side(t.box)
        new_centre, new_side = box_centre(face.box), box_side(face.box)
        steps = max(index - t.last_seen, 1)
        if steps == 1:
            t.velocity = 0.5 * t.velocity + 0.5 * (new_centre - old_centre)
        jump = float(np.linalg.norm(new_centre - old_centre)) > 0.5 * old_side
        if steps > 1 and jump:
            t.smoother.reset()   # came back elsewhere: do not glide across the frame
        if abs(math.log(max(new_side, 1.0) / max(old_side, 1.0))) > 0.25:
            self._force_detect = True   # sudden size change: double-check with the detector
        t.landmarks, t.box, t.last_seen = face.landmarks, face.box, index
        if face.detected:
            t.confidence = face.score
        if index % 5 == 0 or t.hist is None:
            t.hist = _assoc.blend_appearance(t.hist, _assoc.appearance(rgb, face.box))

    def _observe(self, tracks: list[_Track]) -> list[FaceObservation]:
        out = []
        for t in tracks:
            window = t.smoother(crop_window(t.landmarks, self.config.crop))
            out.append(FaceObservation(
                track_id=t.id, box=t.box.copy(), landmarks=t.landmarks.copy(),
                crop=window.transform(self.config.crop.size), confidence=float(t.confidence),
                detected=t.detected_now))
            t.detected_now = False
        self.stats.observations += len(out)
        return out

    def _run_mesh(self, rgb: np.ndarray, centre: np.ndarray, side: float) -> list[np.ndarray]:
        self.stats.mesh_calls += 1
        return self._mesh(rgb, [(centre, side)])[0]


def _contains(box: np.ndarray, point: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])
