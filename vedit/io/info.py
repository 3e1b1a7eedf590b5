"""What a media file holds: plain dataclasses, exact rational times, no av types."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class ColourTags:
    """Colour metadata of a video stream, as FFmpeg's enum values and names."""

    primaries: int = 2  # 2 = unspecified
    transfer: int = 2
    matrix: int = 2
    range: int = 0  # 0 = unspecified, 1 = limited (MPEG), 2 = full (JPEG)

    def names(self) -> dict[str, str]:
        return {
            "primaries": _PRIMARIES.get(self.primaries, str(self.primaries)),
            "transfer": _TRANSFER.get(self.transfer, str(self.transfer)),
            "matrix": _MATRIX.get(self.matrix, str(self.matrix)),
            "range": _RANGE.get(self.range, str(self.range)),
        }


_PRIMARIES = {1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020"}
_TRANSFER = {1: "bt709", 2: "unspecified", 6: "smpte170m", 13: "iec61966-2-1", 16: "smpte2084",
             18: "arib-std-b67", 14: "bt2020-10"}
_MATRIX = {0: "rgb", 1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}
_RANGE = {0: "unspecified", 1: "tv", 2: "pc"}


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream of a file.

    Attributes:
        width, height: upright picture size (rotation metadata applied).
        coded_width, coded_height: size as stored.
        fps: nominal frame rate (average rate, exact).
        time_base: stream time base; every frame's pts counts in it.
        frame_count: frames in the stream (from the container; None when unknown).
        rotation: clockwise degrees a player turns the stored picture (0, 90, 180, 270).
        variable_rate: True when frame durations differ (known only after a scan).
    """

    codec: str
    pix_fmt: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int | None
    duration: Fraction | None
    start_pts: int
    colour: ColourTags
    rotation: int = 0
    bit_depth: int = 8
    profile: str | None = None


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    time_base: Fraction
    duration: Fraction | None


@dataclass(frozen=True)
class MediaInfo:
    """Everything `vedit probe` reports about a file."""

    path: str
    container: str
    size_bytes: int
    duration: Fraction | None
    video: VideoInfo | None
    audio: tuple[AudioInfo, ...] = field(default_factory=tuple)
    is_image: bool = False

    def to_dict(self) -> dict:
        """JSON-friendly: Fractions become "num/den" strings, seconds added beside them."""

        def conv(value):
            if isinstance(value, Fraction):
                return f"{value.numerator}/{value.denominator}"
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [conv(v) for v in value]
            return value

        out = conv(asdict(self))
        if self.duration is not None:
            out["duration_seconds"] = float(self.duration)
        if self.video is not None:
            out["video"]["fps_float"] = float(self.video.fps)
            out["video"]["colour_names"] = self.video.colour.names()
        return out
