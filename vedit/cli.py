"""The `vedit` command line: parses options and calls the library. No work happens here."""
from __future__ import annotations

import functools
import json
import logging
import sys
from fractions import Fraction
from pathlib import Path

import click

from vedit import __version__
from vedit.errors import VeditError
from vedit.io import CODECS

log = logging.getLogger("vedit")


def _setup_logging(verbose: bool) -> None:
    """vedit's own INFO lines (DEBUG with -v); other libraries only from WARNING up."""
    level = logging.DEBUG if verbose else logging.INFO

    def keep(record: logging.LogRecord) -> bool:
        own = record.name == "vedit" or record.name.startswith("vedit.")
        return record.levelno >= (level if own else logging.WARNING)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(keep)
    logging.basicConfig(level=level, handlers=[handler])


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


def _face_driving(values: tuple[str, ...]) -> dict[int, Path]:
    out = {}
    for value in values:
        ident, sep, path = value.partition("=")
        if not sep or not ident.strip().isdigit() or not path:
            raise click.BadParameter(f"{value!r}: expected ID=DRIVING, e.g. 0=actor.mp4",
                                     param_hint="--face")
        out[int(ident)] = Path(path)
    return out


def _frame_range(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    start, _, stop = value.partition(":")
    try:
        return int(start or 0), int(stop)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected START:STOP frame numbers",
                                 param_hint="--frames") from None


def _fraction(value: str | None, hint: str) -> Fraction | None:
    if value is None:
        return None
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise click.BadParameter(f"{value!r}: expected seconds, e.g. 0.5 or 1001/30000",
                                 param_hint=hint) from None


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-d", "--driving", type=click.Path(path_type=Path), default=None,
              help="Driving performance for every face (unless --face gives one).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output file; its suffix picks the container.")
@click.option("--face", "faces", multiple=True, metavar="ID=DRIVING",
              help="A face's own driving performance (IDs as `vedit track` prints them).")
@click.option("--preset", default=None, help="Named preset (presets/*.yaml) or a YAML file.")
@click.option("--region", default=None, help="all | exp | pose | lip (dubbing) | eyes.")
@click.option("--engine", default=None, help="embedded (default) | liveportrait.")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="LivePortrait weights folder (official layout) or .safetensors file.")
@click.option("--device", default=None, help="Neural engine device: cpu, cuda, cuda:1...")
@click.option("--dtype", default=None, help="Neural engine precision: float32|float16|bfloat16.")
@click.option("--batch-size", type=int, default=None, help="Neural engine frames per batch.")
@click.option("--motion", "motion_mode", default=None,
              help="Neural engine motion: paper (Eq. 8) | official.")
@click.option("--retarget-eyes", is_flag=True, default=None,
              help="Neural engine: keep eyes as open as in the face's first frame.")
@click.option("--normalize-lip", is_flag=True, default=None,
              help="Neural engine: close the source mouth before animating.")
@click.option("--mask-template", type=click.Path(path_type=Path), default=None,
              help="Neural engine: paste-back mask image (e.g. the official one).")
@click.option("--codec", default=None, help=f"One of: {', '.join(CODECS)} (default h264).")
@click.option("--crf", type=int, default=None, help="Quality for h264/h265.")
@click.option("--driving-fit", default=None, help="hold | loop | pingpong | trim.")
@click.option("--driving-cuts", default=None,
              help="join (default): a driving spliced from several takes continues its head "
                   "motion across each cut | off.")
@click.option("--driving-offset", default=None,
              help="Seconds from the shot's start to the driving's start (e.g. 0.5, -1/3).")
@click.option("--reference", default=None,
              help="Driving reference frame: first | neutral | a frame number.")
@click.option("--smoothing", default=None, help="paper | one_euro | kalman | none.")
@click.option("--scale-damping", type=float, default=None,
              help="0 keeps the head size, 1 follows the driving's full size change.")
@click.option("--rotation-limit", type=float, default=None,
              help="Largest head rotation transferred, degrees.")
@click.option("--expression-gain", type=float, default=None,
              help="Multiplier on the driving's expression change.")
@click.option("--frames", "frame_range", default=None, help="Render only START:STOP.")
@click.option("--preview", type=click.Path(path_type=Path), default=None,
              help="Also write source | driving | result side by side.")
@click.option("--no-audio", is_flag=True, help="Drop the source's audio.")
@_reports_errors
def edit(source: Path, driving: Path | None, output: Path, faces: tuple[str, ...],
         preset: str | None, frame_range: str | None, no_audio: bool, driving_offset: str | None,
         **options) -> None:
    """Re-animate every face of SOURCE (video or still) from a DRIVING performance."""
    from vedit.pipeline.edit import edit as run_edit
    from vedit.presets import build_edit_config

    config = build_edit_config(
        source=source, output=output, driving=driving, face_drivings=_face_driving(faces),
        preset=preset, frames=_frame_range(frame_range), audio=not no_audio,
        driving_offset=_fraction(driving_offset, "--driving-offset"),
        **{k: v for k, v in options.items() if v is not None})
    bars: dict[str, _Progress] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage not in bars or done < bars[stage]._done:
            for bar in bars.values():
                bar.__exit__(None, None, None)
            bars[stage] = _Progress(stage, total).__enter__()
        bars[stage](done)

    try:
        result = run_edit(config, progress=progress)
    finally:
        for bar in bars.values():
            bar.__exit__(None, None, None)
    render_s = result.seconds.get("render") or result.seconds.get("total", 0)
    fps = result.frames / render_s if render_s else 0.0
    click.echo(f"wrote {result.output}: {result.frames} frames, faces "
               f"{', '.join(map(str, result.faces)) or 'none'} ({fps:.1f} frames/s render)")


@main.group()
def weights() -> None:
    """Check or convert LivePortrait weights (the official .pth files, loaded safely)."""


@weights.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@_reports_errors
def weights_check(path: Path) -> None:
    """List every missing, unexpected or mis-shaped tensor in PATH (folder or .safetensors)."""
    from vedit.models.liveportrait import check_weights

    problems = check_weights(path)
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"vedit: error: {path}: {len(problems)} problem(s) with these weights",
                   err=True)
        sys.exit(1)
    click.echo(f"{path}: all five LivePortrait networks present, every tensor as expected")


@weights.command("convert")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
@_reports_errors
def weights_convert(path: Path, output: Path) -> None:
    """Convert the official weights folder PATH into one .safetensors file OUTPUT."""
    from vedit.models.liveportrait import convert_to_safetensors

    if output.suffix != ".safetensors":
        raise click.BadParameter("OUTPUT must end in .safetensors", param_hint="OUTPUT")
    click.echo(f"wrote {convert_to_safetensors(path, output)}")


class _BatchGroup(click.Group):
    """`vedit batch LIST ...` runs a shot list; `vedit batch status JOB` summarises a job."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_BatchGroup)
def batch() -> None:
    """Render a shot list (YAML, CSV or OTIO) on a Dask cluster; resumable."""


@batch.command("run")
@click.argument("shot_list", type=click.Path(path_type=Path))
@click.option("--job", type=click.Path(path_type=Path), default=None,
              help="Job folder (manifest, pieces, QA); default LIST.vedit-job beside the list.")
@click.option("--workers", type=int, default=None, help="Local workers (default: cores/GPUs).")
@click.option("--scheduler", default=None, help="Join a cluster: tcp://HOST:PORT.")
@click.option("--chunk-frames", type=int, default=None,
              help="Split long shots into chunks of N frames (0: never).")
@click.option("--retries", type=int, default=2, show_default=True,
              help="Retries of a failing chunk before its shot is reported failed.")
@click.option("--preset", default=None, help="Preset for shots that name none.")
@_reports_errors
def batch_run(shot_list: Path, job: Path | None, workers: int | None, scheduler: str | None,
              chunk_frames: int | None, retries: int, preset: str | None) -> None:
    """Render every shot of SHOT_LIST; re-running the same command resumes."""
    from vedit.batch import run_batch

    result = run_batch(shot_list, job_dir=job, workers=workers, scheduler=scheduler,
                       chunk_frames=chunk_frames, retries=retries, preset=preset,
                       progress=True)
    for shot in result.failed:
        click.echo(f"FAILED {shot.name} ({shot.location}): {shot.error}", err=True)
    click.echo(f"job {result.job_dir}: {len(result.shots) - len(result.failed)} of "
               f"{len(result.shots)} shots done, report {result.report}")
    if not result.ok:
        click.echo(f"vedit: error: {shot_list}: {len(result.failed)} shot(s) failed", err=True)
        sys.exit(1)


@batch.command("status")
@click.argument("job", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_reports_errors
def batch_status_cmd(job: Path, as_json: bool) -> None:
    """Summarise a job folder: shots and chunks done, failed, pending."""
    from vedit.batch import batch_status

    status = batch_status(job)
    click.echo(json.dumps(status.to_dict(), indent=2, default=str) if as_json
               else status.to_text())
    if not status.ok:
        sys.exit(1)


def _ranges(frames) -> str:
    """[3,4,5,9] -> '3-5, 9'."""
    out, start, prev = [], None, None
    for f in [*list(frames), None]:
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
