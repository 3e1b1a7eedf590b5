"""The job folder: a JSON manifest per shot and per step (drivings, tracks, chunk, join), written
atomically.

Resuming a night's batch after a crash must never trust a half-written file, so:

* Every manifest is written to a temporary name in the same folder, flushed, fsync'ed and then
  renamed over the old one (``os.replace`` is atomic on POSIX): a reader sees the old or the
  new JSON, never a mix. A manifest that does not parse counts as missing (the step reruns).
* A step is "done" only when its manifest says so *and* its file (tracks .npz, chunk piece or
  final output) still has the size and hash recorded then. A piece deleted or rewritten by hand
  is rendered again.
* Inputs are fingerprinted so a changed source, driving or option invalidates what was built
  from it (see ``fingerprint``).

Layout::

    JOB/job.json                       the run: shot list, options, shots and their folders
    JOB/report.html                    contact sheet (vedit.batch.qa)
    JOB/shots/<shot id>/shot.json      the shot: key, inputs, config, state, output hash, error
    JOB/shots/<shot id>/tracks.json    step manifests: state, attempts, history, file hash
    JOB/shots/<shot id>/tracks.npz     the shot's face tracks, computed once, shared by chunks
    JOB/shots/<shot id>/chunk-000.json + chunk-000.<ext>   one piece per frame range
    JOB/shots/<shot id>/qa.json + thumbs/*.png
    JOB/drivings/<engine setup>/*.npz  analysed drivings shared by every chunk and shot
                                       (vedit.pipeline.driving's cache, written atomically)
    JOB/drivings/<driving>-<key>.json  manifest of the step that analysed one driving, once
                                       per run for every shot that uses it

Workers write the step manifests of the steps they run (so a retried step's attempt counter
survives a worker that died mid-step); the client writes job.json and shot.json. Each file has
one writer at a time, so no locking is needed. The job folder must be on a file system every
worker sees at the same path.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)

# Files up to this size are hashed whole. Bigger ones (camera originals, long masters) get
# size + mtime + sha256 of three 8 MiB windows (start, middle, end): reading 100 GB of rushes
# on every resume would cost more than the render it protects, and an edit that keeps size,
# mtime and all three windows identical is not something a real pipeline does.
FULL_HASH_LIMIT = 256 << 20
_WINDOW = 8 << 20


def now() -> str:
    """UTC wall-clock time, ISO 8601 with microseconds (manifests only; not media timing)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def write_json(path: Path, data: Any) -> None:
    """Atomically replace `path` with `data` as JSON (temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """The manifest at `path`, or None when missing or unreadable (then it is redone)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def fingerprint(path: Path) -> dict[str, Any]:
    """Size and content hash of a file (whole-file sha256, or partial above FULL_HASH_LIMIT).

    Returns:
        {"size": bytes, "sha256": hex, "partial": bool} plus "mtime_ns" when partial.

    Raises:
        OSError: the file cannot be read.
    """
    path = Path(path)
    st = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        if st.st_size <= FULL_HASH_LIMIT:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            return {"size": st.st_size, "sha256": digest.hexdigest(), "partial": False}
        for offset in (0, st.st_size // 2 - _WINDOW // 2, st.st_size - _WINDOW):
            fh.seek(offset)
            digest.update(fh.read(_WINDOW))
    return {"size": st.st_size, "sha256": digest.hexdigest(), "partial": True,
            "mtime_ns": st.st_mtime_ns}


def matches(path: Path, recorded: dict[str, Any] | None) -> bool:
    """Does the file still have the fingerprint recorded for it? (False when missing.)"""
    if not recorded:
        return False
    try:
        if Path(path).stat().st_size != recorded.get("size"):
            return False
        return fingerprint(path) == recorded
    except OSError:
        return False


def key_of(data: Any) -> str:
    """A stable hash of JSON-able data: what a step was computed from."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class JobFolder:
    """Paths of a job folder (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    @property
    def job_file(self) -> Path:
        return self.root / "job.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def shot_dir(self, shot_id: str) -> Path:
        return self.root / "shots" / shot_id

    def shot_file(self, shot_id: str) -> Path:
        return self.shot_dir(shot_id) / "shot.json"

    def step_file(self, shot_id: str, step: str) -> Path:
        """Manifest of a step: "tracks", "chunk-003" or "join"."""
        return self.shot_dir(shot_id) / f"{step}.json"

    def tracks_file(self, shot_id: str) -> Path:
        return self.shot_dir(shot_id) / "tracks.npz"

    def qa_file(self, shot_id: str) -> Path:
        return self.shot_dir(shot_id) / "qa.json"

    def thumbs_dir(self, shot_id: str) -> Path:
        return self.shot_dir(shot_id) / "thumbs"

    @property
    def drivings_dir(self) -> Path:
        return self.root / "drivings"

    def shot_ids(self) -> list[str]:
        folder = self.root / "shots"
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


# -- step manifests (written by whoever runs the step) -----------------------------------------
def begin_step(path: Path, key: str, info: dict[str, Any]) -> int:
    """Record the start of an attempt (state running, attempts + 1); return the attempt number.

    A manifest left "running" by a process that died keeps its attempt count, so a retry
    shows up as attempt 2 and a step that was done is never counted again.
    """
    old = read_json(path) or {}
    if old.get("key") != key:
        old = {}
    attempt = int(old.get("attempts", 0)) + 1
    history = list(old.get("history", []))
    history.append({"attempt": attempt, "host": socket.gethostname(), "pid": os.getpid(),
                    "started": now()})
    write_json(path, {**old, **info, "key": key, "state": RUNNING, "attempts": attempt,
                      "started": history[-1]["started"], "finished": None, "error": None,
                      "history": history})
    return attempt


def end_step(path: Path, state: str, *, error: str | None = None,
             **fields: Any) -> dict[str, Any]:
    """Record how an attempt ended (done or failed) with its results."""
    data = read_json(path) or {}
    finished = now()
    history = list(data.get("history", []))
    if history:
        history[-1] = {**history[-1], "finished": finished, "state": state,
                       **({"error": error} if error else {})}
    data.update(fields, state=state, finished=finished, error=error, history=history)
    write_json(path, data)
    return data


def step_done(path: Path, key: str, file: Path | None) -> dict[str, Any] | None:
    """The step's manifest if it is done for this key and its file is intact, else None."""
    data = read_json(path)
    if not data or data.get("state") != DONE or data.get("key") != key:
        return None
    if file is not None and not matches(file, data.get("file_hash")):
        return None
    return data
