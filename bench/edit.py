"""`vedit edit` against `vedit transcode` on the same shots, side by side in one run.

    python bench/edit.py [--codec h264] [--long]

Prints wall time and peak RSS of each (fresh process per run) and the ratio edit/transcode
(goal <= 3x). With --long, also a 3x longer shot (s18 played three times) to show that memory
stays flat in length.
"""
from __future__ import annotations

import argparse
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
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vedit_bench_edit_"))
    suffix = ".mp4"
    cases = list(CASES)
    if args.long:
        cases.append(("s18 x3 (846 frames)", str(_long_clip(folder)), {"driving": "d11.mp4"}))
    print(f"{'shot':22} {'transcode s':>11} {'edit s':>8} {'ratio':>6} {'edit fps':>8} "
          f"{'RSS tc MiB':>10} {'RSS edit MiB':>12}")
    for label, clip, drivings in cases:
        src = Path(clip) if Path(clip).is_absolute() else MEDIA / clip
        tc = run_measured(_transcode_code(src, folder / f"tc{suffix}", args.codec))
        ed = run_measured(_edit_code(src, folder / f"ed{suffix}", drivings, args.codec))
        print(f"{label:22} {tc['wall_s']:11.1f} {ed['wall_s']:8.1f} "
              f"{ed['wall_s'] / tc['wall_s']:6.2f} {ed['frames'] / ed['wall_s']:8.1f} "
              f"{tc['peak_rss_mib']:10.0f} {ed['peak_rss_mib']:12.0f}", flush=True)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in ed["stages"].items())
        print(f"{'':22} stages: {stages}", flush=True)


if __name__ == "__main__":
    main()
