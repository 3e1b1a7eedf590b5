"""Run a shot list on a Dask cluster: plan, resume what is done, retry what fails, report.

The client drives each shot through (drivings + tracks) -> chunks -> join itself (submitting a
step when the ones before it finish) rather than handing Dask a whole graph, because a batch
must keep going when one shot fails: a failed step marks its shot failed, the shot's other steps
are cancelled, and every other shot carries on. Resume is by manifest (vedit.batch.manifest): a
step whose manifest is done for the same inputs and options, and whose file still hashes the
same, is not run again.

A driving is analysed by a step of its own ("drivings", tasks.run_drivings) into the job's
driving cache, once per cache entry in the whole run: every shot and chunk that uses the same
driving with the same engine and analysis options waits for that one step, which runs beside
the shot's tracks, and then loads the analysis. Its manifest is JOB/drivings/<driving>-<key>.json
(shared by those shots, so it lives outside their folders); a driving that fails there (no face)
fails every shot that uses it, with the driving's name in the error.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vedit.batch import tasks
from vedit.batch.cluster import ClusterInfo, open_cluster
from vedit.batch.manifest import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    JobFolder,
    end_step,
    fingerprint,
    key_of,
    now,
    read_json,
    step_done,
    write_json,
)
from vedit.batch.plan import JobPlan, ShotPlan, config_dict, plan_job
from vedit.batch.progress import BatchProgress, NullProgress
from vedit.batch.shotlist import ShotList, load_shot_list
from vedit.errors import ConfigError

log = logging.getLogger("vedit.batch")
_FORMAT = 2  # bump when what a step produces changes, so old manifests are not trusted


@dataclass(frozen=True)
class ShotOutcome:
    """How one shot ended in this run.

    Attributes:
        state: "done" or "failed".
        reused: finished in an earlier run of the job; nothing was redone.
        frames: frames in the output (0 when failed).
        error: why it failed (None when done).
        qa: its QA report (vedit.batch.qa.shot_report), empty when failed.
    """

    shot_id: str
    name: str
    location: str
    output: Path
    state: str
    reused: bool
    frames: int
    error: str | None = None
    qa: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    """What `run_batch` did.

    Attributes:
        job_dir: the job folder.
        shots: per shot, in list order.
        report: the HTML contact sheet.
        seconds: wall time of the run.
        rendered_frames: frames rendered in this run (reused shots and chunks not counted).
        cluster: what it ran on (scheduler and dashboard addresses, workers).
    """

    job_dir: Path
    shots: tuple[ShotOutcome, ...]
    report: Path
    seconds: float
    rendered_frames: int
    cluster: ClusterInfo

    @property
    def ok(self) -> bool:
        """True when every shot is done (the CLI exits 1 otherwise)."""
        return all(s.state == DONE for s in self.shots)

    @property
    def failed(self) -> list[ShotOutcome]:
        return [s for s in self.shots if s.state != DONE]

    @property
    def fps(self) -> float:
        """Throughput of this run: frames rendered per wall-clock second."""
        return self.rendered_frames / self.seconds if self.seconds > 0 else 0.0


def default_job_dir(shot_list: Path) -> Path:
    """JOB folder used when none is given: beside the list, named after it."""
    return shot_list.with_name(f"{shot_list.stem}.vedit-job")


def run_batch(shot_list: str | os.PathLike[str] | ShotList, *,
              job_dir: str | os.PathLike[str] | None = None, workers: int | None = None,
              scheduler: str | None = None, chunk_frames: int | None = None,
              retries: int = 2, preset: str | None = None,
              options: Mapping[str, Any] | None = None, gpus: int | None = None,
              progress: bool = True, console=None, keep_pieces: bool = False,
              _crash_once: Mapping[str, Any] | None = None) -> BatchResult:
    """Render every shot of a shot list; resume the job folder if it exists.

    Args:
        shot_list: a .yaml/.yml, .csv or .otio list (validated first, see load_shot_list), or
            an already loaded ShotList.
        job_dir: the job folder (default: "<list>.vedit-job" beside the list).
        workers: local worker processes (default: one per core, or one per GPU).
        scheduler: "tcp://HOST:PORT" of a running Dask scheduler to use instead.
        chunk_frames: most frames per chunk (None: plan.DEFAULT_CHUNK_FRAMES; 0: no chunks).
        retries: extra attempts for a step that errors or loses its worker.
        preset: preset for shots that name none.
        options: edit options for every shot (the list's own win).
        gpus: local GPUs to use (None: count them; 0: CPU only).
        progress: show rich progress bars and the dashboard address on the terminal.
        console: a rich Console to draw on (default: stdout).
        keep_pieces: keep chunk pieces after a successful join (default: delete them).
        _crash_once: test hook {"shot": output stem or shot id, "step": "chunk-001",
            "marker": path}: that step kills its worker on its first attempt.

    Returns:
        BatchResult; `.ok` is False when any shot failed (each failure has its error).

    Raises:
        ConfigError: the shot list has problems (all listed, nothing rendered), or the job
            folder is in use by another run.
    """
    t0 = time.perf_counter()
    shots = shot_list if isinstance(shot_list, ShotList) else load_shot_list(
        shot_list, preset=preset, options=options)
    job_root = Path(job_dir) if job_dir is not None else default_job_dir(shots.path)
    job_root.mkdir(parents=True, exist_ok=True)
    plan = plan_job(shots, job_root, chunk_frames)
    display = BatchProgress(console) if progress else NullProgress()
    with _job_lock(plan.job), display, open_cluster(
            workers, scheduler, gpus, allowed_failures=max(1, retries + 1)) as (client, info):
        _remove_cache_temps(plan.job)
        where = info.dashboard or "none (install bokeh for the Dask dashboard)"
        display.print(f"vedit batch: {len(plan.shots)} shots, {plan.total_frames} frames, "
                      f"{info.workers} workers at {info.address}")
        display.print(f"Dask dashboard: {where}", soft_wrap=True)
        log.info("scheduler %s, dashboard %s", info.address, where)
        _write_job(plan, info, None, None)
        run = _Run(plan, client, info, retries, display, _crash_once, keep_pieces)
        outcomes = run.execute()
    seconds = time.perf_counter() - t0
    from vedit.batch.status import write_report

    _write_job(plan, info, outcomes, seconds)
    report = write_report(plan.job)
    return BatchResult(plan.job.root, tuple(outcomes), report, seconds, run.rendered, info)


@contextlib.contextmanager
def _job_lock(job: JobFolder):
    """One run per job folder: a second one would render the same steps twice."""
    lock = job.root / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            pid = _lock_pid(lock)
            if pid is not None and _alive(pid):
                raise ConfigError(job.root, f"the job is being run by process {pid}") from None
            lock.unlink(missing_ok=True)  # left by a run that was killed
    else:
        raise ConfigError(job.root, "cannot lock the job folder")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _lock_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Shot:
    """Client-side state of one shot during a run."""

    def __init__(self, plan: ShotPlan, job: JobFolder, index: int) -> None:
        self.plan, self.job, self.index = plan, job, index
        self.id = plan.shot_id
        self.state = PENDING
        self.error: str | None = None
        self.reused = False
        self.futures: list[Any] = []
        self.results: dict[str, dict[str, Any]] = {}  # step -> result summary
        self.seconds: dict[str, float] = {}
        self.qa: dict[str, Any] = {}
        self.remaining: set[str] = set()
        self.todo: list[Any] = []  # chunks to render (ChunkPlan), those not done before
        self.drivings: list[_Drivings] = []  # analysis steps its chunks need
        self.tracking = False  # its tracks step is running
        self.rendering = False  # its chunks were submitted
        # Set by _Run._keys / later steps:
        self.inputs: dict[str, dict] = {}
        self.key = self.tracks_key = self.join_key = ""
        self.chunk_keys: dict[str, str] = {}
        self.piece_hashes: list[str | None] | None = None
        self.output_hash: dict | None = None


class _Drivings:
    """Client-side state of one driving analysis step, shared by every shot of the run that
    needs the same cache entry (same driving file, cache folder, engine and analysis options).
    """

    def __init__(self, key: str, driving: Path, config, manifest: Path) -> None:
        self.key, self.driving, self.config, self.manifest = key, driving, config, manifest
        self.state = PENDING
        self.error: str | None = None
        self.future: Any = None
        self.waiting: list[_Shot] = []  # shots whose chunks wait for it


class _Run:
    def __init__(self, plan: JobPlan, client, info: ClusterInfo, retries: int, display,
                 crash: Mapping[str, Any] | None, keep_pieces: bool) -> None:
        self.plan, self.client, self.info = plan, client, info
        self.retries, self.display, self.crash = retries, display, crash
        self.keep_pieces = keep_pieces
        self.job = plan.job
        self.rendered = 0
        self._hashes: dict[Path, dict] = {}
        self._tags: dict[str, tuple[_Shot | _Drivings, str]] = {}
        self._drivings: dict[str, _Drivings] = {}
        self.shots = [_Shot(p, self.job, i) for i, p in enumerate(plan.shots)]

    # -- keys ---------------------------------------------------------------------------------
    def _fp(self, path: Path) -> dict:
        if path not in self._hashes:
            self._hashes[path] = fingerprint(path)
        return self._hashes[path]

    def _keys(self, shot: _Shot) -> None:
        cfg = shot.plan.config
        inputs = {str(p): self._fp(p) for p in (cfg.source, *cfg.all_drivings())}
        shot.inputs = inputs
        shot.tracks_key = key_of({"v": _FORMAT, "source": self._fp(cfg.source),
                                  "tracker": dict(cfg.tracker_options)})
        shot.key = key_of({"v": _FORMAT, "config": config_dict(cfg), "inputs": inputs,
                           "chunks": [[c.start, c.stop] for c in shot.plan.chunks]})
        shot.chunk_keys = {c.step: key_of({"shot": shot.key, "tracks": shot.tracks_key,
                                           "config": config_dict(c.config)})
                           for c in shot.plan.chunks}

    def _drivings_key(self, config, driving: Path) -> str:
        """What a driving's cache entry depends on, as far as the client can tell without an
        engine (the cache's own key also sees the engine object; the cache folder names the
        engine setup): the file as the cache identifies it, the folder and analysis options."""
        from vedit import __version__

        data = config_dict(config)
        return key_of({"v": _FORMAT, "vedit": __version__, "driving": self._fp(driving),
                       "mtime_ns": driving.stat().st_mtime_ns,
                       "cache": str(config.driving_cache), "engine": config.engine,
                       **{k: data[k] for k in ("engine_options", "smoothing", "reference",
                                               "tracker_options")}})

    def _drivings_of(self, shot: _Shot) -> list[_Drivings]:
        """The analysis steps that the shot's chunks still to render need (made once per run)."""
        found: dict[str, _Drivings] = {}
        for chunk in shot.todo:
            config = chunk.config
            if config.driving_cache is None:  # renders without a cache analyse for themselves
                continue
            for driving in config.all_drivings():
                key = self._drivings_key(config, driving)
                step = self._drivings.get(key)
                if step is None:
                    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", driving.stem)[:40] or "driving"
                    step = _Drivings(key, driving, config,
                                     self.job.drivings_dir / f"{name}-{key[:12]}.json")
                    data = read_json(step.manifest) or {}
                    if data.get("file") and step_done(step.manifest, key, Path(data["file"])):
                        step.state = DONE  # analysed by an earlier run, and its entry is intact
                    self._drivings[key] = step
                found.setdefault(key, step)
        return list(found.values())

    # -- the run ------------------------------------------------------------------------------
    def execute(self) -> list[ShotOutcome]:
        from distributed import as_completed

        with contextlib.suppress(Exception):
            self.client.subscribe_topic(tasks.PROGRESS_TOPIC, self.display.event)
        pending = as_completed()
        for shot in self.shots:
            self._keys(shot)
            self._start(shot, pending)
        for future in pending:
            tag = self._tags.pop(future.key, None)
            if tag is None:
                continue
            owner, step = tag
            if future.status == "cancelled" or owner.state == FAILED or (
                    isinstance(owner, _Drivings) and owner.future is not future):
                continue
            try:
                result = future.result()
            except Exception as exc:  # the step's error after its retries, or a lost worker
                result = {"ok": False, "error": _describe(exc, step), "lost": True}
            if isinstance(owner, _Drivings):
                self._analysed(owner, result, pending)
            else:
                self._finished(owner, step, result, pending)
        return [self._outcome(s) for s in self.shots]

    def _start(self, shot: _Shot, pending) -> None:
        p = shot.plan
        self.display.add_shot(shot.id, p.spec.name, p.frames)
        p.folder.mkdir(parents=True, exist_ok=True)
        old = read_json(self.job.shot_file(shot.id)) or {}
        if (old.get("state") == DONE and old.get("key") == shot.key
                and step_done(self.job.step_file(shot.id, "join"), self._join_key(shot, old),
                              p.output)):
            shot.state, shot.reused = DONE, True
            shot.qa = read_json(self.job.qa_file(shot.id)) or {}
            self.display.step_done(shot.id, "all", p.frames)
            self.display.shot_state(shot.id, "done (earlier run)")
            return
        _remove_partials(p)
        self._check_chunks(shot)
        shot.drivings = self._drivings_of(shot)
        self._write_shot(shot, PENDING)
        for step in shot.drivings:
            self._need(shot, step, pending)
        if shot.state == FAILED:
            return
        if p.tracks_file is not None and not step_done(
                self.job.step_file(shot.id, "tracks"), shot.tracks_key, p.tracks_file):
            shot.tracking = True
            self._submit(shot, "tracks", pending, tasks.run_tracks, shot.id, p.config,
                         p.tracks_file, self.job.step_file(shot.id, "tracks"), shot.tracks_key)
        self._maybe_render(shot, pending)

    def _check_chunks(self, shot: _Shot) -> None:
        """Which chunks are done from an earlier run (their results kept) and which to render."""
        for chunk in shot.plan.chunks:
            path = self.job.step_file(shot.id, chunk.step)
            done = step_done(path, shot.chunk_keys[chunk.step], chunk.config.output)
            if done is not None:
                shot.results[chunk.step] = done.get("result") or {}
                self.display.step_done(shot.id, chunk.step, chunk.frames)
            else:
                shot.todo.append(chunk)

    def _need(self, shot: _Shot, step: _Drivings, pending) -> None:
        """The shot's chunks wait for this analysis: submit it unless it is done or running."""
        if step.state == DONE:
            return
        if step.state == FAILED:
            self._fail(shot, "drivings", step.error or "?", False)
            return
        step.waiting.append(shot)
        if step.future is not None:
            return
        step.state = RUNNING
        step.manifest.parent.mkdir(parents=True, exist_ok=True)
        step.future = self._submit(step, "drivings", pending, tasks.run_drivings, step.config,
                                   step.driving, step.manifest, step.key, index=shot.index)

    def _maybe_render(self, shot: _Shot, pending) -> None:
        """Submit the shot's chunks once its tracks and every analysis they need are done."""
        if (shot.state == FAILED or shot.rendering or shot.tracking
                or any(d.state != DONE for d in shot.drivings)):
            return
        shot.rendering = True
        self._submit_chunks(shot, pending)

    def _submit_chunks(self, shot: _Shot, pending) -> None:
        for chunk in shot.todo:
            path = self.job.step_file(shot.id, chunk.step)
            shot.remaining.add(chunk.step)
            marker = None
            if self.crash and self.crash.get("step") == chunk.step and self.crash.get(
                    "shot") in (shot.id, shot.plan.output.stem):
                marker = str(self.crash["marker"])
            self._submit(shot, chunk.step, pending, tasks.run_chunk, shot.id, chunk.step,
                         chunk.config, (chunk.start, chunk.stop), path,
                         shot.chunk_keys[chunk.step], marker)
        if not shot.remaining:
            self._submit_join(shot, pending)

    def _join_key(self, shot: _Shot, record: Mapping[str, Any]) -> str:
        return key_of({"shot": shot.key, "pieces": record.get("pieces", [])})

    def _submit_join(self, shot: _Shot, pending) -> None:
        p = shot.plan
        pieces = [c.config.output for c in p.chunks]
        record = {"pieces": [self._piece_hash(shot, c.step) for c in p.chunks]}
        shot.join_key = self._join_key(shot, record)
        shot.piece_hashes = record["pieces"]
        results = [shot.results.get(c.step, {}) for c in p.chunks]
        info = {"name": p.spec.name, "location": p.spec.location}
        self._submit(shot, "join", pending, tasks.run_join, shot.id, config=p.config,
                     pieces=pieces, frames=(p.start, p.stop),
                     manifest=self.job.step_file(shot.id, "join"), step_key=shot.join_key,
                     qa_file=self.job.qa_file(shot.id), thumbs=self.job.thumbs_dir(shot.id),
                     tracks_file=p.tracks_file, chunk_results=results, qa_info=info,
                     step_seconds={f"{k}_step": v for k, v in shot.seconds.items()})

    def _piece_hash(self, shot: _Shot, step: str) -> str | None:
        data = read_json(self.job.step_file(shot.id, step)) or {}
        return (data.get("file_hash") or {}).get("sha256")

    def _submit(self, owner: _Shot | _Drivings, step: str, pending, func, *args,
                index: int | None = None, **kwargs) -> Any:
        """Submit a step of a shot, or a drivings step (`index`: of the first shot needing it)."""
        if isinstance(owner, _Shot):
            index, name = owner.index, f"{step}-{owner.id}"
        else:
            name = f"{step}-{owner.manifest.stem}"
        priority = ((len(self.shots) - (index or 0)) * 4
                    + {"tracks": 1, "drivings": 1, "join": 3}.get(step, 2))
        resources = {"GPU": 1} if self.info.gpu else None
        future = self.client.submit(func, *args, key=f"{name}-{uuid.uuid4().hex[:8]}",
                                    retries=self.retries, pure=False, priority=priority,
                                    resources=resources, **kwargs)
        self._tags[future.key] = (owner, step)
        if isinstance(owner, _Shot):
            owner.futures.append(future)
        pending.add(future)
        return future

    def _finished(self, shot: _Shot, step: str, result: dict[str, Any], pending) -> None:
        if not result.get("ok"):
            self._fail(shot, step, str(result.get("error")), bool(result.get("lost")))
            return
        kind = step.split("-")[0]
        shot.seconds[kind] = shot.seconds.get(kind, 0.0) + float(result.get("step_seconds", 0))
        if step == "tracks":
            shot.tracking = False
            self._maybe_render(shot, pending)
        elif step == "join":
            shot.qa = result.get("qa") or {}
            shot.output_hash = result.get("output_hash")
            shot.state = DONE
            self._write_shot(shot, DONE)
            self.display.shot_state(shot.id, "done")
            if shot.plan.joined and not self.keep_pieces:
                for c in shot.plan.chunks:
                    c.config.output.unlink(missing_ok=True)
        else:
            shot.results[step] = {k: v for k, v in result.items()
                                  if k not in ("ok", "attempts", "step_seconds")}
            self.rendered += int(result.get("frames", 0))
            chunk = next(c for c in shot.plan.chunks if c.step == step)
            self.display.step_done(shot.id, step, chunk.frames)
            shot.remaining.discard(step)
            if not shot.remaining:
                self._submit_join(shot, pending)

    def _analysed(self, step: _Drivings, result: dict[str, Any], pending) -> None:
        """A drivings step ended: release the shots waiting for it, or fail them all."""
        step.future = None
        waiting, step.waiting = step.waiting, []
        if not result.get("ok"):
            error = str(result.get("error") or "?").splitlines()[0]
            if str(step.driving) not in error:
                error = f"{step.driving}: {error}"
            if result.get("lost") and (read_json(step.manifest) or {}).get("state") != FAILED:
                end_step(step.manifest, FAILED, error=error)
            step.state, step.error = FAILED, error
            for shot in waiting:
                if shot.state != FAILED:
                    self._fail(shot, "drivings", error, False)
            return
        step.state = DONE
        seconds = float(result.get("step_seconds", 0))
        for shot in waiting:
            if shot.state != FAILED:
                shot.seconds["drivings"] = shot.seconds.get("drivings", 0.0) + seconds
                self._maybe_render(shot, pending)

    def _fail(self, shot: _Shot, step: str, error: str, lost: bool) -> None:
        shot.state, shot.error = FAILED, f"{step}: {error.splitlines()[0] if error else '?'}"
        if lost:  # the worker could not record it: a lost worker or a retried exception
            manifest = self.job.step_file(shot.id, step)
            if (read_json(manifest) or {}).get("state") != FAILED:
                end_step(manifest, FAILED, error=error.splitlines()[0] if error else None)
        others = [f for f in shot.futures if not f.done()]
        for analysis in shot.drivings:  # shared: cancelled only when no other shot waits
            if shot in analysis.waiting:
                analysis.waiting.remove(shot)
                if not analysis.waiting and analysis.future is not None:
                    if not analysis.future.done():
                        others.append(analysis.future)
                    analysis.future, analysis.state = None, PENDING
        if others:
            self.client.cancel(others)
        self._write_shot(shot, FAILED)
        self.display.shot_state(shot.id, "failed")
        log.warning("%s (%s): %s", shot.plan.spec.name, shot.plan.spec.location, shot.error)

    # -- records ------------------------------------------------------------------------------
    def _write_shot(self, shot: _Shot, state: str) -> None:
        p = shot.plan
        old = read_json(self.job.shot_file(shot.id)) or {}
        write_json(self.job.shot_file(shot.id), {
            "id": shot.id, "name": p.spec.name, "location": p.spec.location,
            "output": str(p.output), "state": state, "key": shot.key,
            "inputs": shot.inputs, "config": config_dict(p.config), "preset": p.spec.preset,
            "frames": [p.start, p.stop], "tracks": p.tracks_file and str(p.tracks_file),
            "drivings": [str(d.manifest) for d in shot.drivings],
            "chunks": [{"step": c.step, "frames": [c.start, c.stop],
                        "piece": str(c.config.output)} for c in p.chunks],
            "pieces": (shot.piece_hashes if shot.piece_hashes is not None
                       else old.get("pieces", [])),
            "output_hash": shot.output_hash if state == DONE else None,
            "error": shot.error, "created": old.get("created", now()), "updated": now()})

    def _outcome(self, shot: _Shot) -> ShotOutcome:
        p = shot.plan
        if shot.state not in (DONE, FAILED):  # never finished (e.g. its steps were cancelled)
            shot.state, shot.error = FAILED, shot.error or "did not finish"
            self._write_shot(shot, FAILED)
        return ShotOutcome(shot.id, p.spec.name, p.spec.location, p.output, shot.state,
                           shot.reused, int(shot.qa.get("frames", 0)) if shot.state == DONE
                           else 0, shot.error, shot.qa)


def _describe(exc: BaseException, step: str) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"its worker died on every attempt ({exc})"
    return f"{exc}" if name == "RuntimeError" else f"{name}: {exc}"


def _remove_partials(plan: ShotPlan) -> None:
    """Hidden partial files left by a killed run (never under a final name; just clutter)."""
    places = {(plan.output.parent, plan.output.stem, plan.output.suffix)}
    places |= {(c.config.output.parent, c.config.output.stem, c.config.output.suffix)
               for c in plan.chunks}
    for folder, stem, suffix in places:
        for stale in folder.glob(f".{stem}.vedit-partial-*{suffix}"):
            stale.unlink(missing_ok=True)
    for stale in plan.folder.glob(".*.partial-*"):
        stale.unlink(missing_ok=True)
    for stale in plan.folder.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def _remove_cache_temps(job: JobFolder) -> None:
    """Temporary driving-cache files left by workers that were killed mid-write (the job lock
    says no other run is writing there)."""
    if job.drivings_dir.is_dir():
        for pattern in ("*/.*.tmp", ".*.tmp"):  # cache entries; drivings step manifests
            for stale in job.drivings_dir.glob(pattern):
                stale.unlink(missing_ok=True)


def _write_job(plan: JobPlan, info: ClusterInfo, outcomes: list[ShotOutcome] | None,
               seconds: float | None) -> None:
    """job.json: written when a run starts (shots pending) and again when it ends."""
    old = read_json(plan.job.job_file) or {}
    runs = list(old.get("runs", []))
    if outcomes is None:
        shots = [{"id": s.shot_id, "name": s.spec.name, "location": s.spec.location,
                  "output": str(s.output), "state": RUNNING, "error": None}
                 for s in plan.shots]
    else:
        shots = [{"id": o.shot_id, "name": o.name, "location": o.location,
                  "output": str(o.output), "state": o.state, "error": o.error}
                 for o in outcomes]
        runs.append({"finished": now(), "seconds": round(seconds or 0.0, 3),
                     "scheduler": info.address, "workers": info.workers, "gpu": info.gpu,
                     "done": sum(o.state == DONE for o in outcomes),
                     "failed": sum(o.state != DONE for o in outcomes)})
    write_json(plan.job.job_file, {
        "format": "vedit-batch-job", "version": _FORMAT, "shot_list": str(plan.shot_list),
        "chunk_frames": plan.chunk_frames, "created": old.get("created", now()),
        "updated": now(), "runs": runs, "shots": shots})
