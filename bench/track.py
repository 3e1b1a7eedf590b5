"""Benchmark of the face tracker on composed 720p frames with 1, 2 and 3 faces.

Faces are cut from the real driving clips (d0, d11, d3: their own motion and expressions) and
pasted side by side on a textured 1280x720 background, drifting slowly. Prints, per face count,
the steady-state milliseconds per frame of ``FaceTracker.update`` (composition and decoding not
counted), the share of frames that ran full detection, mesh runs per frame, and for reference
the same with detection on every frame.

Usage:
    .venv/bin/python bench/track.py [--frames 90] [--repeat 2] [--media ../shared/media]
"""
from __future__ import annotations

import argparse
import itertools
import logging
import math
import os
import time
from pathlib import Path

import cv2
import numpy as np

from vedit.faces import TrackerConfig, create_tracker
from vedit.io import open_video

CLIPS = ("d0.mp4", "d11.mp4", "d3.mp4")
W, H, PATCH = 1280, 720, 300
WARMUP = 5


def read_patches(media: Path, name: str, n: int) -> list[np.ndarray]:
    """n (PATCH, PATCH, 3) uint8 RGB frames of a square driving clip (looped if short)."""
    with open_video(media / name) as reader:
        frames = [cv2.resize(f.rgb(), (PATCH, PATCH), interpolation=cv2.INTER_AREA)
                  for f in itertools.islice(reader, n)]
    return [frames[i % len(frames)] for i in range(n)]


def compose(patches: list[list[np.ndarray]], n: int) -> list[np.ndarray]:
    """n 720p RGB frames with one face per patch list, spread across the width, drifting."""
    yy, xx = np.mgrid[0:H, 0:W]
    background = np.stack([(xx * 0.1 + 60) % 255, (yy * 0.15 + 90) % 255,
                           110 + 40 * np.sin(xx / 37.0) * np.cos(yy / 23.0)], axis=2)
    background = background.astype(np.uint8)
    k = len(patches)
    frames = []
    for t in range(n):
        frame = background.copy()
        for j, clip in enumerate(patches):
            cx = (j + 0.5) * W / k + 40 * math.sin(t / 15.0 + j)
            x = int(np.clip(cx - PATCH / 2, 0, W - PATCH))
            y = int((H - PATCH) / 2 + 30 * math.cos(t / 20.0 + j))
            frame[y:y + PATCH, x:x + PATCH] = clip[t]
        frames.append(frame)
    return frames


def run(frames: list[np.ndarray], config: TrackerConfig) -> dict[str, float]:
    """Track the frames; timings exclude the first WARMUP frames (graph start-up)."""
    t0 = time.perf_counter()
    with create_tracker(config, 25.0) as tracker:
        start_s = time.perf_counter() - t0
        times, faces = [], []
        for frame in frames:
            t = time.perf_counter()
            obs = tracker.update(frame)
            times.append(time.perf_counter() - t)
            faces.append(len(obs))
    stats = tracker.stats
    steady = np.array(times[WARMUP:]) * 1000
    return {"ms": float(steady.mean()), "p95": float(np.percentile(steady, 95)),
            "detect_share": stats.detect_frames / stats.frames,
            "mesh_per_frame": stats.mesh_calls / stats.frames,
            "faces": float(np.mean(faces)), "tracks": stats.tracks, "start_ms": start_s * 1000}


def main() -> None:
    default_media = Path(__file__).resolve().parents[1].parent / "shared" / "media"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--media", type=Path, default=default_media)
    parser.add_argument("--repeat", type=int, default=2, help="runs per setting, best kept")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (args.media / CLIPS[0]).exists():
        raise SystemExit(f"clips not found in {args.media}")
    patches = [read_patches(args.media, name, args.frames) for name in CLIPS]
    load = os.getloadavg()[0]
    print(f"{W}x{H}, {args.frames} frames per run, first {WARMUP} not timed, best of "
          f"{args.repeat}; {os.cpu_count()} CPUs, load average {load:.1f} (figures rise with it)")
    print(f"{'faces':>5} {'ms/frame':>9} {'p95':>7} {'detect %':>9} {'mesh/frame':>10} "
          f"{'seen':>5} {'ids':>4} | {'detect every frame':>18}")
    for k in (1, 2, 3):
        frames = compose(patches[:k], args.frames)
        r = min((run(frames, TrackerConfig()) for _ in range(args.repeat)),
                key=lambda x: x["ms"])
        full = min((run(frames, TrackerConfig(detect_every=1)) for _ in range(args.repeat)),
                   key=lambda x: x["ms"])
        print(f"{k:>5} {r['ms']:>9.1f} {r['p95']:>7.1f} {100 * r['detect_share']:>8.0f}% "
              f"{r['mesh_per_frame']:>10.2f} {r['faces']:>5.2f} {r['tracks']:>4} | "
              f"{full['ms']:>15.1f} ms")


if __name__ == "__main__":
    main()
