"""Face layer: find, identify and follow every face of a shot; LivePortrait crop windows.

The only package that imports MediaPipe (in ``_mediapipe``); everything it hands out is plain
numpy in frame pixels of the upright picture.
"""
from vedit.faces.api import track_frames, track_shot, track_video
from vedit.faces.config import CropConfig, TrackerConfig
from vedit.faces.crop import CropWindow, crop_window
from vedit.faces.preview import render_preview
from vedit.faces.shot import FaceTrack, ShotTracks, main_face
from vedit.faces.tracker import TRACKERS, FaceTracker, create_tracker
from vedit.faces.types import CropTransform, FaceObservation

__all__ = [
    "TRACKERS", "CropConfig", "CropTransform", "CropWindow", "FaceObservation", "FaceTrack",
    "FaceTracker", "ShotTracks", "TrackerConfig", "create_tracker", "crop_window", "main_face",
    "render_preview", "track_frames", "track_shot", "track_video",
]
