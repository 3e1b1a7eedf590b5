"""Peak RSS of a 1080p transcode is flat in length: 3000 frames vs 300 frames.

    python bench/io_memory.py [--codec h264] [--keep DIR]

Writes two synthetic 1080p clips (300 and 3000 frames, with audio), transcodes each in a fresh
process and prints peak RSS and the ratio (goal <= 1.2x).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_measured
from support import make_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--codec", default="h264")
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vedit_bench_"))
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for frames in (300, 3000):
        src = folder / f"src_{frames}.mp4"
        if not src.exists():
            print(f"making {frames}-frame 1080p clip...", flush=True)
            make_clip(src, frames=frames, size=(1920, 1080), rate=Fraction(25), audio=True,
                      codec="libx264")
        out = folder / f"out_{frames}.mp4"
        code = ("from vedit.pipeline.transcode import transcode\n"
                f"transcode({str(src)!r}, {str(out)!r}, codec={args.codec!r})")
        results[frames] = run_measured(code)
        r = results[frames]
        print(f"{frames:5d} frames: peak RSS {r['peak_rss_mib']:.0f} MiB, "
              f"{frames / r['wall_s']:.1f} fps", flush=True)
    ratio = results[3000]["peak_rss_mib"] / results[300]["peak_rss_mib"]
    print(f"peak RSS ratio 3000/300 frames: {ratio:.3f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
