"""vedit: re-animate faces in finished footage from a driving performance.

The library API mirrors the command line:

    vedit.probe(path)                       -> MediaInfo
    vedit.transcode(src, out, codec=...)    -> Path
    vedit.track(path)                       -> ShotTracks (every face, stable IDs)
    vedit.edit(vedit.EditConfig(...))       -> EditResult

Heavy parts (MediaPipe, torch) load on first use, so `vedit probe` starts fast.
"""
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vedit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

from vedit.errors import ConfigError, InputError, OutputError, VeditError

_LAZY = {
    "probe": ("vedit.io", "probe"),
    "transcode": ("vedit.pipeline.transcode", "transcode"),
    "track": ("vedit.faces", "track_shot"),
    "ShotTracks": ("vedit.faces", "ShotTracks"),
    "EditConfig": ("vedit.pipeline.config", "EditConfig"),
    "EditResult": ("vedit.pipeline.edit", "EditResult"),
    "edit": ("vedit.pipeline.edit", "edit"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'vedit' has no attribute {name!r}")


__all__ = [
    "ConfigError", "EditConfig", "EditResult", "InputError", "OutputError", "ShotTracks",
    "VeditError", "__version__", "edit", "probe", "track", "transcode",
]
