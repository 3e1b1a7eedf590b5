"""The embedded engine: MediaPipe landmarks as explicit keypoints, rendered by a dense warp.

Importing this package registers `EmbeddedEngine` under the name "embedded".
"""
from .engine import EmbeddedEngine, EmbeddedOptions
from .eyes import EyeOptions
from .mouth import MouthOptions
from .warp import WarpOptions

__all__ = ["EmbeddedEngine", "EmbeddedOptions", "EyeOptions", "MouthOptions", "WarpOptions"]
