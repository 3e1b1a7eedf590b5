"""The `vedit` command line: parses options and calls the library. No work happens here."""
from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from vedit import __version__
from vedit.errors import VeditError
from vedit.io import CODECS

log = logging.getLogger("vedit")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("absl", "distributed", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _reports_errors(func):
    """Turn a VeditError into one 'vedit: error: FILE: problem' line and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except VeditError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"vedit: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("vedit: interrupted", err=True)
            sys.exit(130)

    return wrapper


class _Progress:
    """A terminal progress line with frames/s, written to stderr."""

    def __init__(self, label: str, total: int | None) -> None:
        self._bar = click.progressbar(length=total or 0, label=label, file=sys.stderr,
                                      show_pos=True, show_eta=bool(total),
                                      item_show_func=lambda _: None)
        self._done = 0

    def __enter__(self):
        self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        self._bar.__exit__(*exc)

    def __call__(self, done: int) -> None:
        self._bar.update(done - self._done)
        self._done = done


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vedit")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """vedit: re-animate the faces in finished footage from a driving performance."""
    ctx.obj = {"debug": debug}
    _setup_logging(verbose)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_reports_errors
def probe(file: Path, as_json: bool) -> None:
    """Streams, codec, size, frames, rate, time base, duration, colour, audio, rotation."""
    from vedit.io import probe as probe_file

    info = probe_file(file).to_dict()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['path']}  ({info['container']}, {info['size_bytes']} bytes)")
    if info.get("duration_seconds") is not None:
        click.echo(f"  duration   {info['duration_seconds']:.3f} s ({info['duration']})")
    v = info.get("video")
    if v:
        click.echo(f"  video      {v['codec']} {v['pix_fmt']} {v['width']}x{v['height']} "
                   f"(coded {v['coded_width']}x{v['coded_height']}), rotation {v['rotation']}")
        click.echo(f"  frames     {v['frame_count']} at {v['fps']} fps ({v['fps_float']:.3f}), "
                   f"time base {v['time_base']}")
        c = v["colour_names"]
        click.echo(f"  colour     primaries {c['primaries']}, transfer {c['transfer']}, "
                   f"matrix {c['matrix']}, range {c['range']}")
    for a in info.get("audio", []):
        click.echo(f"  audio #{a['index']}  {a['codec']} {a['sample_rate']} Hz {a['layout']} "
                   f"({a['channels']} ch)")


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--codec", default="h264", show_default=True,
              help=f"One of: {', '.join(CODECS)}.")
@click.option("--crf", type=int, default=None, help="Quality for h264/h265 (lower = better).")
@click.option("--no-audio", is_flag=True, help="Drop the audio streams.")
@_reports_errors
def transcode(source: Path, output: Path, codec: str, crf: int | None, no_audio: bool) -> None:
    """Re-encode SOURCE to OUTPUT with no edit (the I/O baseline)."""
    from vedit.io import probe as probe_file
    from vedit.pipeline.transcode import transcode as run

    total = probe_file(source).video
    with _Progress("transcode", total.frame_count if total else None) as progress:
        run(source, output, codec=codec, crf=crf, audio=not no_audio, progress=progress)
    click.echo(f"wrote {output}")


@main.command()
@click.argument("shot", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Tracks JSON (default: SHOT.tracks.json beside the shot).")
@click.option("--preview", type=click.Path(path_type=Path), default=None,
              help="Write an overlay video (boxes, IDs, landmarks) to scrub.")
@click.option("--detect-every", type=int, default=None, help="Full detection every N frames.")
@click.option("--max-gap", type=int, default=None,
              help="Frames a lost face keeps its ID before a returning face gets a new one.")
@_reports_errors
def track(shot: Path, output: Path | None, preview: Path | None, detect_every: int | None,
          max_gap: int | None) -> None:
    """Find, identify and follow every face of SHOT; write per-frame tracks as JSON."""
    from vedit.faces import TrackerConfig, render_preview, track_shot
    from vedit.io import probe as probe_file

    overrides = {k: v for k, v in (("detect_every", detect_every), ("max_gap", max_gap))
                 if v is not None}
    config = TrackerConfig(**overrides)
    total = probe_file(shot).video
    with _Progress("track", total.frame_count if total else None) as progress:
        tracks = track_shot(shot, config, progress=lambda done, _total: progress(done))
    out = output or shot.with_suffix(".tracks.json")
    tracks.to_json(out)
    for t in tracks.tracks:
        absent = t.absent_frames
        click.echo(f"face {t.track_id}: frames {t.start}-{t.stop - 1}, "
                   f"present {int(t.valid.sum())}/{tracks.n_frames}"
                   + (f", absent at {_ranges(absent)}" if len(absent) else ""))
    if not tracks.tracks:
        click.echo("no face found in the shot", err=True)
    click.echo(f"wrote {out}")
    if preview is not None:
        render_preview(shot, tracks, preview)
        click.echo(f"wrote {preview}")


def _ranges(frames) -> str:
    """[3,4,5,9] -> '3-5, 9'."""
    out, start, prev = [], None, None
    for f in list(frames) + [None]:
        if start is None:
            start = prev = f
        elif f is not None and f == prev + 1:
            prev = f
        else:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = f
    return ", ".join(out)


if __name__ == "__main__":  # pragma: no cover
    main()
