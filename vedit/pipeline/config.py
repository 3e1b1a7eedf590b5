"""EditConfig: every option of one `vedit edit` run, validated before any work starts."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from vedit.engines.base import REGIONS
from vedit.errors import ConfigError
from vedit.io import codec_spec
from vedit.motion import CUT_MODES, FIT_MODES, SMOOTHING_METHODS


@dataclass(frozen=True)
class EditConfig:
    """One shot to re-animate.

    Attributes:
        source: source video, or a still image (then the output takes the driving's length
            and rate, and the driving's audio).
        output: output path; its suffix picks the container.
        driving: the driving performance for every face without its own.
        face_drivings: per source track id, its own driving performance.
        engine: "embedded" (no downloads, CPU) or "liveportrait" (official weights).
        region: which motion to transfer: all, exp, pose, lip (dubbing) or eyes.
        codec, crf: output encoding (see vedit.io.CODECS).
        driving_fit: hold, loop, pingpong or trim, when driving and source lengths differ.
        driving_offset: seconds (exact) from the shot's start to the driving's start.
        driving_cuts: "join" finds cuts between takes spliced into a driving and continues the
            head motion across them (no jump, no smoothing across a cut); "off" treats every
            driving as one take (Eq. 8 as is).
        reference: driving reference frame: "first", "neutral" or a frame index.
        smoothing: driving smoothing: paper (Eq. 8's look-ahead), one_euro, kalman or none.
        scale_damping: 0 keeps the source head size, 1 transfers the driving's full ratio.
        rotation_limit_deg: bound on the transferred head rotation (None: unbounded).
        expression_gain: multiplier on the driving's expression change.
        frames: optional half-open [start, stop) source frame range to render (in/out points).
        preview: optional side-by-side review video (source | driving | result).
        audio: carry the source's audio.
        engine_options: engine-specific settings (weights, device, dtype, batch_size, ...).
        tracker_options: vedit.faces.TrackerConfig fields.
        tracks_file: the shot's tracks saved by an earlier pass (`vedit track -o`, or a batch
            job); skips pass 1. Chunks of one shot share it, so they render identically.
        keep_timestamps: with `frames`, keep the shot's own timestamps and write no audio: the
            output is a piece to be joined (vedit.io.concat_pieces), not a clip of its own.
        driving_cache: folder where analysed drivings are kept and looked up
            (vedit.pipeline.driving): renders that share a driving (chunks and shots of a
            batch) analyse it once. It changes nothing in the output.
    """

    source: Path
    output: Path
    driving: Path | None = None
    face_drivings: Mapping[int, Path] = field(default_factory=dict)
    engine: str = "embedded"
    region: str = "all"
    codec: str = "h264"
    crf: int | None = None
    driving_fit: str = "hold"
    driving_offset: Fraction = Fraction(0)
    driving_cuts: str = "join"
    reference: str | int = "first"
    smoothing: str = "paper"
    scale_damping: float = 1.0
    rotation_limit_deg: float | None = 25.0
    expression_gain: float = 1.0
    frames: tuple[int, int] | None = None
    preview: Path | None = None
    audio: bool = True
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    tracker_options: Mapping[str, Any] = field(default_factory=dict)
    tracks_file: Path | None = None
    keep_timestamps: bool = False
    driving_cache: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))
        object.__setattr__(self, "output", Path(self.output))
        if self.driving is not None:
            object.__setattr__(self, "driving", Path(self.driving))
        object.__setattr__(self, "face_drivings",
                           {int(k): Path(v) for k, v in dict(self.face_drivings).items()})
        object.__setattr__(self, "driving_offset", Fraction(self.driving_offset))
        if self.driving_cache is not None:
            object.__setattr__(self, "driving_cache", Path(self.driving_cache))
        if self.driving is None and not self.face_drivings:
            raise ConfigError(None, "no driving performance given (use -d DRIVING or "
                                    "--face ID=DRIVING)")
        checks = [
            (self.region in REGIONS,
             f"region must be one of {', '.join(REGIONS)}, got {self.region!r}"),
            (self.driving_fit in FIT_MODES,
             f"driving fit must be one of {', '.join(FIT_MODES)}, got {self.driving_fit!r}"),
            (self.driving_cuts in CUT_MODES,
             f"driving cuts must be one of {', '.join(CUT_MODES)}, got {self.driving_cuts!r}"),
            (self.smoothing in SMOOTHING_METHODS,
             f"smoothing must be one of {', '.join(SMOOTHING_METHODS)}, "
             f"got {self.smoothing!r}"),
            (0.0 <= self.scale_damping <= 1.0,
             f"scale damping must be within [0, 1], got {self.scale_damping}"),
            (self.expression_gain >= 0.0,
             f"expression gain must be >= 0, got {self.expression_gain}"),
        ]
        for ok, problem in checks:
            if not ok:
                raise ConfigError(None, problem)
        if isinstance(self.reference, str) and self.reference not in ("first", "neutral"):
            try:
                object.__setattr__(self, "reference", int(self.reference))
            except ValueError:
                raise ConfigError(None, "reference must be 'first', 'neutral' or a frame "
                                        "index") from None
        if self.frames is not None:
            start, stop = self.frames
            if start < 0 or stop <= start:
                raise ConfigError(self.source, f"bad frame range [{start}, {stop})")
        codec_spec(self.codec)
        if self.output.resolve() == self.source.resolve():
            raise ConfigError(self.output, "output would overwrite the source")

    def driving_for(self, track_id: int) -> Path | None:
        """The driving clip of a source face (its own, else the default)."""
        return self.face_drivings.get(track_id, self.driving)

    def all_drivings(self) -> list[Path]:
        """Every distinct driving clip, in a stable order."""
        seen: dict[Path, None] = {}
        if self.driving is not None:
            seen[self.driving] = None
        for _, path in sorted(self.face_drivings.items()):
            seen[path] = None
        return list(seen)
