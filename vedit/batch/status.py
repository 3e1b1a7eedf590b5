"""`vedit batch status JOB`: what a job folder says about its shots, read from its manifests.

Read-only and safe while a batch runs (manifests are replaced atomically). A job whose lock is
gone or stale but still has steps "running" was interrupted; re-running the same command
resumes it.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vedit.batch.manifest import DONE, FAILED, PENDING, RUNNING, JobFolder, read_json
from vedit.errors import ConfigError


@dataclass(frozen=True)
class StepStatus:
    """One step of a shot: "drivings:<driving>", "tracks", "chunk-NNN" or "join"."""

    step: str
    state: str
    attempts: int
    frames: tuple[int, int] | None = None
    started: str | None = None
    finished: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ShotStatus:
    shot_id: str
    name: str
    location: str
    output: str
    state: str
    steps: tuple[StepStatus, ...]
    error: str | None = None
    review: tuple[str, ...] = ()

    @property
    def chunks_done(self) -> int:
        return sum(1 for s in self.steps if s.step.startswith("chunk") and s.state == DONE)

    @property
    def chunks_total(self) -> int:
        return sum(1 for s in self.steps if s.step.startswith("chunk"))


@dataclass(frozen=True)
class JobStatus:
    """Summary of a job folder.

    Attributes:
        active: a live process holds the job's lock (a run is under way on this machine).
        runs: the recorded runs (finish time, seconds, workers, done/failed counts).
    """

    job_dir: Path
    shot_list: str | None
    active: bool
    shots: tuple[ShotStatus, ...]
    runs: tuple[dict[str, Any], ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        out = {PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0}
        for s in self.shots:
            out[s.state] = out.get(s.state, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """Every shot done."""
        return bool(self.shots) and all(s.state == DONE for s in self.shots)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["job_dir"] = str(self.job_dir)
        data["counts"] = self.counts
        return data

    def to_text(self) -> str:
        """Plain-text table for the terminal."""
        c = self.counts
        head = (f"{self.job_dir}: {len(self.shots)} shots - {c[DONE]} done, {c[FAILED]} "
                f"failed, {c[RUNNING]} running, {c[PENDING]} pending")
        if c[RUNNING] and not self.active:
            head += " (interrupted: run the same batch command again to resume)"
        lines = [head]
        for s in self.shots:
            chunks = f"{s.chunks_done}/{s.chunks_total} chunks"
            retries = sum(max(0, st.attempts - 1) for st in s.steps)
            lines.append(f"  {s.state:<8} {s.name:<24} {chunks:<12} {retries} retries  "
                         f"{s.output}")
            if s.error:
                lines.append(f"           error: {s.error}")
            lines += [f"           review: {r}" for r in s.review]
        return "\n".join(lines)


def batch_status(job_dir: str | os.PathLike[str]) -> JobStatus:
    """Read a job folder's manifests.

    Raises:
        ConfigError: the folder is not a vedit batch job.
    """
    job = JobFolder(job_dir)
    if not job.root.is_dir() or not (job.job_file.exists() or job.shot_ids()):
        raise ConfigError(job.root, "not a vedit batch job folder (no job.json)")
    meta = read_json(job.job_file) or {}
    order = [s["id"] for s in meta.get("shots", []) if isinstance(s, dict) and "id" in s]
    ids = order + [i for i in job.shot_ids() if i not in order]
    shots = [s for s in (_shot_status(job, i) for i in ids) if s is not None]
    return JobStatus(job.root, meta.get("shot_list"), _lock_active(job), tuple(shots),
                     tuple(meta.get("runs", [])))


def _shot_status(job: JobFolder, shot_id: str) -> ShotStatus | None:
    shot = read_json(job.shot_file(shot_id))
    if shot is None:
        return None
    names = ["tracks"] if shot.get("tracks") else []
    names += [c["step"] for c in shot.get("chunks", [])] + ["join"]
    files = {name: job.step_file(shot_id, name) for name in names}
    # the drivings the shot waited for: steps shared with other shots, kept in JOB/drivings/
    files = {**{f"drivings:{Path(m).stem}": Path(m) for m in shot.get("drivings", [])}, **files}
    steps = []
    for name, path in files.items():
        data = read_json(path) or {}
        frames = data.get("frames")
        steps.append(StepStatus(name, data.get("state", PENDING), int(data.get("attempts", 0)),
                                tuple(frames) if frames else None, data.get("started"),
                                data.get("finished"), data.get("error")))
    qa = read_json(job.qa_file(shot_id)) or {}
    state = shot.get("state", PENDING)
    if state == PENDING and any(s.state in (RUNNING, DONE) for s in steps):
        state = RUNNING  # the client records a shot's end; its steps record their starts
    return ShotStatus(shot_id, shot.get("name", shot_id), shot.get("location", ""),
                      shot.get("output", ""), state, tuple(steps), shot.get("error"),
                      tuple(qa.get("review", [])) if state == DONE else ())


def _lock_active(job: JobFolder) -> bool:
    try:
        pid = int((job.root / ".lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def write_report(job: JobFolder) -> Path:
    """The job's HTML contact sheet from its manifests and QA files (vedit.batch.qa)."""
    from vedit.batch.qa import write_contact_sheet

    status = batch_status(job.root)
    rows = [{"shot": s.shot_id, "name": s.name, "location": s.location, "output": s.output,
             "state": s.state, "error": s.error,
             "qa": (read_json(job.qa_file(s.shot_id)) or {}) if s.state == DONE else {}}
            for s in status.shots]
    return write_contact_sheet(job.report, f"vedit batch - {job.root.name}", rows)
