"""Video and image I/O: the only package that imports PyAV.

Decode streams one frame at a time with each frame's own timestamp; encode with the source's
timing, colour tags and audio, passing untouched pixels through.
"""
from vedit.io.codecs import CODECS, codec_spec
from vedit.io.concat import concat_pieces, frame_pts
from vedit.io.info import AudioInfo, ColourTags, MediaInfo, VideoInfo
from vedit.io.probe import probe
from vedit.io.reader import DecodedFrame, VideoReader, is_image, open_video, read_image
from vedit.io.writer import VideoWriter, partial_path

__all__ = [
    "CODECS", "AudioInfo", "ColourTags", "DecodedFrame", "MediaInfo", "VideoInfo", "VideoReader",
    "VideoWriter", "codec_spec", "concat_pieces", "frame_pts", "is_image", "open_video",
    "partial_path", "probe", "read_image",
]
