"""Shot lists: parse (vedit.batch.formats), then validate every row before any work starts.

A batch that fails on shot 37 after an hour because shot 37's driving was misspelt wastes the
night, so everything that can be known without rendering is checked up front -- files exist
and probe as media, timecodes read and fall inside the source, presets and option names are
known, options build a valid EditConfig, the codec fits the output's container, outputs are
unique and never overwrite another row's input -- and every problem is reported at once, each
with the line (or OTIO clip) and the file it is about.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from vedit.batch.formats import SHOT_FIELDS, OtioRange, RawList, RawShot, read_shot_list
from vedit.batch.timecode import TimecodeError, parse_frame
from vedit.errors import ConfigError, VeditError
from vedit.pipeline.config import EditConfig
from vedit.presets import build_edit_config, load_preset, normalise_options

# Keys a shot list may not set: the batch owns them (chunks, shared tracks).
_BATCH_OWNED = ("keep_timestamps", "tracks_file")
_DEFAULT_KEYS = ("preset", "output_dir")


class ShotListError(ConfigError):
    """Every problem of a shot list, found before any work starts.

    Attributes:
        problems: (location, message) pairs, e.g. ("shots.csv line 4", "/m/x.mp4: not found").
    """

    def __init__(self, path: str | os.PathLike[str], problems: list[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {where}: {message}" for where, message in problems)
        count = len(problems)
        super().__init__(path, f"{count} problem{'s' if count > 1 else ''} in the shot list "
                               f"(nothing was rendered):\n{lines}")


@dataclass(frozen=True)
class ShotSpec:
    """One validated shot.

    Attributes:
        index: position in the list (0-based).
        location: where it was written ("shots.yaml line 7", "cut.otio clip 2 'sc12'").
        name: a label for reports (the row's name, else the output's stem).
        config: what `vedit edit` would be given for this shot alone (frames = in/out or None).
        source_frames: frames in the source (None for a still image).
        fps: the source's exact rate (None for a still image).
        preset: the preset used, if any.
    """

    index: int
    location: str
    name: str
    config: EditConfig
    source_frames: int | None
    fps: Fraction | None
    preset: str | None = None


@dataclass(frozen=True)
class ShotList:
    """A validated shot list."""

    path: Path
    format: str
    shots: tuple[ShotSpec, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)


def load_shot_list(path: str | os.PathLike[str], *, preset: str | None = None,
                   options: Mapping[str, Any] | None = None) -> ShotList:
    """Read and validate a shot list (.yaml/.yml, .csv or .otio).

    Args:
        path: the shot list.
        preset: preset for shots that name none (the list's defaults can name one too; the
            row's own preset wins, then the list's, then this one).
        options: edit options applied to every shot under the list's and the row's own.

    Returns:
        The validated ShotList.

    Raises:
        ShotListError: (a ConfigError) listing every problem with its line or clip.
        ConfigError: the list itself is missing or cannot be parsed at all.
    """
    raw = read_shot_list(Path(path))
    checker = _Checker(raw, preset, dict(options or {}))
    shots = [spec for spec in (checker.check(i, row) for i, row in enumerate(raw.shots))
             if spec is not None]
    checker.check_outputs(shots)
    if checker.problems:
        raise ShotListError(raw.path, sorted(checker.problems, key=_by_line))
    if not shots:
        raise ShotListError(raw.path, [("list", "no shots")])
    return ShotList(raw.path, raw.format, tuple(shots), dict(raw.defaults))


class _Checker:
    """Validates rows one by one, collecting problems; caches probes and presets."""

    def __init__(self, raw: RawList, preset: str | None, options: dict[str, Any]) -> None:
        self.raw = raw
        self.prefix = raw.path.name
        self.problems: list[tuple[str, str]] = [(f"{self.prefix} {w}", m)
                                                for w, m in raw.problems]
        self._media: dict[Path, tuple[int | None, Fraction | None] | VeditError] = {}
        self._presets: dict[str, VeditError | None] = {}
        defaults = dict(raw.defaults)
        self.default_preset = defaults.pop("preset", None) or preset
        out_dir = defaults.pop("output_dir", None)
        self.output_dir = (_resolve(raw.path.parent, out_dir) if out_dir is not None
                           else None)
        self.default_options = {**options, **self._options(defaults, "defaults", None)}
        if self.default_preset is not None:
            self._check_preset(str(self.default_preset), f"{self.prefix} defaults")

    def problem(self, where: str, message: str) -> None:
        self.problems.append((f"{self.prefix} {where}", message))

    # -- one row ------------------------------------------------------------------------------
    def check(self, index: int, row: RawShot) -> ShotSpec | None:
        before = len(self.problems)
        fields = dict(row.fields)
        extra = fields.pop("options", None) or {}
        if not isinstance(extra, Mapping):
            self.problem(row.where("options"), "'options' must be a mapping")
            extra = {}
        overrides = self._options({k: v for k, v in fields.items() if k not in SHOT_FIELDS},
                                  row.where(), row)
        overrides.update(self._options(dict(extra), row.where("options"), row))
        if "face_drivings" in overrides:
            fields.setdefault("faces", overrides.pop("face_drivings"))

        source = self._input(row, "source", fields.get("source"), required=True)
        media = self._media.get(source) if source is not None else None
        count, fps = media if isinstance(media, tuple) else (None, None)
        driving = self._input(row, "driving", fields.get("driving"))
        faces = self._faces(row, fields.get("faces"))
        if fields.get("driving") is None and not fields.get("faces"):
            self.problem(row.where(), "no driving given (set 'driving' or 'faces')")
        preset = fields.get("preset") or self.default_preset
        if preset is not None:
            self._check_preset(str(preset), f"{self.prefix} {row.where('preset')}")
        frames = self._frames(row, fields, count, fps, isinstance(media, tuple))
        output = self._output(row, fields.get("output"))
        if len(self.problems) > before or source is None or output is None:
            return None
        options = {**self.default_options, **overrides}
        try:
            config = build_edit_config(preset=preset, source=source, output=output,
                                       driving=driving, face_drivings=faces, frames=frames,
                                       **options)
        except VeditError as exc:
            self.problem(row.where(), exc.problem)
            return None
        except (TypeError, ValueError) as exc:
            self.problem(row.where(), f"bad option value: {exc}")
            return None
        from vedit.io import codec_spec

        containers = codec_spec(config.codec).containers
        if config.output.suffix.lower() not in containers:
            kind = config.output.suffix or "suffix-less"
            self.problem(row.where("output"), f"{config.output}: codec {config.codec} cannot "
                                              f"be written to a {kind} file (use "
                                              f"{', '.join(containers)})")
            return None
        name = str(fields.get("name") or config.output.stem)
        return ShotSpec(index, f"{self.prefix} {row.where()}", name, config, count, fps,
                        None if preset is None else str(preset))

    def _options(self, options: dict[str, Any], where: str, row: RawShot | None
                 ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in options.items():
            place = row.where(key) if row is not None else where
            if where == "defaults" and key in _DEFAULT_KEYS:
                continue
            try:
                norm = normalise_options({key: value})
            except ConfigError as exc:
                self.problem(place, exc.problem)
                continue
            for k, v in norm.items():
                if k in _BATCH_OWNED:
                    self.problem(place, f"{k!r} is set by the batch itself")
                elif k in ("source", "output", "driving", "frames"):
                    self.problem(place, f"{k!r} must be a shot field, not an option")
                elif k == "driving_offset":
                    try:
                        out[k] = _fraction(v)
                    except (TypeError, ValueError, ZeroDivisionError):
                        self.problem(place, f"driving_offset {v!r} is not a number of seconds")
                else:
                    out[k] = v
        return out

    def _input(self, row: RawShot, key: str, value: Any, required: bool = False
               ) -> Path | None:
        if value is None or value == "":
            if required:
                self.problem(row.where(), f"no {key} given")
            return None
        path = _resolve(row.base, value)
        problem = self._probe(path)
        if problem is not None:
            self.problem(row.where(key), problem)
            return None
        return path

    def _probe(self, path: Path) -> str | None:
        """None when the file is usable media (cached), else the problem in words."""
        if path not in self._media:
            self._media[path] = _probe_media(path)
        found = self._media[path]
        if isinstance(found, VeditError):
            return str(found)
        return None

    def _faces(self, row: RawShot, value: Any) -> dict[int, Path]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(row.where("faces"), "'faces' must map face IDs to driving clips")
            return {}
        faces: dict[int, Path] = {}
        for ident, driving in value.items():
            try:
                tid = int(ident)
            except (TypeError, ValueError):
                self.problem(row.where("faces"), f"face ID {ident!r} is not a number")
                continue
            path = self._input(row, "faces", driving, required=True)
            if path is not None:
                faces[tid] = path
        return faces

    def _check_preset(self, name: str, where: str) -> None:
        if name not in self._presets:
            try:
                load_preset(name)
                self._presets[name] = None
            except VeditError as exc:
                self._presets[name] = exc
        failure = self._presets[name]
        if failure is not None:
            self.problems.append((where, failure.problem))

    def _frames(self, row: RawShot, fields: dict[str, Any], count: int | None,
                fps: Fraction | None, usable: bool) -> tuple[int, int] | None:
        start, stop = fields.get("in"), fields.get("out")
        if fields.get("frames") is not None:
            pair = fields["frames"]
            if isinstance(pair, str):
                pair = pair.split("-")
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                self.problem(row.where("frames"), "'frames' must be [in, out]")
                return None
            start, stop = pair
        if start is None and stop is None:
            return None
        if not usable:
            return None  # the source's own problem is already reported
        if count is None:
            if isinstance(start, OtioRange) or isinstance(stop, OtioRange):
                return None  # a timeline clip always has a length; a still's is the driving's
            self.problem(row.where("in"), "in/out points need a video source, not a still")
            return None
        try:
            a = 0 if start is None else _to_frame(start, fps)
        except TimecodeError as exc:
            self.problem(row.where("in"), f"bad in point: {exc}")
            return None
        try:
            b = count if stop is None else _to_frame(stop, fps)
        except TimecodeError as exc:
            self.problem(row.where("out"), f"bad out point: {exc}")
            return None
        if not 0 <= a < b:
            self.problem(row.where("in"), f"in point {a} is not before out point {b}")
            return None
        if b > count:
            self.problem(row.where("out"), f"out point {b} is past the source's end "
                                           f"({count} frames)")
            return None
        return (a, b)

    def _output(self, row: RawShot, value: Any) -> Path | None:
        if value is None or value == "":
            self.problem(row.where(), "no output given")
            return None
        path = _resolve(self.output_dir or row.base, value)
        folder = path.parent
        if not folder.is_dir():
            self.problem(row.where("output"), f"{path}: output folder {folder} does not exist")
            return None
        if not os.access(folder, os.W_OK):
            self.problem(row.where("output"), f"{path}: output folder is not writable")
            return None
        return path

    # -- across rows --------------------------------------------------------------------------
    def check_outputs(self, shots: list[ShotSpec]) -> None:
        """Two shots writing one file, or a shot overwriting another shot's input."""
        writers: dict[Path, ShotSpec] = {}
        inputs: dict[Path, ShotSpec] = {}
        for spec in shots:
            for p in (spec.config.source, *spec.config.all_drivings()):
                inputs.setdefault(p.resolve(), spec)
        for spec in shots:
            for written in (spec.config.output, spec.config.preview):
                if written is None:
                    continue
                p = Path(written)
                key = p.resolve()
                if key in writers:
                    self.problems.append((spec.location, f"{p}: output is also written by "
                                                         f"{writers[key].location}"))
                else:
                    writers[key] = spec
                if key in inputs:
                    self.problems.append((spec.location, f"{p}: output would overwrite an "
                                                         f"input of {inputs[key].location}"))


def _probe_media(path: Path) -> tuple[int | None, Fraction | None] | VeditError:
    """(frame count, fps) of a video, (None, None) of a still image; the error otherwise."""
    from vedit.errors import InputError
    from vedit.io import frame_pts, probe

    if not path.exists():
        return InputError(path, "file not found")
    if path.is_dir():
        return InputError(path, "is a folder, not a media file")
    try:
        info = probe(path)
        if info.video is None:
            return InputError(path, "has no video stream")
        if info.is_image:
            return (None, None)
        count = len(frame_pts(path))
    except VeditError as exc:
        return exc
    except Exception as exc:  # a corrupt file can trip the decoder in many ways
        return InputError(path, f"cannot be read as media ({exc})")
    if count == 0:
        return InputError(path, "has no video frames")
    return (count, info.video.fps)


def _to_frame(value: Any, fps: Fraction | None) -> int:
    if isinstance(value, OtioRange):
        if fps is None:
            raise TimecodeError("a still image has no frames to range over")
        return value.to_frame(fps)
    return parse_frame(value, fps)


def _fraction(value: Any) -> Fraction:
    """Exact seconds from YAML/CSV: 0.04 means 1/25 (decimal, not the float's binary value)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(str(value).strip())


def _by_line(problem: tuple[str, str]) -> tuple[int, str]:
    """Problems in list order: by the first number of their location (line or clip)."""
    digits = re.search(r"\d+", problem[0])
    return (int(digits.group()) if digits else -1, problem[0])


def _resolve(base: Path, value: Any) -> Path:
    path = Path(os.path.expanduser(str(value)))
    return (path if path.is_absolute() else base / path).resolve()
