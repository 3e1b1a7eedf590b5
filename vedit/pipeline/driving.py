"""A driving performance, analysed once: its main face's motion per frame, smoothed.

Only keypoints are kept (a few KB per frame), never pictures, so a long driving clip costs
little memory, and one analysis serves every face and shot it drives.

A driving spliced from several takes is cut where its picture changes abruptly
(vedit.motion.cuts, a small thumbnail per frame); with cuts="join" (the default) each take's
head pose continues from where the previous take ended and no smoothing crosses a cut, so the
re-animated head does not jump there. Each take's main face is chosen on its own.

Analysing a driving (tracking + engine motion of every frame) costs seconds, and a batch would
pay it again in every chunk and shot the driving appears in. With a cache folder, the result is
stored once as an .npz (plain arrays plus a JSON string, loaded with pickle refused) under a
key of everything it depends on: the file's content identity, the engine and its settings,
smoothing, reference, lip mask, cut handling and tracker options. Entries are written to a
temporary name and renamed, so concurrent workers see a whole entry or none; an unreadable one
is recomputed.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vedit.engines.base import Engine
from vedit.errors import InputError
from vedit.faces import ShotTracks, TrackerConfig, create_tracker, main_face
from vedit.io import open_video
from vedit.motion import (
    CUT_MODES,
    CutDetector,
    KeypointMotion,
    MotionTrack,
    NoDrivingFaceError,
    SmoothedTrack,
    SmoothingOptions,
    driving_reference,
    smooth_track,
    take_bounds,
)

log = logging.getLogger("vedit.pipeline")

#: Tracker settings of a driving unless the caller's tracker options say otherwise: no routine
#: detections (see the module docstring).
DRIVING_TRACKER = {"detect_every": 1_000_000}


def driving_tracker_config(tracker_options: dict | None = None) -> TrackerConfig:
    """The tracker settings a driving is analysed with."""
    return TrackerConfig(**{**DRIVING_TRACKER, **(tracker_options or {})})


@dataclass(frozen=True)
class DrivingPerformance:
    """The motion of a driving clip's main face.

    Attributes:
        path: the driving clip.
        fps: its frame rate; count: its frames.
        smoothed: held-and-smoothed motion on the driving's own timeline, plus the raw track.
        reference: the reference motion (Eq. 8's driving frame 0).
        reference_index: which driving frame that is.
        held: (count,) bool, frames without a face (their motion is held from the last good).
        complete: False when only the first `count` frames were analysed (`frame_limit`).
    """

    path: Path
    fps: Fraction
    count: int
    smoothed: SmoothedTrack
    reference: KeypointMotion
    reference_index: int
    held: np.ndarray
    complete: bool = True

    @property
    def track(self) -> MotionTrack:
        return self.smoothed.track

    @property
    def cuts(self) -> np.ndarray:
        """Driving frames that start a new take (joined there); empty for one take."""
        return self.smoothed.cuts


def analyse_driving(path: Path, engine: Engine, *, smoothing: str = "paper",
                    reference: str | int = "first", lip_mask: np.ndarray | None = None,
                    tracker_options: dict | None = None, progress=None,
                    cache_dir: Path | None = None,
                    frame_limit: int | None = None, cuts: str = "join") -> DrivingPerformance:
    """Track a driving clip, read its main face's motion per frame, and smooth it.

    Args:
        cache_dir: folder of analysed drivings (see the module docstring): an analysis done
            before with the same file, engine and options is loaded instead of redone.
        frame_limit: analyse at most this many frames (a shot shorter than its driving needs
            only the start of it); the result says `complete=False` when it stopped early.
            Only for smoothing that does not look further ahead than one frame (not kalman),
            and never stored in the cache.
        cuts: "join" finds cuts between spliced takes and joins the takes' head motion there
            (see the module docstring); "off" treats the clip as one take.

    Raises:
        InputError: the clip is unreadable or shows no face at all.
        ValueError: an unknown `cuts` mode.
    """
    if cuts not in CUT_MODES:
        raise ValueError(f"cuts must be one of {CUT_MODES}, got {cuts!r}")
    if frame_limit is not None and smoothing == "kalman":
        raise ValueError("frame_limit needs a causal smoothing (the Kalman smoother looks at "
                         "the whole clip)")
    if cache_dir is None or frame_limit is not None:
        return _analyse(path, engine, smoothing, reference, lip_mask, tracker_options, progress,
                        frame_limit, cuts)
    key = driving_key(path, engine, smoothing=smoothing, reference=reference,
                      lip_mask=lip_mask, tracker_options=tracker_options, cuts=cuts)
    entry = _entry_path(Path(cache_dir), Path(path), key)
    found = _load_entry(entry, key, Path(path))
    if found is not None:
        log.info("%s: driving analysis loaded from %s", path, entry)
        _log_cuts(Path(path), found.cuts)
        if progress is not None:
            progress("driving", found.count, found.count)
        return found
    performance = _analyse(path, engine, smoothing, reference, lip_mask, tracker_options,
                           progress, cuts=cuts)
    try:
        _write_entry(entry, _to_arrays(performance, key))
    except OSError as exc:
        log.warning("%s: cannot store the driving analysis (%s); it is not cached", entry, exc)
    return performance


def _analyse(path: Path, engine: Engine, smoothing: str, reference: str | int,
             lip_mask: np.ndarray | None, tracker_options: dict | None,
             progress, frame_limit: int | None = None,
             cuts: str = "join") -> DrivingPerformance:
    config = driving_tracker_config(tracker_options)
    detector = CutDetector() if cuts == "join" else None
    per_frame: list[list] = []
    motions: dict[int, dict[int, KeypointMotion]] = {}
    batch_size = max(1, int(getattr(engine, "batch_size", 1)))
    pending: list[tuple[int, np.ndarray, object]] = []  # (frame index, rgb, face)

    def flush() -> None:
        if not pending:
            return
        found = engine.motion([rgb for _, rgb, _ in pending], [face for _, _, face in pending])
        for (index, _, face), motion in zip(pending, found, strict=True):
            motions.setdefault(face.track_id, {})[index] = motion
        pending.clear()

    cuts_seen: list[int] = []
    with open_video(path) as reader:
        fps = reader.info.fps
        total = reader.info.frame_count
        if frame_limit is not None and total is not None:
            total = min(total, frame_limit)
        complete = True
        tracker = create_tracker(config, float(fps))
        try:
            for frame in reader:
                if frame_limit is not None and frame.index >= frame_limit:
                    complete = False
                    break
                rgb = frame.rgb()
                if detector is not None and detector.add(rgb):
                    # A new take: a fresh tracker, so no crop smoothing glides from the old
                    # framing into this one (that glide would read as head motion).
                    cuts_seen.append(frame.index)
                    tracker.close()
                    tracker = create_tracker(config, float(fps))
                faces = tracker.update(rgb)
                per_frame.append(faces)
                pending.extend((frame.index, rgb, face) for face in faces)
                if len(pending) >= batch_size:
                    flush()
                if progress is not None:
                    progress("driving", frame.index + 1, total)
        finally:
            tracker.close()
        flush()
        width, height = reader.info.width, reader.info.height
    count = len(per_frame)
    cut_frames = np.asarray(cuts_seen, dtype=np.int64)
    series = _main_face_motions(per_frame, motions, take_bounds(count, cut_frames),
                                (width, height, fps), path)
    _log_cuts(Path(path), cut_frames)
    try:
        smoothed = smooth_track(series, SmoothingOptions(smoothing), fps=fps, cuts=cut_frames)
    except NoDrivingFaceError:
        raise InputError(path, "no face found in the driving clip") from None
    try:
        ref_index = driving_reference(smoothed, reference, lip_mask=lip_mask)
    except ValueError as exc:
        raise InputError(path, f"bad driving reference: {exc}") from None
    held = np.asarray(smoothed.held, dtype=bool)
    if held.any():
        log.warning("%s: no face in %d of %d driving frames; the last good expression holds",
                    path, int(held.sum()), count)
    return DrivingPerformance(path=Path(path), fps=fps, count=count, smoothed=smoothed,
                              reference=smoothed.raw.frame(ref_index), reference_index=ref_index,
                              held=held, complete=complete)


def _main_face_motions(per_frame: list[list], motions: dict[int, dict[int, KeypointMotion]],
                       takes: list[tuple[int, int]], picture: tuple[int, int, Fraction],
                       path: Path) -> list[KeypointMotion | None]:
    """Per frame, the motion of its take's main face (None where that face is absent).

    Each take picks its own main face: the tracker restarts at each cut, so identities are
    the take's own (and the clip's longest track alone would leave the other takes empty).

    Raises:
        InputError: no take has a face.
    """
    width, height, fps = picture
    series: list[KeypointMotion | None] = []
    found = False
    for start, stop in takes:
        shot = ShotTracks.from_observations(per_frame[start:stop], width, height, fps, str(path))
        main = main_face(shot)
        found = found or main is not None
        own = motions.get(main, {}) if main is not None else {}
        series.extend(own.get(i) for i in range(start, stop))
    if not found:
        raise InputError(path, "no face found in the driving clip")
    return series


def _log_cuts(path: Path, cuts: np.ndarray) -> None:
    """Say at INFO which driving frames start a new take, so a user can check them."""
    if len(cuts) == 0:
        return
    frames = ", ".join(str(int(c)) for c in cuts)
    plural = "s" if len(cuts) > 1 else ""
    log.info("%s: %d cut%s between driving takes, at frame%s %s; the takes are joined",
             path, len(cuts), plural, plural, frames)


# -- cache ------------------------------------------------------------------------------------
CACHE_FORMAT = 2
"""Bump when what an entry holds or how the analysis works changes: old entries then miss."""
_HEAD_TAIL = 1 << 20
_TRACK_FIELDS = ("canonical", "rotation", "expression", "scale", "translation")
_MOTION_FIELDS = ("canonical", "rotation", "expression", "translation")


def driving_key(path: Path, engine: Engine, *, smoothing: str = "paper",
                reference: str | int = "first", lip_mask: np.ndarray | None = None,
                tracker_options: dict | None = None, cuts: str = "join") -> str:
    """Cache key of an analysis: a hash of everything its result depends on."""
    from vedit import __version__

    data = {
        "format": CACHE_FORMAT,
        "vedit": __version__,
        "file": file_identity(Path(path)),
        "engine": engine_identity(engine),
        "smoothing": _plain(SmoothingOptions(smoothing)),
        "reference": reference,
        "cuts": cuts,
        "lip_mask": _plain(None if lip_mask is None else np.asarray(lip_mask)),
        "tracker": _plain(driving_tracker_config(tracker_options)),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def file_identity(path: Path) -> dict[str, Any]:
    """Size, mtime and a hash of the first and last MiB: cheap, and a changed file misses.

    Raises:
        InputError: the file cannot be read.
    """
    try:
        st = path.stat()
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            digest.update(fh.read(_HEAD_TAIL))
            if st.st_size > _HEAD_TAIL:
                fh.seek(max(_HEAD_TAIL, st.st_size - _HEAD_TAIL))
                digest.update(fh.read())
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}


def engine_identity(engine: Engine) -> dict[str, Any]:
    """What of an engine can change the motion it reads: name, conventions, settings.

    Settings are the engine's public attributes (private ones hold per-shot state). An engine
    whose motion depends on more than those (weights read into a network) can say so with a
    `cache_identity()` method returning JSON-able data.
    """
    kind = type(engine)
    data: dict[str, Any] = {
        "name": engine.name, "class": f"{kind.__module__}.{kind.__qualname__}",
        "conventions": _plain(engine.motion_conventions()),
        "settings": {k: _plain(v) for k, v in sorted(vars(engine).items())
                     if not k.startswith("_")},
    }
    identity = getattr(engine, "cache_identity", None)
    if callable(identity):
        data["identity"] = _plain(identity())
    return data


def _plain(value: Any) -> Any:
    """JSON-able form of a setting; arrays by content hash, other objects by their repr (one
    that shows an address differs per object: a miss, never a wrong hit)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, (Path, Fraction)):
        return str(value)
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"shape": list(data.shape), "dtype": str(data.dtype),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def _entry_path(folder: Path, driving: Path, key: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", driving.stem)[:40] or "driving"
    return folder / f"{stem}-{key}.npz"


def _to_arrays(perf: DrivingPerformance, key: str) -> dict[str, np.ndarray]:
    """Every array of a performance, exactly, plus its scalars as one JSON string."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, track in (("track", perf.smoothed.track), ("raw", perf.smoothed.raw)):
        for name in _TRACK_FIELDS:
            arrays[f"{prefix}_{name}"] = getattr(track, name)
    for name in _MOTION_FIELDS:
        arrays[f"reference_{name}"] = getattr(perf.reference, name)
    arrays["reference_scale"] = np.asarray(perf.reference.scale, dtype=np.float64)
    arrays["smoothed_held"] = perf.smoothed.held
    arrays["held"] = perf.held
    arrays["cuts"] = np.asarray(perf.smoothed.cuts, dtype=np.int64)
    meta = {"format": CACHE_FORMAT, "key": key, "fps": [perf.fps.numerator, perf.fps.denominator],
            "count": perf.count, "reference_index": perf.reference_index}
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def _from_arrays(data, meta: dict[str, Any], path: Path) -> DrivingPerformance:
    tracks = {prefix: MotionTrack(**{name: data[f"{prefix}_{name}"] for name in _TRACK_FIELDS})
              for prefix in ("track", "raw")}
    smoothed = SmoothedTrack(track=tracks["track"], raw=tracks["raw"],
                             held=data["smoothed_held"], cuts=data["cuts"])
    reference = KeypointMotion(scale=float(data["reference_scale"]),
                               **{name: data[f"reference_{name}"] for name in _MOTION_FIELDS})
    return DrivingPerformance(path=path, fps=Fraction(*meta["fps"]), count=int(meta["count"]),
                              smoothed=smoothed, reference=reference,
                              reference_index=int(meta["reference_index"]),
                              held=data["held"])


def _load_entry(entry: Path, key: str, path: Path) -> DrivingPerformance | None:
    """The cached performance, or None when there is none or it cannot be trusted."""
    if not entry.is_file():
        return None
    try:
        with np.load(entry, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                raise ValueError("entry made for another key")
            return _from_arrays(data, meta, path)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("%s: unreadable driving cache entry (%s); analysing the driving again",
                    entry, exc)
        return None


def _write_entry(entry: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, fsync'ed, then renamed."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=f".{entry.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, entry)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
