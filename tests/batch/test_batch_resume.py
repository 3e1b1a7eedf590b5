"""A batch survives being killed (resume skips finished chunks) and losing a worker mid-chunk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import decoded_planes

from vedit.batch import batch_status, run_batch

REPO = Path(__file__).resolve().parents[2]


def _shots(m, out):
    return [
        {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "long.mkv"),
         "out": 40},
        {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "s13.mkv"),
         "in": 10, "out": 30},
    ]


def _chunk_manifests(job: Path) -> dict[Path, dict]:
    found = {}
    for path in sorted(job.glob("shots/*/chunk-*.json")):
        try:
            found[path] = json.loads(path.read_text())
        except (OSError, ValueError):  # never happens with atomic writes; would fail below
            found[path] = {"state": "unreadable"}
    return found


def _gone(pgid: int, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_kill_9_mid_run_then_resume(short_media, cluster, tmp_path, yaml_list, same_frames):
    out, job = tmp_path / "out", tmp_path / "job"
    out.mkdir()
    shots = yaml_list(tmp_path / "night.yaml", _shots(short_media, out), {"preset": "master"})
    cmd = [sys.executable, "-m", "vedit.batch", str(shots), "--job", str(job), "--workers", "2",
           "--chunk-frames", "10", "--quiet"]
    finals = [out / "long.mkv", out / "s13.mkv"]
    expected_frames = {finals[0]: 40, finals[1]: 20}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no chunk finished in time"
            for final in finals:  # a final name only ever holds a complete file
                if final.exists():
                    assert len(decoded_planes(final)) == expected_frames[final]
            manifests = _chunk_manifests(job)
            assert all(m.get("state") != "unreadable" for m in manifests.values())
            if any(m.get("state") == "done" for m in manifests.values()):
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole batch: client, scheduler, workers
        proc.wait()
    assert _gone(proc.pid), "worker processes survived the kill"
    done_before = {p: m for p, m in _chunk_manifests(job).items() if m["state"] == "done"}
    tracks_before = {p: json.loads(p.read_text()) for p in job.glob("shots/*/tracks.json")}
    tracks_before = {p: m for p, m in tracks_before.items() if m["state"] == "done"}
    assert done_before
    for final in finals:
        assert not final.exists() or len(decoded_planes(final)) == expected_frames[final]
    interrupted = batch_status(job)
    assert not interrupted.active and not interrupted.ok
    assert "interrupted" in interrupted.to_text() or interrupted.counts["pending"]

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]

    after = _chunk_manifests(job)
    for path, before in done_before.items():  # finished chunks were not rendered again
        assert after[path]["attempts"] == before["attempts"] == 1, path.name
        assert after[path]["finished"] == before["finished"]
        assert after[path]["history"] == before["history"]
    assert all(m["state"] == "done" for m in after.values())
    assert len(after) == 6  # long: 4 chunks, s13: 2 chunks
    assert tracks_before, "a chunk was done, so its shot's tracks were"
    for path, before in tracks_before.items():
        assert json.loads(path.read_text())["history"] == before["history"], "tracks redone"
    assert not list(out.glob(".*")), "partial files were left behind"
    assert batch_status(job).ok

    # The same list run without interruption gives identical outputs.
    ref_out = tmp_path / "ref"
    ref_out.mkdir()
    ref = yaml_list(tmp_path / "ref.yaml", _shots(short_media, ref_out), {"preset": "master"})
    result = run_batch(ref, job_dir=tmp_path / "refjob", scheduler=cluster.scheduler_address,
                       chunk_frames=10, progress=False)
    assert result.ok
    for final in finals:
        same_frames(final, ref_out / final.name)


def test_a_worker_that_dies_mid_chunk_is_replaced_and_the_chunk_retried(
        short_media, cluster, tmp_path, yaml_list):
    m = short_media
    marker = tmp_path / "crashed-once"
    shots = yaml_list(tmp_path / "w.yaml", [
        {"source": str(m["s13"]), "driving": str(m["d0s"]),
         "output": str(tmp_path / "s13.mkv"), "out": 20}], {"preset": "master"})

    result = run_batch(shots, job_dir=tmp_path / "job", scheduler=cluster.scheduler_address,
                       chunk_frames=10, progress=False,
                       _crash_once={"shot": "s13", "step": "chunk-001", "marker": marker})

    assert result.ok, result.failed
    assert marker.exists(), "the chunk did not kill its worker"
    crashed_pid = int(marker.read_text().split()[0])
    step = json.loads(next(result.job_dir.glob("shots/*/chunk-001.json")).read_text())
    assert step["state"] == "done" and step["attempts"] == 2
    first, second = step["history"]
    assert first["pid"] == crashed_pid and "finished" not in first  # died mid-attempt
    assert second["pid"] != crashed_pid and second["state"] == "done"
    assert len(decoded_planes(tmp_path / "s13.mkv")) == 20
