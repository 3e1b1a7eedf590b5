"""Bench helpers: peak memory of a child process, media location, synthetic long clips."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"


def run_measured(code: str) -> dict:
    """Run Python `code` in a fresh interpreter; return its printed JSON plus peak RSS (MiB).

    A fresh process per measurement keeps one run's memory from hiding in another's peak.
    """
    wrapper = (
        "import json, resource, time\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "wall = time.perf_counter() - t0\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "result = {'wall_s': wall, 'peak_rss_mib': peak, **globals().get('extra', {})}\n"
        "print('@@' + json.dumps(result))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                          cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1]
    return json.loads(line[2:])
