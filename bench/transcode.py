"""Floor figures: decode-only and decode+encode fps of s18.mp4 (1280x720) for each codec.

    python bench/transcode.py [--clip PATH]

Every later benchmark (edit, track, batch) is reported as a ratio of these, measured in the
same run on the same machine.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MEDIA, run_measured

SUFFIX = {"h264": ".mp4", "h265": ".mp4", "prores": ".mov", "prores4444": ".mov",
          "dnxhr": ".mov", "ffv1": ".mp4"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clip", type=Path, default=MEDIA / "s18.mp4")
    ap.add_argument("--out", type=Path, default=Path("/tmp"))
    args = ap.parse_args()
    decode = run_measured(
        "from vedit.io import open_video\n"
        f"with open_video({str(args.clip)!r}) as r:\n"
        "    n = sum(1 for f in r)\n"
        "extra = {'frames': n}\n")
    n = decode["frames"]
    print(f"clip {args.clip.name}: {n} frames")
    print(f"{'decode only':>14}: {n / decode['wall_s']:7.1f} fps")
    decode_rgb = run_measured(
        "from vedit.io import open_video\n"
        f"with open_video({str(args.clip)!r}) as r:\n"
        "    n = sum(1 for f in r if f.rgb() is not None)\n")
    print(f"{'decode + rgb':>14}: {n / decode_rgb['wall_s']:7.1f} fps")
    for codec, suffix in SUFFIX.items():
        out = args.out / f"bench_transcode_{codec}{suffix}"
        r = run_measured("from vedit.pipeline.transcode import transcode\n"
                         f"transcode({str(args.clip)!r}, {str(out)!r}, codec={codec!r})")
        print(f"{'+ ' + codec:>14}: {n / r['wall_s']:7.1f} fps  (peak RSS "
              f"{r['peak_rss_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
