"""`vedit edit` against `vedit transcode` on the same shots, side by side in one run.

    python bench/edit.py [--codec h264] [--long]

Prints wall time and peak RSS of each (fresh process per run) and the ratio edit/transcode
(goal <= 3x). Each shot is measured --repeat times (default 3), transcode and edit alternating,
so a burst of load elsewhere on a shared machine falls on both: the table gives the medians and
the ratio of the medians, and the range of the ratios of the pairs. With --long, also a 3x
longer shot (s18 played three times) to show that memory stays flat in length.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MEDIA, run_measured

CASES = [("s18 (1 face)", "s18.mp4", {"driving": "d11.mp4"}),
         ("two_faces (2 faces)", "two_faces.mp4", {"face_drivings": {0: "d0.mp4", 1: "d11.mp4"}})]


def _edit_code(src: Path, out: Path, drivings: dict, codec: str) -> str:
    kw = {k: (str(MEDIA / v) if isinstance(v, str) else {i: str(MEDIA / p) for i, p in v.items()})
          for k, v in drivings.items()}
    return ("from vedit.pipeline.config import EditConfig\n"
            "from vedit.pipeline.edit import edit\n"
            f"r = edit(EditConfig(source={str(src)!r}, output={str(out)!r}, codec={codec!r}, "
            f"**{kw!r}))\n"
            "extra = {'frames': r.frames, 'stages': r.seconds}\n")


def _transcode_code(src: Path, out: Path, codec: str) -> str:
    return ("from vedit.pipeline.transcode import transcode\n"
            f"transcode({str(src)!r}, {str(out)!r}, codec={codec!r})\n")


def _long_clip(folder: Path) -> Path:
    """s18 three times in a row (846 frames), to compare memory against the plain s18."""
    out = folder / "s18x3.mp4"
    if out.exists():
        return out
    from fractions import Fraction

    from vedit.io import VideoWriter, open_video

    with open_video(MEDIA / "s18.mp4") as r:
        info = r.info
    with VideoWriter(out, width=info.width, height=info.height, fps=Fraction(info.fps),
                     codec="h264", crf=16) as w:
        for _ in range(3):
            with open_video(MEDIA / "s18.mp4") as r:
                for f in r:
                    w.write_rgb(f.rgb())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--codec", default="h264")
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="pairs of runs per shot")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vedit_bench_edit_"))
    suffix = ".mp4"
    cases = list(CASES)
    if args.long:
        cases.append(("s18 x3 (846 frames)", str(_long_clip(folder)), {"driving": "d11.mp4"}))
    print(f"{'shot':22} {'transcode s':>11} {'edit s':>8} {'ratio':>6} {'pairs':>11} "
          f"{'edit fps':>8} {'RSS tc MiB':>10} {'RSS edit MiB':>12}")
    for label, clip, drivings in cases:
        src = Path(clip) if Path(clip).is_absolute() else MEDIA / clip
        pairs = []
        for _ in range(max(1, args.repeat)):
            tc = run_measured(_transcode_code(src, folder / f"tc{suffix}", args.codec))
            ed = run_measured(_edit_code(src, folder / f"ed{suffix}", drivings, args.codec))
            pairs.append((tc, ed))
        tc_s = statistics.median(tc["wall_s"] for tc, _ in pairs)
        ed_s = statistics.median(ed["wall_s"] for _, ed in pairs)
        ratios = [ed["wall_s"] / tc["wall_s"] for tc, ed in pairs]
        ed = sorted((ed for _, ed in pairs), key=lambda r: r["wall_s"])[len(pairs) // 2]
        rss_tc = max(tc["peak_rss_mib"] for tc, _ in pairs)
        rss_ed = max(ed["peak_rss_mib"] for _, ed in pairs)
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"{label:22} {tc_s:11.1f} {ed_s:8.1f} {ed_s / tc_s:6.2f} {spread:>11} "
              f"{ed['frames'] / ed_s:8.1f} {rss_tc:10.0f} {rss_ed:12.0f}", flush=True)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in ed["stages"].items())
        print(f"{'':22} stages (median edit): {stages}", flush=True)


if __name__ == "__main__":
    main()
