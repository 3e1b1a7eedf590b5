"""`vedit transcode`: the pipeline with no edit — decode, pass every frame through, encode.

It is the baseline every edit is measured against, and a quick proof that I/O is exact.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vedit.errors import InputError
from vedit.io import VideoWriter, open_video


def transcode(source: str | os.PathLike, output: str | os.PathLike, *, codec: str = "h264",
              crf: int | None = None, audio: bool = True,
              progress: Callable[[int], None] | None = None) -> Path:
    """Re-encode `source` into `output`, keeping frames, timing, colour and audio.

    Args:
        source: input video.
        output: output path; its suffix picks the container.
        codec: one of vedit.io.CODECS.
        crf: quality override for h264/h265.
        audio: copy the source's audio streams.
        progress: called with the number of frames written so far.

    Returns:
        The output path (only created when the whole shot was written).
    """
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise InputError(output, "output would overwrite the source")
    with open_video(source) as reader, VideoWriter(
        output, template=reader.info, codec=codec, crf=crf,
        audio_from=source if audio else None,
    ) as writer:
        for frame in reader:
            writer.write(frame)
            if progress is not None:
                progress(writer.frames_written)
    return output
