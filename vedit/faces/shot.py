"""Whole-shot face tracks: per-identity arrays, JSON round trip, main-face choice.

The tracker streams one frame at a time; the engines and the CLI want each person's whole
performance at once (frames present, landmarks, crop matrices) and a file they can reload
without re-running MediaPipe. ``ShotTracks`` is that, built from the stream.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vedit.errors import InputError, OutputError
from vedit.faces.types import N_LANDMARKS, CropTransform, FaceObservation

FORMAT = "vedit.tracks"
VERSION = 1


@dataclass(frozen=True)
class FaceTrack:
    """One person over a shot, from first to last appearance (frames ``start`` .. ``stop - 1``).

    Arrays have one row per frame of that span; rows of frames where the face was absent hold
    NaN (boxes, landmarks, crop matrices), confidence 0, and ``valid`` False.

    Attributes:
        track_id: identity, as in ``FaceObservation.track_id``.
        start: first frame index (inclusive).
        valid: (T,) bool, face present.
        boxes: (T, 4) float32 x0, y0, x1, y1 landmark extent, frame pixels.
        landmarks: (T, 478, 3) float32 mesh landmarks, frame pixels, z in pixels.
        frame_to_crop: (T, 2, 3) float64 smoothed crop affines, frame -> crop pixels.
        crop_to_frame: (T, 2, 3) float64 their inverses (paste-back).
        confidence: (T,) float32 in [0, 1].
        detected: (T,) bool, full detection confirmed the face on that frame.
        crop_size: side of the crop the affines map to, pixels.
    """

    track_id: int
    start: int
    valid: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    frame_to_crop: np.ndarray
    crop_to_frame: np.ndarray
    confidence: np.ndarray
    detected: np.ndarray
    crop_size: int = 512

    def __post_init__(self) -> None:
        t = len(self.valid)
        shapes = {"boxes": (t, 4), "landmarks": (t, N_LANDMARKS, 3),
                  "frame_to_crop": (t, 2, 3), "crop_to_frame": (t, 2, 3),
                  "confidence": (t,), "detected": (t,)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"FaceTrack.{name} must be {shape}, "
                                 f"got {getattr(self, name).shape}")
        if self.valid.dtype != np.bool_ or self.start < 0:
            raise ValueError("FaceTrack.valid must be bool and start >= 0")

    @property
    def stop(self) -> int:
        """One past the last frame index (half-open span)."""
        return self.start + len(self.valid)

    @property
    def frames(self) -> np.ndarray:
        """(T,) int64 frame indices of the rows."""
        return np.arange(self.start, self.stop, dtype=np.int64)

    @property
    def present_frames(self) -> np.ndarray:
        """(P,) int64 frames where the face was tracked."""
        return self.frames[self.valid]

    @property
    def absent_frames(self) -> np.ndarray:
        """(A,) int64 frames inside the span where the face was not seen (left, hidden...)."""
        return self.frames[~self.valid]

    def observation(self, frame: int) -> FaceObservation | None:
        """The face on one frame, or None when absent or outside the span."""
        i = frame - self.start
        if not 0 <= i < len(self.valid) or not self.valid[i]:
            return None
        crop = CropTransform(self.crop_size, self.frame_to_crop[i], self.crop_to_frame[i])
        return FaceObservation(track_id=self.track_id, box=self.boxes[i],
                               landmarks=self.landmarks[i], crop=crop,
                               confidence=float(self.confidence[i]),
                               detected=bool(self.detected[i]))

    def slice(self, start: int, stop: int) -> FaceTrack:
        """A new track holding only frames ``start <= f < stop`` (clipped to the span)."""
        a = min(max(start - self.start, 0), len(self.valid))
        b = min(max(stop - self.start, a), len(self.valid))
        return FaceTrack(self.track_id, self.start + a, self.valid[a:b].copy(),
                         self.boxes[a:b].copy(), self.landmarks[a:b].copy(),
                         self.frame_to_crop[a:b].copy(), self.crop_to_frame[a:b].copy(),
                         self.confidence[a:b].copy(), self.detected[a:b].copy(),
                         self.crop_size)

    @classmethod
    def from_observations(cls, track_id: int,
                          observations: dict[int, FaceObservation]) -> FaceTrack:
        """Stack one identity's observations keyed by frame index."""
        first, last = min(observations), max(observations)
        t = last - first + 1
        valid = np.zeros(t, dtype=bool)
        boxes = np.full((t, 4), np.nan, dtype=np.float32)
        lms = np.full((t, N_LANDMARKS, 3), np.nan, dtype=np.float32)
        f2c = np.full((t, 2, 3), np.nan)
        c2f = np.full((t, 2, 3), np.nan)
        conf = np.zeros(t, dtype=np.float32)
        det = np.zeros(t, dtype=bool)
        size = 512
        for frame, ob in observations.items():
            i = frame - first
            valid[i], boxes[i], lms[i] = True, ob.box, ob.landmarks
            f2c[i], c2f[i] = ob.crop.frame_to_crop, ob.crop.crop_to_frame
            conf[i], det[i], size = ob.confidence, ob.detected, ob.crop.size
        return cls(track_id, first, valid, boxes, lms, f2c, c2f, conf, det, size)


@dataclass(frozen=True)
class ShotTracks:
    """Every face track of one shot.

    Attributes:
        n_frames: frames in the shot.
        width: upright frame width, pixels.
        height: upright frame height, pixels.
        fps: nominal frame rate (None when unknown, e.g. frames passed in by hand).
        tracks: tracks sorted by id.
        source: the tracked file, for reference (not used to reload).
    """

    n_frames: int
    width: int
    height: int
    fps: Fraction | None
    tracks: tuple[FaceTrack, ...]
    source: str | None = None

    @property
    def ids(self) -> list[int]:
        """Track ids, ascending."""
        return [t.track_id for t in self.tracks]

    def track(self, track_id: int) -> FaceTrack:
        """The track with this id (KeyError if none)."""
        for t in self.tracks:
            if t.track_id == track_id:
                return t
        raise KeyError(f"no track {track_id}; ids are {self.ids}")

    def frame(self, index: int) -> list[FaceObservation]:
        """Faces on one frame, sorted by id."""
        obs = (t.observation(index) for t in self.tracks)
        return [o for o in obs if o is not None]

    def __iter__(self) -> Iterator[list[FaceObservation]]:
        """Per-frame face lists, like the tracker's stream."""
        return (self.frame(i) for i in range(self.n_frames))

    @classmethod
    def from_observations(cls, per_frame: Iterable[list[FaceObservation]], width: int,
                          height: int, fps: Fraction | None = None,
                          source: str | None = None) -> ShotTracks:
        """Collect a tracker stream (one list per frame, frame 0 first)."""
        by_id: dict[int, dict[int, FaceObservation]] = {}
        n = 0
        for index, faces in enumerate(per_frame):
            n = index + 1
            for ob in faces:
                by_id.setdefault(ob.track_id, {})[index] = ob
        tracks = tuple(FaceTrack.from_observations(k, by_id[k]) for k in sorted(by_id))
        return cls(n, width, height, fps, tracks, source)

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write ``{"format", "version", "n_frames", "width", "height", "fps", "frames": [...]}``.

        ``frames[i]`` is ``{"index": i, "faces": [{"id", "box", "confidence", "detected",
        "landmarks" (478 x [x, y, z], pixels, 2 decimals), "crop": {"size", "frame_to_crop"
        (2 x 3)}}]}``. Written to a temporary name, then renamed, so a reader never sees half
        a file.

        Raises:
            OutputError: the folder is missing or not writable.
        """
        path = Path(path)
        frames = []
        for i in range(self.n_frames):
            faces = [{"id": ob.track_id,
                      "box": [round(float(v), 2) for v in ob.box],
                      "confidence": round(ob.confidence, 4),
                      "detected": ob.detected,
                      "landmarks": np.round(ob.landmarks.astype(np.float64), 2).tolist(),
                      "crop": {"size": ob.crop.size,
                               "frame_to_crop": ob.crop.frame_to_crop.tolist()}}
                     for ob in self.frame(i)]
            frames.append({"index": i, "faces": faces})
        doc = {"format": FORMAT, "version": VERSION, "n_frames": self.n_frames,
               "width": self.width, "height": self.height,
               "fps": None if self.fps is None else str(self.fps),
               "source": self.source, "frames": frames}
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(path, f"cannot write tracks: {exc.strerror or exc}") from None
        return path

    def to_npz(self, path: str | os.PathLike) -> Path:
        """Exact binary copy (every array bit for bit): what render passes share.

        JSON rounds landmarks for people to read; chunks of one shot rendered on different
        workers must see exactly the same tracks, so batch jobs keep this form.
        """
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "meta": np.array(json.dumps({
                "format": FORMAT, "version": VERSION, "n_frames": self.n_frames,
                "width": self.width, "height": self.height,
                "fps": None if self.fps is None else str(self.fps), "source": self.source,
                "tracks": [[t.track_id, t.start, t.crop_size] for t in self.tracks]}))}
        for k, t in enumerate(self.tracks):
            for name in ("valid", "boxes", "landmarks", "frame_to_crop", "crop_to_frame",
                         "confidence", "detected"):
                arrays[f"t{k}.{name}"] = getattr(t, name)
        tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}.npz")
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(path, f"cannot write tracks: {exc.strerror or exc}") from None
        return path

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> ShotTracks:
        """Read a file written by ``to_npz`` (no pickle: plain arrays and a JSON header).

        Raises:
            InputError: missing, unreadable or not a vedit tracks file.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise InputError(path, "not a vedit face-tracks file")
                tracks = tuple(
                    FaceTrack(track_id=int(tid), start=int(start), crop_size=int(size),
                              **{name: z[f"t{k}.{name}"] for name in (
                                  "valid", "boxes", "landmarks", "frame_to_crop",
                                  "crop_to_frame", "confidence", "detected")})
                    for k, (tid, start, size) in enumerate(meta["tracks"]))
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(path, f"cannot read tracks: {exc}") from None
        fps = None if meta.get("fps") is None else Fraction(meta["fps"])
        return cls(int(meta["n_frames"]), int(meta["width"]), int(meta["height"]), fps, tracks,
                   meta.get("source"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ShotTracks:
        """Tracks from .npz (exact) or .json (as `vedit track` writes)."""
        return cls.from_npz(path) if str(path).endswith(".npz") else cls.from_json(path)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ShotTracks:
        """Read a file written by ``to_json``.

        Raises:
            InputError: missing, unreadable, not a vedit tracks file, or malformed.
        """
        from vedit.faces.crop import invert_affine

        path = Path(path)
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except OSError as exc:
            raise InputError(path, f"cannot read tracks: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(path, "not a vedit face-tracks file")
        if doc.get("version") != VERSION:
            raise InputError(path, f"tracks file version {doc.get('version')} is not "
                                   f"supported (expected {VERSION})")
        try:
            per_frame = []
            for entry in doc["frames"]:
                faces = []
                for f in entry["faces"]:
                    f2c = np.asarray(f["crop"]["frame_to_crop"], dtype=np.float64)
                    crop = CropTransform(int(f["crop"]["size"]), f2c, invert_affine(f2c))
                    faces.append(FaceObservation(
                        track_id=int(f["id"]), box=np.asarray(f["box"], dtype=np.float32),
                        landmarks=np.asarray(f["landmarks"], dtype=np.float32), crop=crop,
                        confidence=float(f["confidence"]), detected=bool(f["detected"])))
                per_frame.append(faces)
            fps = None if doc.get("fps") is None else Fraction(doc["fps"])
            shot = cls.from_observations(per_frame, int(doc["width"]), int(doc["height"]), fps,
                                         doc.get("source"))
            n = int(doc["n_frames"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"malformed tracks file: {exc}") from None
        return ShotTracks(n, shot.width, shot.height, shot.fps, shot.tracks, shot.source)


def main_face(shot: ShotTracks) -> int | None:
    """The id of the shot's main face: the track with the most face area over time.

    Area summed over the frames present rewards both size and screen time, so a driving clip's
    performer wins over a small passer-by or a face glimpsed for a few frames.

    Returns:
        The track id, or None when the shot has no face.
    """
    best, best_score = None, -math.inf
    for t in shot.tracks:
        b = t.boxes[t.valid]
        score = float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).sum())
        if score > best_score:
            best, best_score = t.track_id, score
    return best
