"""`python -m vedit.batch SHOTLIST [...]` / `python -m vedit.batch status JOB`, without click.

The same calls the `vedit batch` command makes; kept for scripts and for the crash-and-resume
tests, which need a batch in a process of its own that they can kill.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from vedit.errors import VeditError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if args[:1] == ["status"]:
        parser = argparse.ArgumentParser(prog="python -m vedit.batch status")
        parser.add_argument("job")
        parser.add_argument("--json", action="store_true")
        ns = parser.parse_args(args[1:])
        from vedit.batch import batch_status

        try:
            status = batch_status(ns.job)
        except VeditError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(status.to_dict(), indent=1, default=str) if ns.json
              else status.to_text())
        return 0 if status.ok else 1
    parser = argparse.ArgumentParser(prog="python -m vedit.batch")
    parser.add_argument("shot_list")
    parser.add_argument("--job")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--scheduler")
    parser.add_argument("--chunk-frames", type=int)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--preset")
    parser.add_argument("--gpus", type=int)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    ns = parser.parse_args(args)
    from vedit.batch import run_batch

    try:
        result = run_batch(ns.shot_list, job_dir=ns.job, workers=ns.workers,
                           scheduler=ns.scheduler, chunk_frames=ns.chunk_frames,
                           retries=ns.retries, preset=ns.preset, gpus=ns.gpus,
                           progress=not ns.quiet)
    except VeditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for shot in result.failed:
        print(f"FAILED {shot.name} ({shot.location}): {shot.error}", file=sys.stderr)
    print(f"{len(result.shots) - len(result.failed)}/{len(result.shots)} shots done in "
          f"{result.seconds:.1f} s ({result.fps:.2f} frames/s); report: {result.report}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
