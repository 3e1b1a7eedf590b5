"""`vedit edit`: re-animate every tracked face of a shot from its driving performance.

Data flow, per shot:
    drivings --track + engine.motion--> DrivingPerformance (keypoints only, smoothed)
    source   --pass 1: decode + track--> ShotTracks (every face, every frame, stable IDs)
    source   --pass 2: decode--> per face: engine.motion -> Eq. 8 (vedit.motion) ->
             engine.render -> composite -> writer (untouched pixels pass through bit-exact)

Tracking the whole shot first costs a second decode (none for a short shot, whose decoded
frames pass 1 keeps) but makes each frame's render depend only on that frame and the shot's
tracks: chunks of a shot rendered apart join into exactly the same result, and a face's ID is
settled before any pixel is drawn.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from vedit.composite import composite
from vedit.engines import create_engine
from vedit.engines.base import Engine, FacePatch
from vedit.errors import ConfigError, InputError
from vedit.faces import ShotTracks, TrackerConfig, create_tracker, track_frames
from vedit.io import (
    DecodedFrame,
    VideoWriter,
    frame_pts,
    is_image,
    open_video,
    probe,
    read_image,
)
from vedit.io.info import ColourTags, VideoInfo
from vedit.motion import DrivingMap, MotionOptions, compose, map_driving, still_source_timeline
from vedit.pipeline.config import EditConfig
from vedit.pipeline.driving import DrivingPerformance, analyse_driving
from vedit.pipeline.preview import PreviewWriter
from vedit.pipeline.stages import Prefetch, Sink

log = logging.getLogger("vedit.pipeline")

Progress = Callable[[str, int, "int | None"], None]
"""Called with (stage, frames done, total or None)."""


@dataclass
class EditResult:
    """What a run did: for the log, the QA report and the batch manifest."""

    output: Path
    frames: int
    faces: list[int]
    animated_frames: dict[int, int] = field(default_factory=dict)
    drivings: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def edit(config: EditConfig, progress: Progress | None = None,
         engine: Engine | None = None, threads: bool = True) -> EditResult:
    """Render one shot. The output file appears only when complete.

    Args:
        config: what to render (see EditConfig).
        progress: optional callback, see Progress.
        engine: an engine to reuse (batch workers keep one); made from config when None.
        threads: use several cores: decoding, the engine and encoding (and the drivings'
            analysis beside the source's tracking) overlap in threads, and the codecs thread
            themselves. False keeps to one core: stages one after another in this thread,
            single-threaded codecs (a farm worker that owns one core). The result is the same.

    Raises:
        InputError: a source or driving is missing, corrupt or shows no face.
        OutputError: the output cannot be written.
        ConfigError: the options do not fit the shot (e.g. a --face ID the shot lacks).
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    own_engine = engine is None
    engine = engine or create_engine(config.engine, **dict(config.engine_options))
    try:
        conventions = engine.motion_conventions()
        options = _motion_options(config, engine, conventions)
        lip_mask = engine.expression_mask("lip")
        smoothing = conventions.get("smoothing", config.smoothing)
        analysis = _DrivingAnalysis(config, engine, smoothing, lip_mask, progress, timings,
                                    threaded=threads)
        with analysis:
            if is_image(config.source):
                result = _edit_still(config, engine, options, analysis.result(), progress)
            else:
                result = _edit_video(config, engine, options, analysis, progress, timings,
                                     threads)
    finally:
        if own_engine:
            engine.close()
    timings["total"] = time.perf_counter() - t0
    result.seconds.update(timings)
    return result


def _motion_options(config: EditConfig, engine: Engine,
                    conventions: dict | None = None) -> MotionOptions:
    conventions = conventions or {}
    return MotionOptions(
        region=config.region,
        expression_mask=engine.expression_mask(config.region),
        scale_damping=config.scale_damping,
        transfer_scale=conventions.get("transfer_scale", config.scale_damping > 0),
        transfer_translation=conventions.get("transfer_translation", True),
        rotation_limit_deg=config.rotation_limit_deg,
        expression_gain=config.expression_gain,
    )


class _DrivingAnalysis:
    """The drivings, analysed in background threads while the source shot is tracked.

    All are MediaPipe-bound and MediaPipe releases the GIL, so they share the cores. Each
    driving has its own thread (up to `_DRIVING_THREADS`): one thread for all would finish
    well after the source's tracking whenever two drivings together outweigh the shot. Progress
    of all is reported as one "analyse" stage.
    """

    def __init__(self, config: EditConfig, engine: Engine, smoothing: str,
                 lip_mask: np.ndarray | None, progress: Progress | None,
                 timings: dict[str, float], threaded: bool = True) -> None:
        self._config, self._engine = config, engine
        self._smoothing, self._lip_mask = smoothing, lip_mask
        self._progress, self._timings = progress, timings
        self._counts: dict[object, tuple[int, int | None]] = {}
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._threaded = threaded
        self._pool = None
        self._futures: dict[Path, Future] = {}
        self._performances: dict[Path, DrivingPerformance] | None = None

    def __enter__(self) -> _DrivingAnalysis:
        if self._threaded:
            paths = self._config.all_drivings()
            self._pool = ThreadPoolExecutor(max_workers=max(1, min(len(paths), _DRIVING_THREADS)),
                                            thread_name_prefix="vedit-drivings")
            t0 = time.perf_counter()
            self._futures = {path: self._pool.submit(self._analyse_timed, path, t0)
                             for path in paths}
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._cancel.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def result(self) -> dict[Path, DrivingPerformance]:
        if self._performances is None:
            if self._futures:
                self._performances = {path: future.result()
                                      for path, future in self._futures.items()}
            else:
                self._performances = self._analyse_all()
        return self._performances

    def track_progress(self, stage: str, done: int, total: int | None) -> None:
        """Progress of the source's tracking; stops it early when a driving already failed."""
        for future in self._futures.values():
            if future.done() and future.exception() is not None:
                raise future.exception()
        self._report("source", done, total)

    def complete(self, performances: dict[Path, DrivingPerformance],
                 maps: dict[Path, DrivingMap]) -> list[Path]:
        """Analyse in full the drivings whose analysed start turned out too short for the shot
        (the probe's duration was off). Returns their paths; `performances` is updated."""
        short = [path for path, perf in performances.items()
                 if not perf.complete and int(maps[path].indices.max()) + 2 > perf.count]
        for path in short:
            log.debug("%s: the shot needs more than the first %d driving frames; analysing "
                      "all of it", path, performances[path].count)
            performances[path] = self._analyse(path, None)
        return short

    def _analyse_all(self) -> dict[Path, DrivingPerformance]:
        t0 = time.perf_counter()
        return {path: self._analyse_timed(path, t0) for path in self._config.all_drivings()}

    def _analyse_timed(self, path: Path, t0: float) -> DrivingPerformance:
        """One driving; the "drivings" timing ends when the last one is done."""
        performance = self._analyse(path, self._frame_limit(path))
        with self._lock:
            self._timings["drivings"] = max(self._timings.get("drivings", 0.0),
                                            time.perf_counter() - t0)
        return performance

    def _analyse(self, path: Path, frame_limit: int | None) -> DrivingPerformance:
        config = self._config
        return analyse_driving(path, self._engine, smoothing=self._smoothing,
                               reference=config.reference, lip_mask=self._lip_mask,
                               tracker_options=dict(config.tracker_options),
                               cuts=config.driving_cuts,
                               cache_dir=config.driving_cache, frame_limit=frame_limit,
                               progress=lambda _s, done, total: self._report(path, done, total))

    def _frame_limit(self, path: Path) -> int | None:
        """How many driving frames the shot can use, when that is known up front: a driving
        longer than its shot is analysed only as far as the shot reaches (plus a margin).

        Only where the answer cannot change the frames that are used: `hold` fit, a reference
        that is not searched for, causal smoothing, and no cache (the cache keeps whole clips
        for every shot of a job). `complete()` checks it once the shot's timeline is known.
        """
        config = self._config
        if (config.driving_cache is not None or config.driving_fit != "hold"
                or config.reference == "neutral" or self._smoothing == "kalman"
                or is_image(config.source)):
            return None
        source, driving = probe(config.source).video, probe(path).video
        if source is None or driving is None or source.duration is None:
            return None
        seconds = source.duration - (config.driving_offset or 0)
        limit = math.ceil(max(seconds, 0) * driving.fps) + _LIMIT_MARGIN
        if isinstance(config.reference, int):
            limit = max(limit, config.reference + 2)
        return limit

    def _report(self, key: object, done: int, total: int | None) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        if self._progress is None:
            return
        with self._lock:
            self._counts[key] = (done, total)
            totals = [t for _, t in self._counts.values()]
            self._progress("analyse", sum(d for d, _ in self._counts.values()),
                           None if None in totals else sum(totals))


_DRIVING_THREADS = 2
"""Drivings analysed at once beside the source's tracking (each a MediaPipe graph or network
pass; more would only crowd the cores)."""

_LIMIT_MARGIN = 8
"""Driving frames analysed past the shot's probed end: rates and durations are rounded."""


class _Cancelled(Exception):
    """Stops the driving analysis when the edit failed elsewhere."""


# -- video source -----------------------------------------------------------------------------
def track_source(config: EditConfig, progress: Progress | None = None
                 ) -> tuple[ShotTracks, list[int], VideoInfo]:
    """Pass 1: every face of the source shot, and each frame's pts."""
    shot, pts, info, _ = _track_source(config, progress, hold_bytes=0)
    return shot, pts, info


def _track_source(config: EditConfig, progress: Progress | None, hold_bytes: int
                  ) -> tuple[ShotTracks, list[int], VideoInfo, list[DecodedFrame] | None]:
    """Pass 1, also returning its decoded frames when the whole shot fits in `hold_bytes`
    (else None): a short shot is then rendered without decoding it a second time. A longer
    one holds none (decided from its first frame and probed length), not a budget's worth."""
    tconf = TrackerConfig(**dict(config.tracker_options))
    per_frame, pts = [], []
    held: list[DecodedFrame] | None = None
    with open_video(config.source) as reader:
        info = reader.info
        with create_tracker(tconf, float(info.fps)) as tracker:
            for frame in reader:
                per_frame.append(tracker.update(frame.rgb()))
                pts.append(frame.pts)
                if frame.index == 0:
                    frame_bytes = sum(plane.buffer_size for plane in frame.av_frame.planes)
                    if info.frame_count and info.frame_count * frame_bytes <= hold_bytes:
                        held = []
                if held is not None:
                    held.append(frame)
                    if len(held) * frame_bytes > hold_bytes:
                        held = None   # longer than probed: decode twice after all
                if progress is not None:
                    progress("track", len(pts), info.frame_count)
    shot = ShotTracks.from_observations(per_frame, info.width, info.height, info.fps,
                                        str(config.source))
    return shot, pts, info, held


_HOLD_BYTES = 256 << 20
"""Decoded frames pass 1 keeps for pass 2 at most (a short shot: 100 frames of 960x720 are
about 100 MiB; a longer one is decoded twice and memory stays flat in its length)."""


def _edit_video(config: EditConfig, engine: Engine, options: MotionOptions,
                analysis: _DrivingAnalysis, progress: Progress | None,
                timings: dict[str, float], threads: bool = True) -> EditResult:
    t = time.perf_counter()
    held = None
    if config.tracks_file is not None:
        shot = ShotTracks.load(config.tracks_file)
        pts = frame_pts(config.source)
        with open_video(config.source) as reader:
            info = reader.info
        if len(pts) != shot.n_frames:
            raise InputError(config.tracks_file, f"tracks cover {shot.n_frames} frames but "
                                                 f"{config.source} has {len(pts)}")
    else:
        shot, pts, info, held = _track_source(config, analysis.track_progress, _HOLD_BYTES)
    timings["track"] = time.perf_counter() - t
    # the engine learns the shot while the drivings may still be analysed (their motion() does
    # not read what prepare_shot learns)
    with FrameFetcher(config.source, held) as fetch:
        engine.prepare_shot(shot, fetch)
    performances = analysis.result()
    n = len(pts)
    result = EditResult(output=config.output, frames=0, faces=shot.ids)
    unknown = sorted(set(config.face_drivings) - set(shot.ids))
    if unknown:
        raise ConfigError(config.source, f"no face with ID {', '.join(map(str, unknown))} in "
                                         f"the shot (faces found: {shot.ids or 'none'})")
    if not shot.ids:
        msg = f"{config.source}: no face found in the shot; it is written unchanged"
        log.warning(msg)
        result.warnings.append(msg)

    def map_all() -> dict[Path, DrivingMap]:
        return {path: map_driving(n, info.fps, perf.count, perf.fps, config.driving_fit,
                                  config.driving_offset, source_pts=pts,
                                  time_base=info.time_base)
                for path, perf in performances.items()}

    maps = map_all()
    if analysis.complete(performances, maps):
        maps = map_all()
    drivings = {tid: config.driving_for(tid) for tid in shot.ids}
    result.drivings = {tid: str(p) for tid, p in drivings.items() if p is not None}
    out_count = min((m.output_count for m in maps.values()), default=n)
    if config.driving_fit != "trim":
        out_count = n
    start, stop = config.frames or (0, out_count)
    stop = min(stop, out_count)
    if start >= stop:
        raise ConfigError(config.source, f"frame range [{start}, {stop}) is empty "
                                         f"(the shot has {out_count} frames)")
    window = None
    if config.keep_timestamps:
        pass  # a piece of a longer render: original timestamps, audio added at the join
    elif config.frames is not None or stop < n:
        t_start = (pts[start] - pts[0]) * info.time_base
        t_stop = (pts[stop] - pts[0]) * info.time_base if stop < n else None
        window = (t_start, t_stop if t_stop is not None else Fraction(10**9))
    t = time.perf_counter()
    batch_size = max(1, int(getattr(engine, "batch_size", 1)))
    main_driving = config.driving_for(shot.ids[0]) if shot.ids else config.all_drivings()[0]
    clock = _StageClock(timings)
    with _SourceFrames(config.source, held, threads) as reader, VideoWriter(
        config.output, template=info, codec=config.codec, crf=config.crf,
        audio_from=config.source if config.audio and not config.keep_timestamps else None,
        audio_window=window,
        rebase=window[0] if window else None, threads=None if threads else 1,
    ) as writer, PreviewWriter.maybe(config.preview, info, main_driving) as preview:

        def decoded():
            frames = iter(reader)
            while True:
                with clock("decode"):
                    frame = next(frames, None)
                    if frame is None or frame.index >= stop:
                        return
                    if frame.index < start:
                        continue
                    rgb = frame.rgb()
                yield frame, rgb

        finish = functools.partial(
            _composite_frame, writer=writer, clock=clock, previewing=config.preview is not None,
            main_map=performances.get(main_driving) and maps[main_driving])

        def output(item) -> None:
            _write_frame(item, writer, preview, clock)
            result.frames += 1
            if progress is not None:
                progress("render", result.frames, stop - start)

        # Three stages overlap: decode (thread) -> engine + composite (here) -> encode (thread).
        depth = 2 * batch_size + 2
        with Prefetch(decoded(), depth, "vedit-decode", threads) as source, \
                Sink(output, depth, "vedit-encode", threads) as sink:
            batch: list = []
            for item in source:
                batch.append(item)
                if len(batch) >= batch_size:
                    _render_batch(batch, engine, shot, drivings, performances, maps, options,
                                  sink, finish, result, clock)
                    batch.clear()
            if batch:
                _render_batch(batch, engine, shot, drivings, performances, maps, options, sink,
                              finish, result, clock)
    timings["render"] = time.perf_counter() - t
    return result


class _StageClock:
    """Adds wall time per stage into `timings` (seconds), for the QA report and benches."""

    def __init__(self, timings: dict[str, float]) -> None:
        self._timings = timings

    @contextlib.contextmanager
    def __call__(self, stage: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self._timings[stage] = self._timings.get(stage, 0.0) + time.perf_counter() - t


def _render_batch(batch, engine: Engine, shot: ShotTracks, drivings, performances, maps,
                  options: MotionOptions, sink: Sink, finish: Callable, result: EditResult,
                  clock: _StageClock) -> None:
    """Render a few consecutive (frame, rgb) pairs: one engine call for all their faces (the
    neural engine batches them), then composite each frame and hand it to the output stage in
    order."""
    jobs = [(k, face) for k, (f, _) in enumerate(batch) for face in shot.frame(f.index)
            if drivings.get(face.track_id) is not None]
    patches: dict[int, list[FacePatch]] = {k: [] for k in range(len(batch))}
    if jobs:
        with clock("engine"):
            frames = [batch[k][1] for k, _ in jobs]
            faces = [face for _, face in jobs]
            sources = engine.motion(frames, faces)
            targets = _targets(faces, sources, [batch[k][0].index for k, _ in jobs], drivings,
                               performances, maps, options)
            rendered = engine.render(frames, faces, sources, targets)
        for (k, face), patch in zip(jobs, rendered, strict=True):
            patches[k].append(patch)
            result.animated_frames[face.track_id] = result.animated_frames.get(
                face.track_id, 0) + 1
    for k, (frame, rgb) in enumerate(batch):
        sink.put(finish(frame, rgb, patches[k]))


def _composite_frame(frame, rgb: np.ndarray, patches: list[FacePatch], writer: VideoWriter,
                     clock: _StageClock, main_map: DrivingMap | None,
                     previewing: bool) -> tuple:
    """Paste a frame's faces and put the new pixels into the decoded picture, ready to encode.

    Done in the engine's thread: the output thread feeds the encoder, the slower stage.
    Returns (staged frame, the preview's arguments or None): the pictures travel on only for a
    preview, so the queue holds no more than the encoder needs.
    """
    if not patches:
        staged, new = writer.stage(frame), None
    else:
        with clock("composite"):
            new, changed = composite(rgb, patches)
            staged = writer.stage(frame, new, changed)
    if not previewing:
        return staged, None
    index = None if new is None else main_map and int(main_map.indices[frame.index])
    return staged, (rgb, index, new)


def _write_frame(item: tuple, writer: VideoWriter, preview: PreviewWriter,
                 clock: _StageClock) -> None:
    """Encode a staged frame (and add it to the preview)."""
    staged, shown = item
    with clock("encode"):
        writer.write_staged(staged)
    if shown is not None:
        preview.add(*shown)


def _targets(faces, sources, frame_indices, drivings, performances, maps,
             options: MotionOptions) -> list[np.ndarray]:
    """Eq. 8 keypoints of each face at its output frame, from that face's own driving."""
    targets = []
    for face, src, i in zip(faces, sources, frame_indices, strict=True):
        path = drivings[face.track_id]
        perf = performances[path]
        j = int(maps[path].indices[i])
        targets.append(compose(src, perf.track.frame(j), perf.reference, options))
    return targets


class FrameFetcher:
    """Source frames by index for an engine's per-shot preparation, decoded on demand.

    Frames asked for in increasing order cost one pass; going back reopens the file. With the
    frames pass 1 held, nothing is decoded.
    """

    def __init__(self, path: Path, held: list[DecodedFrame] | None = None) -> None:
        self._path = path
        self._held = held
        self._reader = None
        self._frames = None
        self._at = -1
        self._last = None

    def __call__(self, index: int) -> np.ndarray:
        if self._held is not None:
            if not 0 <= index < len(self._held):
                raise InputError(self._path, f"has no frame {index}")
            return self._held[index].rgb()
        if self._reader is None or index < self._at:
            self.close()
            self._reader = open_video(self._path)
            self._frames, self._at, self._last = iter(self._reader), -1, None
        while self._at < index:
            frame = next(self._frames, None)
            if frame is None:
                raise InputError(self._path, f"has no frame {index}")
            self._at, self._last = frame.index, frame
        return self._last.rgb()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> FrameFetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _SourceFrames:
    """Pass 2's frames: those pass 1 held, each let go once rendered, or a new decode."""

    def __init__(self, path: Path, held: list[DecodedFrame] | None, threads: bool) -> None:
        self._held = held
        self._reader = open_video(path, threads=threads) if held is None else None

    def __iter__(self):
        if self._reader is not None:
            yield from self._reader
            return
        held, self._held = self._held, None
        for i in range(len(held)):
            frame, held[i] = held[i], None
            yield frame

    def __enter__(self) -> _SourceFrames:
        return self

    def __exit__(self, *exc) -> None:
        self._held = None
        if self._reader is not None:
            self._reader.close()


# -- still-image source -----------------------------------------------------------------------
def _edit_still(config: EditConfig, engine: Engine, options: MotionOptions,
                performances: dict[Path, DrivingPerformance],
                progress: Progress | None) -> EditResult:
    image = read_image(config.source)
    h, w = image.shape[:2]
    faces = next(iter(track_frames([image], TrackerConfig(**dict(config.tracker_options)))))
    result = EditResult(output=config.output, frames=0, faces=[f.track_id for f in faces])
    timeline_driving = config.driving or config.all_drivings()[0]
    lead = performances[timeline_driving]
    timeline = still_source_timeline(lead.count, lead.fps)
    if w % 2 or h % 2:
        log.info("%s: odd image size %dx%d is kept", config.source, w, h)
    if not faces:
        msg = f"{config.source}: no face found in the image; it is written unchanged"
        log.warning(msg)
        result.warnings.append(msg)
    drivings = {f.track_id: config.driving_for(f.track_id) for f in faces}
    faces = [f for f in faces if drivings[f.track_id] is not None]
    maps = {path: map_driving(timeline.output_count, lead.fps, perf.count, perf.fps,
                              "hold", config.driving_offset)
            for path, perf in performances.items()}
    with open_video(timeline_driving) as drv_reader:
        drv_info = drv_reader.info
    info = VideoInfo(codec="", pix_fmt="yuv420p", width=w, height=h, coded_width=w,
                     coded_height=h, fps=lead.fps, time_base=drv_info.time_base,
                     frame_count=timeline.output_count, duration=None, start_pts=0,
                     colour=ColourTags(1, 1, 1, 1))
    still_shot = ShotTracks.from_observations([faces], w, h, lead.fps, str(config.source))
    engine.prepare_shot(still_shot, lambda _i: image)
    sources = engine.motion([image] * len(faces), faces) if faces else []
    with VideoWriter(config.output, template=info, codec=config.codec, crf=config.crf,
                     audio_from=timeline_driving if config.audio else None) as writer, \
            PreviewWriter.maybe(config.preview, info, timeline_driving) as preview:
        for i in range(timeline.output_count):
            if faces:
                targets = _targets(faces, sources, [i] * len(faces), drivings, performances,
                                   maps, options)
                patches = engine.render([image] * len(faces), faces, sources, targets)
                frame, _ = composite(image, patches)
            else:
                frame = image
            pts = round(Fraction(i) / lead.fps / info.time_base)
            writer.write_rgb(frame, pts)
            preview.add(image, int(timeline.indices[i]), frame)
            result.frames += 1
            if progress is not None:
                progress("render", result.frames, timeline.output_count)
    return result


def check_inputs(config: EditConfig) -> None:
    """Fail fast, naming the file, before any work: every input exists and opens."""
    from vedit.io import probe

    for path in [config.source, *config.all_drivings()]:
        info = probe(path)
        if info.video is None:
            raise InputError(path, "has no video stream")
