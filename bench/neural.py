"""LivePortrait networks: milliseconds per frame per network and per whole frame.

    .venv/bin/python bench/neural.py --weights DIR [--batches 1,8,32] [--dtypes fp32,bf16]
                                     [--devices cpu,cuda] [--max-seconds 900] [--json OUT]

DIR is the official weights dir (or a converted .safetensors). One fresh process per
(device, dtype, batch), so each peak-memory figure is that configuration's own: peak RSS on
CPU, torch.cuda.max_memory_allocated on CUDA. One timed pass per configuration does what a
frame of video-to-video needs, stage by stage, at batch B:

    M on B source and B driving frames, F on the B source frames, keypoint transforms,
    stitching, then W+G  →  "frame" = the whole pass / B

"M" is per image (the mean of the two M calls). Stitching includes the two keypoint
transforms. CPU rows also show CPU seconds per frame (process time): on a shared machine
wall time grows with other load, CPU time much less. A configuration that runs past
--max-seconds is stopped and reported as such (batch 32 in float32 on 2 CPU cores takes
~10 min). Input frames are random: the cost does not depend on the content.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
STAGES = ("F", "M", "W+G", "stitch", "frame")


def _child(weights: str, device: str, dtype: str, batch: int, warmup: bool) -> dict:
    """Run one configuration in this process; return its timings (ms per frame) and memory."""
    import torch

    sys.path.insert(0, str(REPO))
    from vedit.models.liveportrait import LivePortraitNet

    dev = torch.device(device)
    net = LivePortraitNet.from_dir(
        weights, device=dev, dtype=getattr(torch, DTYPES[dtype]), chunk_size=batch
    )
    gen = torch.Generator().manual_seed(0)
    src = torch.rand(batch, 3, 256, 256, generator=gen).to(dev)
    drv = torch.rand(batch, 3, 256, 256, generator=gen).to(dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def clock() -> tuple[float, float]:
        sync()
        return time.perf_counter(), time.process_time()

    def frame_pass() -> dict[str, tuple[float, float]]:
        marks = {"start": clock()}
        m_src = net.motion(src)
        m_drv = net.motion(drv)
        marks["M"] = clock()
        feat = net.appearance_features(src)
        marks["F"] = clock()
        x_s = net.transform_keypoints(m_src)
        x_d = net.stitch(x_s, net.transform_keypoints(m_drv))
        marks["stitch"] = clock()
        net.warp_decode(feat, x_s, x_d)
        marks["W+G"] = clock()
        return marks

    if warmup:
        frame_pass()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    marks = frame_pass()
    names = ["start", "M", "F", "stitch", "W+G"]
    out: dict[str, object] = {}
    for prev, name in itertools.pairwise(names):
        wall = marks[name][0] - marks[prev][0]
        cpu = marks[name][1] - marks[prev][1]
        per = 2 * batch if name == "M" else batch
        out[name] = {"wall_ms": 1000 * wall / per, "cpu_ms": 1000 * cpu / per}
    out["frame"] = {
        "wall_ms": 1000 * (marks["W+G"][0] - marks["start"][0]) / batch,
        "cpu_ms": 1000 * (marks["W+G"][1] - marks["start"][1]) / batch,
    }
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if dev.type == "cuda":
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
        out["gpu"] = torch.cuda.get_device_name(dev)
    out["threads"] = torch.get_num_threads()
    return out


def _run_config(args: argparse.Namespace, device: str, dtype: str, batch: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--weights",
        args.weights,
        "--devices",
        device,
        "--dtypes",
        dtype,
        "--batches",
        str(batch),
    ]
    if args.warmup:
        cmd.append("--warmup")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.max_seconds, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {args.max_seconds:.0f} s (--max-seconds)"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(res: dict, stage: str, cpu: bool) -> str:
    t = res[stage]
    return f"{t['wall_ms']:.0f} ({t['cpu_ms']:.0f})" if cpu else f"{t['wall_ms']:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="official weights dir or .safetensors")
    ap.add_argument("--batches", default="1,8,32", help="comma list (default 1,8,32)")
    ap.add_argument("--dtypes", default="fp32,bf16", help="comma list of fp32, bf16, fp16")
    ap.add_argument("--devices", default=None, help="comma list (default: cpu, plus cuda)")
    ap.add_argument("--max-seconds", type=float, default=900, help="per configuration")
    ap.add_argument("--warmup", action="store_true", help="one untimed pass first")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = args.dtypes.split(",")
    if args.child:
        res = _child(args.weights, args.devices, dtypes[0], batches[0], args.warmup)
        print(json.dumps(res))
        return 0

    import torch  # only to see which devices exist

    devices = args.devices.split(",") if args.devices else ["cpu"]
    if args.devices is None and torch.cuda.is_available():
        devices.append("cuda")
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    print(
        "ms per frame, wall (CPU process time in brackets on CPU rows); peak MiB = peak RSS "
        "on CPU rows, torch.cuda.max_memory_allocated on CUDA rows"
    )
    header = f"{'device':<6} {'dtype':<5} {'batch':>5}  " + "  ".join(f"{s:>13}" for s in STAGES)
    print(header + f"  {'peak MiB':>9}")
    results = []
    for device in devices:
        for dtype in dtypes:
            for batch in batches:
                res = _run_config(args, device, dtype, batch)
                results.append({"device": device, "dtype": dtype, "batch": batch, **res})
                row = f"{device:<6} {dtype:<5} {batch:>5}  "
                if "error" in res:
                    print(row + res["error"], flush=True)
                    continue
                cells = "  ".join(f"{_fmt(res, s, device == 'cpu'):>13}" for s in STAGES)
                mem = res.get("cuda_peak_mib", res["peak_rss_mib"])
                print(row + cells + f"  {mem:>9.0f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
