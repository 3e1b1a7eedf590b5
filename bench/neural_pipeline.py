"""End-to-end `vedit edit --engine liveportrait` speed, with the share of each stage.

    python bench/neural_pipeline.py --weights DIR [--device cpu|cuda] [--batches 1,8,32]
                                    [--frames N] [--dtype float32]

Renders the first frames of s18 (1 face) and two_faces (2 faces) at each batch size
(fresh process per run) and prints frames/s of the render pass and the time shares of decode,
engine (networks + Eq. 8), composite and encode; driving analysis and tracking are printed
apart (they are per clip, not per rendered frame). By default each run renders just enough
frames to fill one network call of the batch size (at least 4): batch 32 is 32 frames of s18
and 16 of two_faces (2 faces a frame). Stage threads overlap, so the shares are of busy time
per stage, not of wall time. Without weights, make stand-in ones with
../shared/liveportrait/make_reference_weights.py DIR --seed 0.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MEDIA, run_measured

CASES = [("s18 (1 face)", "s18.mp4", {"driving": "d0.mp4"}),
         ("two_faces (2 faces)", "two_faces.mp4", {"face_drivings": {0: "d0.mp4", 1: "d11.mp4"}})]


def _short_driving(path: Path, folder: Path, frames: int) -> Path:
    from fractions import Fraction

    from vedit.io import VideoWriter, open_video

    out = folder / f"short_{path.name}"
    with open_video(path) as r, VideoWriter(out, width=r.info.width, height=r.info.height,
                                            fps=Fraction(r.info.fps), codec="ffv1") as w:
        for f in r:
            if f.index >= frames:
                break
            w.write_rgb(f.rgb())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--frames", type=int, default=0,
                    help="Frames per run; 0: enough for one full batch (at least 4).")
    ap.add_argument("--driving-frames", type=int, default=8,
                    help="Use only the first N frames of each driving (M on CPU is slow).")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vedit_bench_nn_"))
    short = {name: _short_driving(MEDIA / name, folder, args.driving_frames)
             for name in ("d0.mp4", "d11.mp4")}
    print(f"device {args.device}, dtype {args.dtype}, "
          f"{args.frames or 'one full batch of'} frames per run")
    print(f"{'shot':22} {'batch':>5} {'render fps':>10} {'decode':>7} {'engine':>7} "
          f"{'compos.':>7} {'encode':>7} {'driving s':>9} {'track s':>7} {'RSS MiB':>8} "
          f"{'frames':>6}")
    rows = []
    for (label, clip, drivings), faces in zip(CASES, (1, 2), strict=True):
        kw = {k: (str(short[v]) if isinstance(v, str) else
                  {i: str(short[p]) for i, p in v.items()}) for k, v in drivings.items()}
        for batch in [int(b) for b in args.batches.split(",")]:
            frames = args.frames or max(4, -(-batch // faces))
            opts = {"weights": args.weights, "device": args.device, "dtype": args.dtype,
                    "batch_size": batch}
            code = ("from vedit.pipeline.config import EditConfig\n"
                    "from vedit.pipeline.edit import edit\n"
                    f"r = edit(EditConfig(source={str(MEDIA / clip)!r}, "
                    f"output={str(folder / 'out.mp4')!r}, codec='h264', engine='liveportrait', "
                    f"engine_options={opts!r}, frames=(0, {frames}), **{kw!r}))\n"
                    "extra = {'frames': r.frames, 'stages': r.seconds}\n")
            r = run_measured(code)
            st = r["stages"]
            parts = {k: st.get(k, 0.0) for k in ("decode", "engine", "composite", "encode")}
            total = sum(parts.values()) or 1.0
            print(f"{label:22} {batch:5d} {r['frames'] / st['render']:10.3f} "
                  + " ".join(f"{100 * v / total:6.1f}%" for v in parts.values())
                  + f" {st.get('drivings', 0):9.1f} {st.get('track', 0):7.1f} "
                  f"{r['peak_rss_mib']:8.0f} {r['frames']:6d}", flush=True)
            rows.append((label, batch, st))
    print("\nshare of each run's wall time: analysis (source tracking with the drivings' "
          "motion beside it) vs the render pass")
    for label, batch, st in rows:
        wall = st.get("total") or 1.0
        analysis = max(st.get("track", 0.0), st.get("drivings", 0.0))
        print(f"{label:22} {batch:5d} analysis {100 * analysis / wall:5.1f}%  "
              f"render {100 * st.get('render', 0.0) / wall:5.1f}%")


if __name__ == "__main__":
    main()
