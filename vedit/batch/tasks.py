"""What workers run: a driving's analysis, a shot's tracks, one chunk render, the join + QA.

One function per step.

Each step records its own attempt in its manifest before working (so an attempt that kills the
worker still counts) and its result after. Errors split in two on purpose:

* VeditError (no face in the driving, a face ID the shot lacks, ...) is a property of the
  inputs: retrying cannot help, so the step returns {"ok": False, "error": ...} at once.
* Anything else (a worker out of memory, a flaky disk) may pass: it is raised again as a
  plain RuntimeError carrying the traceback text -- picklable whatever the original was -- and
  Dask retries the step (``retries=`` on submit) up to the limit.
"""
from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from vedit.batch.manifest import DONE, FAILED, begin_step, end_step, fingerprint
from vedit.errors import ConfigError, VeditError

PROGRESS_TOPIC = "vedit-batch-progress"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS",
               "TF_NUM_INTEROP_THREADS")
_configured = False


def configure_worker_threads() -> None:
    """One compute thread per worker process (OpenMP/BLAS/torch via env, OpenCV directly).

    Workers are sized one per core; a library that starts a thread per core in each of them
    oversubscribes the machine and two workers end up slower than one.
    """
    global _configured
    if _configured:
        return
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - cv2 ships with the face stack
        pass
    _configured = True


def use_threads(config) -> bool:
    """Whether a worker's edit runs its stages and codecs in several threads.

    A CPU worker owns one core (workers are sized one per core, see configure_worker_threads):
    the other cores run other workers, so more threads would only contend. A GPU worker has
    the GPU besides its core, and overlapping hides decoding and encoding behind the networks.
    """
    from vedit.engines import engine_uses_accelerator

    return engine_uses_accelerator(config.engine, dict(config.engine_options))


class _Reporter:
    """edit()'s progress callback, forwarded to the client as Dask events (throttled)."""

    def __init__(self, shot_id: str, step: str) -> None:
        self.shot_id, self.step = shot_id, step
        self._last = 0.0
        self._worker: Any = None
        try:
            from distributed import get_worker

            self._worker = get_worker()
        except (ImportError, ValueError):  # not on a Dask worker (e.g. called directly)
            pass

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        t = time.monotonic()
        if self._worker is None or (t - self._last < 0.5 and done != total):
            return
        self._last = t
        self._worker.log_event(PROGRESS_TOPIC, {"shot": self.shot_id, "step": self.step,
                                                "stage": stage, "done": done, "total": total})


def _run_step(manifest: Path, key: str, info: dict[str, Any],
              work: Callable[[int], tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Begin, work, record; `work(attempt)` returns (manifest fields, result for the client)."""
    configure_worker_threads()
    attempt = begin_step(manifest, key, info)
    t0, c0 = time.perf_counter(), time.process_time()

    def clocks() -> dict[str, Any]:
        # Wall and CPU time of the step: on a shared machine, CPU < wall shows the step
        # waiting for a core (other processes), not vedit being slow.
        return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}

    try:
        fields, result = work(attempt)
    except VeditError as exc:
        end_step(manifest, FAILED, error=str(exc), **clocks())
        return {"ok": False, "error": str(exc), "attempts": attempt}
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        end_step(manifest, FAILED, error=f"{type(exc).__name__}: {exc}", **clocks())
        raise RuntimeError(f"{type(exc).__name__}: {exc}\n{text}") from None
    spent = clocks()
    end_step(manifest, DONE, **spent, **fields)
    return {**result, "ok": True, "attempts": attempt, "step_seconds": spent["seconds"]}


def run_tracks(shot_id: str, config, tracks_file: Path, manifest: Path, key: str
               ) -> dict[str, Any]:
    """Pass 1 of the shot: every face, every frame, saved exactly for the chunks to share.

    A --face ID that the shot lacks fails here, before any chunk is rendered.
    """
    from vedit.pipeline.edit import track_source

    def work(attempt: int):
        shot, _pts, _info = track_source(config, _Reporter(shot_id, "tracks"))
        unknown = sorted(set(config.face_drivings) - set(shot.ids))
        if unknown:
            raise ConfigError(config.source, f"no face with ID {', '.join(map(str, unknown))} "
                                             f"in the shot (faces found: {shot.ids or 'none'})")
        shot.to_npz(tracks_file)
        summary = {"faces": shot.ids, "n_frames": shot.n_frames}
        return ({"file": str(tracks_file), "file_hash": fingerprint(tracks_file),
                 "result": summary}, summary)

    return _run_step(manifest, key, {"step": "tracks", "shot": shot_id}, work)


def analysis_options(config, engine) -> dict[str, Any]:
    """analyse_driving's options for a render of `config`, as vedit.pipeline.edit.edit passes
    them (besides the cache folder): what a driving's cache entry is keyed on."""
    return {"smoothing": engine.motion_conventions().get("smoothing", config.smoothing),
            "reference": config.reference, "lip_mask": engine.expression_mask("lip"),
            "tracker_options": dict(config.tracker_options), "cuts": config.driving_cuts}


def run_drivings(config, driving: Path, manifest: Path, key: str) -> dict[str, Any]:
    """Analyse one driving into the render's cache (config.driving_cache), exactly as a chunk's
    edit() would, so that every chunk and shot using it loads the analysis instead.

    The engine is made as edit() makes it. A driving with no face fails here (an InputError
    naming the file), before any chunk of a shot using it is rendered.
    """
    from vedit.engines import create_engine
    from vedit.pipeline.driving import analyse_driving, driving_key

    cache = Path(config.driving_cache)

    def work(attempt: int):
        engine = create_engine(config.engine, **dict(config.engine_options))
        try:
            options = analysis_options(config, engine)
            entry_key = driving_key(driving, engine, **options)
            loaded = bool(_entries(cache, entry_key))
            performance = analyse_driving(driving, engine, cache_dir=cache,
                                          progress=_Reporter(str(driving), "drivings"),
                                          **options)
        finally:
            engine.close()
        found = _entries(cache, entry_key)
        summary = {"driving": str(driving), "loaded": loaded,
                   "entry": str(found[0]) if found else None, "frames": performance.count,
                   "held_frames": int(performance.held.sum())}
        fields: dict[str, Any] = {"result": summary}
        if found:  # else the entry could not be written (logged): chunks analyse it again
            fields.update(file=str(found[0]), file_hash=fingerprint(found[0]))
        return fields, summary

    return _run_step(manifest, key, {"step": "drivings", "driving": str(driving),
                                     "cache": str(cache)}, work)


def _entries(cache: Path, entry_key: str) -> list[Path]:
    """The cache's entry for a key (named "<driving stem>-<key>.npz" by the cache)."""
    return sorted(cache.glob(f"*-{entry_key}.npz")) if cache.is_dir() else []


def run_chunk(shot_id: str, step: str, config, frames: tuple[int, int], manifest: Path,
              key: str, crash_marker: str | None = None) -> dict[str, Any]:
    """Render one chunk (or a whole one-chunk shot straight to its output).

    Args:
        crash_marker: test hook. When set and the file does not exist yet, the step creates it
            and kills its own worker process (os._exit) after recording the attempt, to prove
            that a lost worker's step is retried elsewhere.
    """
    from vedit.pipeline.edit import edit

    def work(attempt: int):
        if crash_marker is not None and not os.path.exists(crash_marker):
            Path(crash_marker).write_text(f"{os.getpid()} attempt {attempt}\n")
            os._exit(17)
        result = edit(config, progress=_Reporter(shot_id, step),
                      threads=use_threads(config))
        summary = {"frames": result.frames, "faces": list(result.faces),
                   "animated_frames": {str(k): v for k, v in result.animated_frames.items()},
                   "drivings": {str(k): v for k, v in result.drivings.items()},
                   "warnings": list(result.warnings),
                   "seconds": {k: round(v, 4) for k, v in result.seconds.items()}}
        return ({"file": str(config.output), "file_hash": fingerprint(config.output),
                 "result": summary}, summary)

    return _run_step(manifest, key, {"step": step, "shot": shot_id, "frames": list(frames)},
                     work)


def run_join(shot_id: str, *, config, pieces: Sequence[Path], frames: tuple[int, int],
             manifest: Path, step_key: str, qa_file: Path, thumbs: Path,
             tracks_file: Path | None,
             chunk_results: Sequence[Mapping[str, Any]], qa_info: Mapping[str, Any],
             step_seconds: Mapping[str, float]) -> dict[str, Any]:
    """Join the pieces (when there are several) into the final output, then write its QA.

    The final output appears under its name only when complete: concat_pieces (like the
    writer of a one-chunk shot) writes a hidden partial file and renames it.
    """
    from vedit.batch import qa

    def work(attempt: int):
        t0 = time.perf_counter()
        if len(pieces) > 1:
            from vedit.io import concat_pieces

            concat_pieces(list(pieces), config.output, **_join_timing(config, frames))
        join_s = time.perf_counter() - t0
        output_hash = fingerprint(config.output)
        merged = qa.merge_results(chunk_results)
        seconds = dict(merged["seconds"])
        seconds.update({k: v for k, v in step_seconds.items()})
        seconds["join"] = join_s
        names = qa.write_thumbnails(config.output, thumbs)
        report = qa.shot_report(
            shot_id=shot_id, name=qa_info["name"], location=qa_info["location"],
            output=config.output, frames=frames, merged=merged,
            tracks=qa.track_metrics(tracks_file, *frames), thumbs=names, seconds=seconds)
        qa.write_qa(qa_file, report)
        return ({"file": str(config.output), "file_hash": output_hash},
                {"output_hash": output_hash, "qa": report})

    return _run_step(manifest, step_key, {"step": "join", "shot": shot_id}, work)


def _join_timing(config, frames: tuple[int, int]) -> dict[str, Any]:
    """concat_pieces options that time the joined file as a single render of the shot would be
    (as vedit.pipeline.edit does): the pieces' exact timestamps (their containers may have
    rounded them), and for an in/out shot the rebase to its in point and the audio window."""
    from vedit.io import frame_pts, open_video

    audio = config.source if config.audio else None
    pts = frame_pts(config.source)
    with open_video(config.source) as reader:
        time_base = reader.info.time_base
    start, stop = frames
    if config.frames is None:
        return {"audio_from": audio, "timestamps": (pts[start:stop], time_base)}
    t_start = (pts[start] - pts[0]) * time_base
    t_stop = (pts[stop] - pts[0]) * time_base if stop < len(pts) else Fraction(10**9)
    return {"audio_from": audio, "audio_window": (t_start, t_stop) if audio else None,
            "rebase": t_start, "timestamps": (pts[start:stop], time_base)}
