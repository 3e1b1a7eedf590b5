"""Read a shot list (YAML, CSV or OpenTimelineIO) into raw rows, each with where it came from.

The readers only parse: every row keeps its fields as written plus a location ("line 7",
"clip 3 'sc12_tk2'") so validation (vedit.batch.shotlist) can report all problems at once, each
pointing at the line or clip an editor has to fix. Nothing here opens media.

Formats (paths are relative to the list's folder unless absolute):

YAML::

    defaults:            # optional; any edit option, plus preset and output_dir
      preset: master
    shots:
      - source: s18.mp4
        output: out/s18_dub.mkv
        driving: d3.mp4            # the driving of every face without its own
        faces: {1: d11.mp4}        # per face ID
        in: 00:00:01:00            # frame number or HH:MM:SS:FF at the source's rate
        out: 90                    # exclusive
        preset: dub-lipsync
        region: lip                # any other key is an edit option override

CSV: a header row naming the same fields; ``faces`` cells read "0=a.mp4; 1=b.mp4"; option cells
are read as YAML scalars ("25" is a number, "{detect_every: 5}" a mapping, empty = not set).

OpenTimelineIO: every clip of the timeline's source video tracks is a shot; its media reference
is the source and its source range the in/out. The driving comes from the clip's metadata
(``metadata["vedit"] = {"driving": ..., "faces": {...}, "output": ..., "preset": ...,
"options": {...}}``) or from a parallel video track named "driving" (or with
``metadata["vedit"]["role"] == "driving"``, optionally ``"face": ID``): the driving clip that
overlaps the shot on the timeline drives it, aligned by timeline time (its own in-point and
position become the driving offset). ``timeline.metadata["vedit"]["defaults"]`` holds defaults.
"""
from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from vedit.errors import ConfigError

# Fields every format understands; any other key of a row is an edit option override.
SHOT_FIELDS = ("source", "output", "driving", "faces", "in", "out", "frames", "preset",
               "options", "name")
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".otio": "otio"}


@dataclass(frozen=True)
class OtioRange:
    """An OTIO in/out point: a time value at a rate, converted to source frames at validation.

    OTIO stores rates as floats (29.97002997...), so the conversion to the source's exact rate
    is done once, knowing that rate, and rounded to the nearest frame.
    """

    value: float
    rate: float

    def to_frame(self, fps: Fraction) -> int:
        if abs(self.rate - float(fps)) < 1e-3:
            return round(self.value)
        return round(Fraction(self.value) / Fraction(self.rate).limit_denominator(1001) * fps)


@dataclass(frozen=True)
class RawShot:
    """One row as written.

    Attributes:
        location: where it is, for messages ("line 7", "clip 2 'sc12'").
        fields: the row's keys and values (shot fields and option overrides).
        base: folder that relative paths are resolved against.
        lines: per key, a more precise location when the format knows one (YAML).
    """

    location: str
    fields: Mapping[str, Any]
    base: Path
    lines: Mapping[str, str] = field(default_factory=dict)

    def where(self, key: str | None = None) -> str:
        return self.lines.get(key, self.location) if key else self.location


@dataclass(frozen=True)
class RawList:
    """A parsed shot list: its rows, list-wide defaults, and problems found while parsing."""

    path: Path
    format: str
    shots: tuple[RawShot, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[tuple[str, str], ...] = ()


def read_shot_list(path: str | Path) -> RawList:
    """Parse a shot list by its suffix (.yaml/.yml, .csv, .otio).

    Raises:
        ConfigError: the file is missing, of an unknown kind, or not parseable at all.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(path, f"unknown shot list type {path.suffix or '(no suffix)'!r} "
                                f"(use {', '.join(sorted(FORMATS))})")
    if not path.is_file():
        raise ConfigError(path, "shot list not found")
    reader = {"yaml": _read_yaml, "csv": _read_csv, "otio": _read_otio}[kind]
    return reader(path)


# -- YAML -------------------------------------------------------------------------------------
def _read_yaml(path: Path) -> RawList:
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    try:
        root = loader.get_single_node()
        if root is None:
            raise ConfigError(path, "the shot list is empty")
        shots_node: Any
        defaults: Any = {}
        if isinstance(root, yaml.SequenceNode):
            shots_node = root
        elif isinstance(root, yaml.MappingNode):
            doc_nodes = {k.value: v for k, v in root.value}
            shots_node = doc_nodes.get("shots")
            defaults = (loader.construct_object(doc_nodes["defaults"], deep=True)
                        if "defaults" in doc_nodes else {})
            unknown = sorted(set(doc_nodes) - {"shots", "defaults"})
            if unknown:
                raise ConfigError(path, f"unknown top-level key(s) {', '.join(unknown)} "
                                        "(expected 'shots' and optionally 'defaults')")
            if not isinstance(shots_node, yaml.SequenceNode):
                raise ConfigError(path, "'shots' must be a list of shots")
        else:
            raise ConfigError(path, "a shot list must be a list of shots or a mapping with "
                                    "'shots'")
        rows, problems = [], []
        for item in shots_node.value:
            where = f"line {item.start_mark.line + 1}"
            if not isinstance(item, yaml.MappingNode):
                problems.append((where, "a shot must be a mapping of field: value"))
                continue
            lines = {k.value: f"line {k.start_mark.line + 1}" for k, _ in item.value}
            row = loader.construct_object(item, deep=True)
            rows.append(RawShot(where, {str(k): v for k, v in row.items()}, path.parent,
                                lines))
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(defaults, dict):
        raise ConfigError(path, "'defaults' must be a mapping of option: value")
    return RawList(path, "yaml", tuple(rows), defaults, tuple(problems))


# -- CSV --------------------------------------------------------------------------------------
def _read_csv(path: Path) -> RawList:
    rows, problems = [], []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header: list[str] | None = None
        for cells in reader:
            where = f"line {reader.line_num}"
            if not cells or all(not c.strip() for c in cells) or cells[0].startswith("#"):
                continue
            if header is None:
                header = [c.strip().lower().replace(" ", "_") for c in cells]
                continue
            if len(cells) > len(header):
                problems.append((where, f"{len(cells)} cells but the header names "
                                        f"{len(header)} columns"))
                continue
            row: dict[str, Any] = {}
            for key, cell in zip(header, cells, strict=False):
                cell = cell.strip()
                if not cell:
                    continue
                try:
                    row[key] = _csv_value(key, cell)
                except ValueError as exc:
                    problems.append((where, f"column {key!r}: {exc}"))
            rows.append(RawShot(where, row, path.parent))
    if header is None:
        raise ConfigError(path, "the shot list is empty (no header row)")
    return RawList(path, "csv", tuple(rows), {}, tuple(problems))


def _csv_value(key: str, cell: str) -> Any:
    if key in ("source", "output", "driving", "preset", "name", "in", "out"):
        return cell
    if key == "faces":
        faces = {}
        for part in cell.replace(",", ";").split(";"):
            if not part.strip():
                continue
            ident, sep, driving = part.partition("=")
            if not sep:
                raise ValueError(f"{part.strip()!r} is not ID=DRIVING")
            faces[ident.strip()] = driving.strip()
        return faces
    try:
        return yaml.safe_load(cell)
    except yaml.YAMLError:
        raise ValueError(f"cannot read {cell!r}") from None


# -- OpenTimelineIO ---------------------------------------------------------------------------
def _read_otio(path: Path) -> RawList:
    import opentimelineio as otio

    try:
        timeline = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # OTIO raises many kinds; any of them means "cannot parse"
        raise ConfigError(path, f"cannot read the timeline: {exc}") from None
    meta = _plain(timeline.metadata.get("vedit", {})) if hasattr(timeline, "metadata") else {}
    defaults = dict(meta.get("defaults", {})) if isinstance(meta, dict) else {}
    rows, problems = [], []
    tracks = list(timeline.video_tracks())
    drivers = [t for t in tracks if _is_driving_track(t)]
    number = 0
    for t_index, track in enumerate(tracks):
        if track in drivers:
            continue
        for clip in track.find_clips():
            number += 1
            where = f"clip {number} {clip.name!r} (track {t_index + 1} {track.name!r})"
            fields = dict(_plain(clip.metadata.get("vedit", {})) or {})
            if not isinstance(fields, dict):
                problems.append((where, "metadata['vedit'] must be a mapping"))
                continue
            source = _media_path(clip)
            if source is None:
                problems.append((where, "the clip names no media file (external reference)"))
                continue
            fields["source"] = source
            fields.setdefault("name", clip.name)
            if clip.source_range is not None:
                start = clip.source_range.start_time
                avail = _available_start(clip)
                value = start.value - (avail.rescaled_to(start.rate).value if avail else 0)
                fields["in"] = OtioRange(value, start.rate)
                fields["out"] = OtioRange(value + clip.source_range.duration.value,
                                          clip.source_range.duration.rate)
            _drivings_from_tracks(clip, drivers, fields)
            rows.append(RawShot(where, fields, path.parent))
    return RawList(path, "otio", tuple(rows), defaults, tuple(problems))


def _is_driving_track(track) -> bool:
    meta = _plain(track.metadata.get("vedit", {})) or {}
    role = meta.get("role") if isinstance(meta, dict) else None
    return role == "driving" or (role is None and track.name.lower().startswith("driving"))


def _drivings_from_tracks(clip, drivers, fields: dict[str, Any]) -> None:
    """Fill driving / faces from parallel driving tracks (metadata given on the clip wins)."""
    if not drivers:
        return
    shot_range = clip.range_in_parent()
    shot_start = shot_range.start_time
    for track in drivers:
        meta = _plain(track.metadata.get("vedit", {})) or {}
        face = meta.get("face") if isinstance(meta, dict) else None
        for dclip in track.find_clips():
            dr = dclip.range_in_parent()
            overlap = (dr.start_time < shot_range.end_time_exclusive()
                       and shot_start < dr.end_time_exclusive())
            if not overlap:
                continue
            media = _media_path(dclip)
            if media is None:
                break
            if face is None:
                fields.setdefault("driving", media)
                # Driving time at the shot's first frame: its in-point plus how far the shot
                # starts after the driving clip does on the timeline.
                d_in = dclip.source_range.start_time if dclip.source_range else None
                lead = (shot_start - dr.start_time).rescaled_to(dr.start_time.rate)
                skip = Fraction(lead.value) / Fraction(lead.rate).limit_denominator(1001)
                if d_in is not None:
                    avail = _available_start(dclip)
                    d_value = d_in.value - (avail.rescaled_to(d_in.rate).value if avail else 0)
                    skip += Fraction(d_value) / Fraction(d_in.rate).limit_denominator(1001)
                if skip and "driving_offset" not in fields:
                    fields["driving_offset"] = -skip
            else:
                faces = fields.setdefault("faces", {})
                faces.setdefault(str(face), media)
            break


def _media_path(clip) -> str | None:
    import opentimelineio as otio

    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    if not url:
        return None
    return otio.url_utils.filepath_from_url(url) if "://" in url else url


def _available_start(clip):
    ref = clip.media_reference
    rng = getattr(ref, "available_range", None)
    return None if rng is None else rng.start_time


def _plain(value: Any) -> Any:
    """OTIO's AnyDictionary / AnyVector as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [_plain(v) for v in value]
    return value
