"""From validated shots to steps: per shot, one tracks step, N chunk renders, one join.

Why this shape:
* Tracks are computed once per shot (pass 1 of `vedit edit`) and saved exactly (.npz), so every
  chunk of the shot sees the same faces with the same IDs on every frame, whichever worker
  renders it.
* A long shot is split into frame ranges rendered as pieces that keep the shot's timestamps
  (EditConfig.keep_timestamps) and are joined by stream copy (vedit.io.concat_pieces) with the
  source's audio muxed once, so a chunked render equals a single render and cuts cost no
  re-encode. The driving is analysed over its whole clip, so its smoothing is continuous across
  cuts; the analysis is cached in the job folder (EditConfig.driving_cache), so the chunks and
  shots of a driving share one. The join rebases an in/out shot's pieces to its in point, as a
  single render does.
* A shot of one chunk renders straight to its final output: the result is exactly what
  `vedit edit` writes for that shot alone (in/out shots start at 0 with their audio window).

Not split, whatever chunk_frames says: still-image sources (their length is the driving's),
driving_fit "trim" (the output length is known only after the driving is analysed) and shots
with a preview video (a preview cannot be joined).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from vedit.batch.manifest import JobFolder, key_of
from vedit.batch.shotlist import ShotList, ShotSpec
from vedit.pipeline.config import EditConfig

DEFAULT_CHUNK_FRAMES = 500
"""Frames per chunk when none is given: each chunk has fixed costs (opening the shot, the
engine's per-shot preparation), so chunks of ~20 s of footage keep them small while still
spreading a long shot."""
_NOT_RENDERED = ("driving_cache",)
"""EditConfig fields that change nothing in the output: left out of keys and job summaries."""


@dataclass(frozen=True)
class ChunkPlan:
    """One render: frames [start, stop) of a shot, into `config.output`."""

    index: int
    start: int
    stop: int
    config: EditConfig

    @property
    def step(self) -> str:
        return f"chunk-{self.index:03d}"

    @property
    def frames(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class ShotPlan:
    """The steps of one shot.

    Attributes:
        spec: the validated shot.
        shot_id: stable ID (output stem + hash of the output path): the same output in a
            re-ordered list is the same shot, so a resume finds its work.
        folder: its folder in the job.
        start, stop: the frame range rendered (the whole source without in/out).
        frames: frames of the output (for a still source: the lead driving's length).
        tracks_file: where the shared tracks go (None for a still-image source).
        chunks: the renders; one chunk renders straight to the final output.
    """

    spec: ShotSpec
    shot_id: str
    folder: Path
    start: int
    stop: int
    frames: int
    tracks_file: Path | None
    chunks: tuple[ChunkPlan, ...]

    @property
    def config(self) -> EditConfig:
        return self.spec.config

    @property
    def output(self) -> Path:
        return self.spec.config.output

    @property
    def joined(self) -> bool:
        """True when chunks are pieces to be joined into the output."""
        return len(self.chunks) > 1


@dataclass(frozen=True)
class JobPlan:
    """Everything a batch will do, decided before any work starts."""

    job: JobFolder
    shot_list: Path
    chunk_frames: int | None
    shots: tuple[ShotPlan, ...]

    @property
    def total_frames(self) -> int:
        return sum(s.frames for s in self.shots)

    def describe(self) -> list[dict[str, Any]]:
        """JSON-friendly summary of every shot and chunk (configs included), for manifests and
        for comparing two lists that should make the same job."""
        return [{"shot": s.shot_id, "frames": [s.start, s.stop],
                 "config": config_dict(s.config),
                 "chunks": [{"step": c.step, "frames": [c.start, c.stop],
                             "config": config_dict(c.config)} for c in s.chunks]}
                for s in self.shots]


def plan_job(shots: ShotList, job_dir: str | Path, chunk_frames: int | None = None
             ) -> JobPlan:
    """Split every shot into steps.

    Args:
        shots: a validated shot list.
        job_dir: the job folder (nothing is written here; paths are planned).
        chunk_frames: most frames per chunk (None: DEFAULT_CHUNK_FRAMES; 0: never split).
    """
    job = JobFolder(job_dir)
    size = DEFAULT_CHUNK_FRAMES if chunk_frames is None else chunk_frames
    if size < 0:
        raise ValueError(f"chunk_frames must be >= 0, not {size}")
    return JobPlan(job, shots.path, size or None,
                   tuple(_plan_shot(spec, job, size) for spec in shots.shots))


def shot_id_for(output: Path) -> str:
    """Filesystem-safe, stable shot ID from the output path."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", output.stem)[:48] or "shot"
    return f"{stem}-{hashlib.sha1(str(output).encode()).hexdigest()[:8]}"


def _plan_shot(spec: ShotSpec, job: JobFolder, size: int) -> ShotPlan:
    config = spec.config
    shot_id = shot_id_for(config.output)
    folder = job.shot_dir(shot_id)
    cache = driving_cache_for(config, job)
    if spec.source_frames is None:  # still image: one render, as long as the lead driving
        lead = config.driving or config.all_drivings()[0]
        frames = _frame_count(lead)
        chunk = ChunkPlan(0, 0, frames, dataclasses.replace(config, driving_cache=cache))
        return ShotPlan(spec, shot_id, folder, 0, frames, frames, None, (chunk,))
    start, stop = config.frames or (0, spec.source_frames)
    tracks = job.tracks_file(shot_id)
    length = stop - start
    splittable = (config.driving_fit != "trim" and config.preview is None and size > 0
                  and length > size)
    if not splittable:
        chunk = ChunkPlan(0, start, stop, dataclasses.replace(config, tracks_file=tracks,
                                                              driving_cache=cache))
        return ShotPlan(spec, shot_id, folder, start, stop, length, tracks, (chunk,))
    count = -(-length // size)
    bounds = [start + (length * k) // count for k in range(count + 1)]
    suffix = config.output.suffix
    chunks = tuple(
        ChunkPlan(k, a, b, dataclasses.replace(
            config, output=folder / f"chunk-{k:03d}{suffix}", frames=(a, b),
            keep_timestamps=True, tracks_file=tracks, preview=None, driving_cache=cache))
        for k, (a, b) in enumerate(itertools.pairwise(bounds)))
    return ShotPlan(spec, shot_id, folder, start, stop, length, tracks, chunks)


def driving_cache_for(config: EditConfig, job: JobFolder) -> Path:
    """Where a shot's renders keep analysed drivings: the folder the list names, else one in
    the job per engine setup (the cache's own key sees the engine object, not weights loaded
    into it; the engine options name them)."""
    if config.driving_cache is not None:
        return config.driving_cache
    options = config_dict(config)["engine_options"]
    setup = key_of({"engine": config.engine, "options": options})[:12]
    return job.drivings_dir / f"{config.engine}-{setup}"


def _frame_count(path: Path) -> int:
    from vedit.io import frame_pts

    return len(frame_pts(path))


def config_dict(config: EditConfig) -> dict[str, Any]:
    """EditConfig as JSON-friendly data: paths as strings, exact seconds as "num/den".

    Fields that change nothing in the output (the driving cache's folder) are left out, so a
    job's keys do not depend on where its folder is.
    """
    def conv(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, Fraction):
            return f"{value.numerator}/{value.denominator}"
        if isinstance(value, Mapping):
            return {str(k): conv(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, (list, tuple)):
            return [conv(v) for v in value]
        return value

    return {f.name: conv(getattr(config, f.name)) for f in dataclasses.fields(config)
            if f.name not in _NOT_RENDERED}
