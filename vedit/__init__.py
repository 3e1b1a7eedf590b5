"""vedit: re-animate faces in finished footage from a driving performance.

The library API mirrors the command line: `probe`, `transcode`, and (as they land) `track`,
`edit` and `batch`.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vedit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

from vedit.errors import ConfigError, InputError, OutputError, VeditError
from vedit.io import probe
from vedit.pipeline.transcode import transcode

__all__ = [
    "ConfigError", "InputError", "OutputError", "VeditError", "__version__", "probe", "transcode",
]
