"""`vedit batch` throughput: 1 vs 2 workers on 8 short shots, and one long shot chunked vs not.

    python bench/batch.py [--frames 25] [--long-frames 240] [--json out.json]

Side by side in one run, each on a fresh LocalCluster (worker processes, one thread each,
OMP/BLAS/OpenCV limited to one thread per worker):

* batch: 8 short shots (s13, s18, two_faces, still s0) rendered with 1 worker, then 2 workers;
  frames/s over the whole batch (wall time from validation to the report, cluster start
  included, as a user waits for it). Goal on a 2-core machine: >= 1.6x with 2 workers.
* long shot: s18, one render vs 4 chunks (joined) on 2 workers; frames/s of each.

Also printed: how many steps ran at once on average, the share of a core each step got
(CPU / wall, from the job manifests) and the load average: on a machine shared with other
work, a low CPU share explains a low speed-up.

Drivings are cut to 40 frames first (into a temp folder) so that the bench measures rendering,
not re-analysing long driving clips in every shot.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MEDIA


def _short_drivings(folder: Path) -> dict[str, Path]:
    from vedit.io import VideoWriter, open_video

    out = {}
    for name in ("d0", "d11", "d3"):
        path = folder / f"{name}_40.mp4"
        with open_video(MEDIA / f"{name}.mp4") as reader, VideoWriter(
                path, template=reader.info, codec="h264") as writer:
            for frame in reader:
                if frame.index >= 40:
                    break
                writer.write(frame)
        out[name] = path
    return out


def _short_shots(d: dict[str, Path], out: Path, n: int) -> list[dict]:
    plan = [("s13.mp4", 0, {"driving": d["d0"]}), ("s18.mp4", 0, {"driving": d["d11"]}),
            ("two_faces.mp4", 0, {"faces": {0: d["d0"], 1: d["d3"]}}),
            ("s13.mp4", 50, {"driving": d["d3"]}), ("s18.mp4", 120, {"driving": d["d0"]}),
            ("s18.mp4", 200, {"driving": d["d3"]}), ("two_faces.mp4", 60, {"driving": d["d11"]}),
            ("s13.mp4", 75, {"driving": d["d11"]})]
    shots = []
    for k, (src, start, drv) in enumerate(plan):
        row = {"source": str(MEDIA / src), "output": str(out / f"shot{k}.mkv"),
               "in": start, "out": start + n}
        row.update({key: (str(v) if isinstance(v, Path) else {i: str(p) for i, p in v.items()})
                    for key, v in drv.items()})
        shots.append(row)
    return shots


def _write(path: Path, shots: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"defaults": {"preset": "master"}, "shots": shots}))
    return path


def _run(shots: Path, job: Path, **kw) -> dict:
    """One batch; frames/s over its wall time, plus what its steps spent (from manifests).

    steps_s / wall_s is how many steps ran at once on average; cpu_s / steps_s is the share
    of a core each step got: well below 1 means other processes were taking the CPU.
    """
    from vedit.batch import run_batch

    load = os.getloadavg()[0]
    t = time.perf_counter()
    result = run_batch(shots, job_dir=job, progress=False, **kw)
    wall = time.perf_counter() - t
    frames = sum(s.frames for s in result.shots)
    if not result.ok:
        raise SystemExit(f"batch failed: {[(s.name, s.error) for s in result.failed]}")
    steps = [json.loads(p.read_text()) for p in job.glob("shots/*/*.json")
             if p.name not in ("shot.json", "qa.json")]
    step_s = sum(s.get("seconds", 0.0) for s in steps)
    cpu_s = sum(s.get("cpu_seconds", 0.0) for s in steps)
    return {"frames": frames, "wall_s": round(wall, 2), "fps": round(frames / wall, 3),
            "workers": result.cluster.workers, "steps_s": round(step_s, 1),
            "cpu_s": round(cpu_s, 1), "concurrency": round(step_s / wall, 2),
            "cpu_share": round(cpu_s / step_s, 2) if step_s else None,
            "loadavg_before": round(load, 2), "loadavg_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=25, help="frames per short shot")
    ap.add_argument("--long-frames", type=int, default=240)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import logging

    logging.getLogger("distributed").setLevel(logging.WARNING)
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="vedit-bench-batch-") as tmp:
        root = Path(tmp)
        drivings = _short_drivings(root)
        for workers in (1, 2):
            out = root / f"out{workers}"
            out.mkdir()
            lst = _write(root / f"short{workers}.yaml", _short_shots(drivings, out, args.frames))
            report[f"batch_{workers}w"] = _run(lst, root / f"job{workers}", workers=workers,
                                               chunk_frames=0)
            print(f"8 shots, {workers} worker(s): {report[f'batch_{workers}w']}", flush=True)
        report["batch_speedup"] = round(report["batch_2w"]["fps"] / report["batch_1w"]["fps"], 3)
        for chunks in (1, 4):
            out = root / f"long{chunks}"
            out.mkdir()
            lst = _write(root / f"long{chunks}.yaml", [{
                "source": str(MEDIA / "s18.mp4"), "driving": str(drivings["d11"]),
                "output": str(out / "s18.mkv"), "out": args.long_frames}])
            size = 0 if chunks == 1 else -(-args.long_frames // chunks)
            report[f"long_{chunks}chunk"] = _run(lst, root / f"ljob{chunks}", workers=2,
                                                 chunk_frames=size)
            print(f"s18 {args.long_frames} frames, {chunks} chunk(s), 2 workers: "
                  f"{report[f'long_{chunks}chunk']}", flush=True)
        report["long_speedup"] = round(report["long_4chunk"]["fps"]
                                       / report["long_1chunk"]["fps"], 3)
    print(f"\n{'case':<14}{'frames':>7}{'wall s':>8}{'frames/s':>10}{'steps at once':>15}"
          f"{'cpu/step':>10}{'load':>7}")
    for key in ("batch_1w", "batch_2w", "long_1chunk", "long_4chunk"):
        r = report[key]
        print(f"{key:<14}{r['frames']:>7}{r['wall_s']:>8.1f}{r['fps']:>10.2f}"
              f"{r['concurrency']:>15.2f}{r['cpu_share']:>10.2f}{r['loadavg_before']:>7.1f}")
    print(f"2 workers / 1 worker: {report['batch_speedup']:.2f}x (goal >= 1.6x); "
          f"4 chunks / 1 chunk: {report['long_speedup']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
