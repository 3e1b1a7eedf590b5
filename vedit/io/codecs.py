"""The output codecs vedit writes, as data: encoder, pixel formats, options, containers."""
from __future__ import annotations

from dataclasses import dataclass, field

from vedit.errors import ConfigError


@dataclass(frozen=True)
class CodecSpec:
    """How to encode one user-facing codec name.

    Attributes:
        name: what the user types (`--codec`).
        encoder: FFmpeg encoder name.
        pix_fmts: formats the encoder takes, preferred first; the source's format is kept
            when it is in this list, so untouched pixels can go out bit-exact.
        options: encoder options (strings, as FFmpeg wants them).
        containers: file suffixes that can hold this codec; the first is the default.
        lossless: True when decoded output equals what was encoded.
    """

    name: str
    encoder: str
    pix_fmts: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)
    containers: tuple[str, ...] = (".mp4", ".mov", ".mkv")
    lossless: bool = False
    profile: str | None = None
    ten_bit: str | None = None  # pix_fmt used for > 8-bit sources, when different

    def choose_pix_fmt(self, source_pix_fmt: str | None, bit_depth: int = 8) -> str:
        if source_pix_fmt in self.pix_fmts:
            return source_pix_fmt
        if source_pix_fmt and source_pix_fmt.startswith("yuvj"):
            plain = "yuv" + source_pix_fmt[4:]  # same planes; full range is signalled instead
            if plain in self.pix_fmts:
                return plain
        if bit_depth > 8 and self.ten_bit:
            return self.ten_bit
        return self.pix_fmts[0]


CODECS: dict[str, CodecSpec] = {
    "h264": CodecSpec(
        "h264", "libx264",
        ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le"),
        {"crf": "8", "preset": "medium"}, (".mp4", ".mov", ".mkv"),
    ),
    "h265": CodecSpec(
        "h265", "libx265",
        ("yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le"),
        {"crf": "6", "preset": "fast", "x265-params": "log-level=error"},
        (".mp4", ".mov", ".mkv"), ten_bit="yuv420p10le",
    ),
    "prores": CodecSpec(
        "prores", "prores_ks", ("yuv422p10le",), {"profile": "3", "vendor": "apl0"},
        (".mov", ".mkv"),
    ),
    "prores4444": CodecSpec(
        "prores4444", "prores_ks", ("yuv444p10le",), {"profile": "4", "vendor": "apl0"},
        (".mov", ".mkv"),
    ),
    "dnxhr": CodecSpec(
        "dnxhr", "dnxhd", ("yuv422p", "yuv422p10le"), {"profile": "dnxhr_hq"},
        (".mov", ".mxf", ".mkv"), ten_bit="yuv422p10le",
    ),
    "ffv1": CodecSpec(
        "ffv1", "ffv1",
        ("yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le",
         "yuv444p10le", "yuv420p12le", "yuv422p12le", "gray"),
        {"level": "3", "slicecrc": "1", "g": "1"}, (".mp4", ".mkv", ".nut"), lossless=True,
    ),
}


def codec_spec(name: str) -> CodecSpec:
    """Look up a codec by its user-facing name.

    Raises:
        ConfigError: unknown name, listing the known ones.
    """
    try:
        return CODECS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(CODECS))
        raise ConfigError(None, f"unknown codec {name!r} (choose one of: {known})") from None
