"""Video writer that keeps a shot's timing, colour and audio, and passes untouched pixels through.

Two promises post-production relies on:
* Timing: every frame goes out with the pts it came in with, in the source's time base, so
  frame count, rate, VFR cadence and audio sync are the source's.
* Passthrough: `write(frame)` sends the decoded planes as they came (no RGB round trip), and
  `write(frame, rgb, changed)` replaces only the pixels marked changed (rounded out to whole
  chroma samples). With a lossless codec an untouched pixel decodes bit-identical.

The file is written under a hidden temporary name in the destination folder and renamed to the
final name only when complete; on any error the temporary file is removed.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vedit.errors import OutputError
from vedit.io.audio import AudioCopier
from vedit.io.codecs import CodecSpec, codec_spec
from vedit.io.info import ColourTags, VideoInfo
from vedit.io.reader import DecodedFrame
from vedit.io.yuv import rgb_to_yuv_planes

log = logging.getLogger("vedit.io")

_SWS_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020",
               10: "BT2020"}


def partial_path(path: Path) -> Path:
    """Where `path` is written until complete: hidden, same folder, same suffix."""
    return path.with_name(f".{path.stem}.vedit-partial-{os.getpid()}{path.suffix}")


@dataclass(frozen=True)
class StagedFrame:
    """A frame ready to encode (`VideoWriter.stage`): its picture and its source timing."""

    av_frame: av.VideoFrame
    pts: int
    time_base: Fraction


class VideoWriter:
    """Encode frames to a file. Use as a context manager; the file appears only on success.

    Args:
        path: final output path; its suffix picks the container.
        template: the source's VideoInfo (size, time base, rate, colour, rotation are kept).
            Without one, give width, height and fps (frames then get pts = index in 1/fps).
        codec: user-facing codec name (see vedit.io.codecs.CODECS).
        audio_from: a file whose audio streams are copied in.
        audio_window: (start, stop) seconds of that audio to keep, for trimmed outputs.
        crf: quality override for h264/h265.
        rebase: seconds subtracted from every timestamp (an in/out range starting at 0).
        threads: encoder threads; None lets the codec use every core (1 for a render-farm
            worker that owns one core).

    Raises:
        OutputError: unwritable folder or a codec the container cannot hold.
        ConfigError: unknown codec name.
    """

    def __init__(self, path: str | os.PathLike, *, template: VideoInfo | None = None,
                 width: int | None = None, height: int | None = None,
                 fps: Fraction | None = None, codec: str = "h264",
                 audio_from: str | os.PathLike | None = None,
                 audio_window: tuple[Fraction, Fraction] | None = None,
                 crf: int | None = None, rebase: Fraction | None = None,
                 threads: int | None = None) -> None:
        self.path = Path(path)
        self.spec: CodecSpec = codec_spec(codec)
        suffix = self.path.suffix.lower()
        if suffix not in self.spec.containers:
            raise OutputError(self.path, f"codec {self.spec.name} cannot be written to a "
                                         f"{suffix or 'suffix-less'} file (use one of "
                                         f"{', '.join(self.spec.containers)})")
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(self.path, f"output folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise OutputError(self.path, f"output folder {folder} is not writable")
        if template is None:
            if not (width and height and fps):
                raise ValueError("VideoWriter needs a template or width, height and fps")
            template = VideoInfo(
                codec="", pix_fmt="yuv420p", width=width, height=height, coded_width=width,
                coded_height=height, fps=Fraction(fps), time_base=1 / Fraction(fps),
                frame_count=None, duration=None, start_pts=0, colour=ColourTags(1, 1, 1, 1))
        self.info = template
        self._pts_offset = round(Fraction(rebase) / template.time_base) if rebase else 0
        self._tmp = partial_path(self.path)
        self._index = 0
        self._closed = False
        try:
            self._tmp.touch()  # proves the folder takes files before any work is done
            options = {"movflags": "+write_colr"} if suffix in (".mp4", ".mov", ".m4v") else {}
            self._out = av.open(str(self._tmp), mode="w", options=options)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(self.path, f"cannot create output: {exc}") from None
        try:
            self._stream = self._add_video_stream(crf, threads)
            self._audio = None
            if audio_from is not None:
                start, stop = audio_window or (None, None)
                self._audio = AudioCopier(audio_from, self._out, suffix, start, stop)
        except BaseException:
            self.abort()
            raise

    # -- setup ---------------------------------------------------------------------------
    def _add_video_stream(self, crf: int | None, threads: int | None):
        info, spec = self.info, self.spec
        self.pix_fmt = spec.choose_pix_fmt(info.pix_fmt, info.bit_depth)
        odd = info.coded_width % 2 or info.coded_height % 2
        if odd and spec.encoder != "ffv1" and "444" not in self.pix_fmt:
            # 4:2:0 / 4:2:2 encoders refuse odd sizes; 4:4:4 keeps the exact picture size.
            full = [f for f in spec.pix_fmts if "444" in f]
            if not full:
                raise OutputError(self.path, f"{spec.name} cannot encode the odd size "
                                             f"{info.coded_width}x{info.coded_height}; "
                                             "use h264, h265, prores4444 or ffv1")
            log.info("%s: odd size %dx%d, encoding %s as %s", self.path, info.coded_width,
                     info.coded_height, spec.name, full[0])
            self.pix_fmt = full[0]
        # DNxHR's decoder always reads its pictures as BT.709: other matrices are converted,
        # in 10 bits so the conversion costs no visible precision.
        self._to_709 = spec.encoder == "dnxhd" and info.colour.matrix != 1
        if self._to_709:
            self.pix_fmt = "yuv422p10le"
        options = dict(spec.options)
        if crf is not None and "crf" in options:
            options["crf"] = str(crf)
        if spec.name == "dnxhr" and self.pix_fmt.endswith("10le"):
            options["profile"] = "dnxhr_hqx"
        stream = self._out.add_stream(spec.encoder, rate=info.fps, options=options)
        stream.width, stream.height = info.coded_width, info.coded_height
        stream.pix_fmt = self.pix_fmt
        stream.time_base = info.time_base
        cc = stream.codec_context
        cc.time_base = info.time_base
        cc.framerate = info.fps
        c = info.colour
        cc.color_primaries, cc.color_trc, cc.colorspace = c.primaries, c.transfer, c.matrix
        if self._to_709:
            cc.colorspace = 1
        if c.range:
            cc.color_range = c.range
        elif self.pix_fmt.startswith("yuvj"):
            cc.color_range = 2
        if threads is not None:
            cc.thread_count = threads
        elif spec.encoder in ("libx264", "libx265"):
            cc.thread_count = 0
        if info.rotation:
            ccw = (-info.rotation + 180) % 360 - 180
            stream.set_display_rotation(ccw)
        return stream

    # -- writing -------------------------------------------------------------------------
    def write(self, frame: DecodedFrame, rgb: np.ndarray | None = None,
              changed: np.ndarray | None = None) -> None:
        """Write one source frame, unchanged or with some pixels replaced.

        Args:
            frame: the decoded source frame (its pts is kept).
            rgb: (H, W, 3) uint8 RGB upright picture holding the new pixels, or None.
            changed: (H, W) bool upright mask of pixels taken from `rgb`; None with rgb
                means the whole picture changed.
        """
        self.write_staged(self.stage(frame, rgb, changed))

    def stage(self, frame: DecodedFrame, rgb: np.ndarray | None = None,
              changed: np.ndarray | None = None) -> StagedFrame:
        """The first half of `write` (the pixel replacement), for another thread to do."""
        src = frame.av_frame
        if rgb is not None:
            src = self._replace_pixels(src, self._to_stored(rgb), self._to_stored(changed))
        return StagedFrame(src, frame.pts, frame.time_base)

    def write_staged(self, staged: StagedFrame) -> None:
        """The second half of `write`: encode a staged frame."""
        pts = staged.pts - self._pts_offset
        self._encode(staged.av_frame, pts, pts * staged.time_base)

    def write_rgb(self, rgb: np.ndarray, pts: int | None = None) -> None:
        """Write a whole new picture ((H, W, 3) uint8 RGB, upright); pts defaults to index."""
        if pts is None:
            pts = round(self._index / self.info.fps / self.info.time_base)
        vf = self._rgb_to_yuv(self._to_stored(rgb), self.pix_fmt)
        self._encode(vf, pts, pts * self.info.time_base)

    def _encode(self, vf: av.VideoFrame, pts: int, when: Fraction) -> None:
        if self._closed:
            raise RuntimeError("writer is closed")
        if vf.format.name != self.pix_fmt:
            if vf.format.name == "yuvj" + self.pix_fmt[3:]:
                vf = _relabel(vf, self.pix_fmt)  # identical planes, range tagged full
            elif self._to_709:  # swscale converts matrices only through RGB
                rgb = vf.reformat(format="gbrp16le", src_colorspace=self._sws_matrix(),
                                  src_color_range=self._range())
                vf = rgb.reformat(format=self.pix_fmt, dst_colorspace="ITU709",
                                  dst_color_range=self._range())
            else:
                vf = vf.reformat(format=self.pix_fmt)
        vf.pts = pts
        vf.time_base = self.info.time_base
        vf.pict_type = av.video.frame.PictureType.NONE  # never copy the source's frame types
        try:
            if self._audio is not None:
                self._audio.advance_to(when, self._out)
            for packet in self._stream.encode(vf):
                self._out.mux(packet)
        except av.error.FFmpegError as exc:
            self.abort()
            raise OutputError(self.path, f"encoding failed at frame {self._index}: {exc}") from None
        self._index += 1

    # -- pixel surgery -------------------------------------------------------------------
    def _to_stored(self, img: np.ndarray | None) -> np.ndarray | None:
        """Upright picture back to the stored orientation."""
        rot = self.info.rotation
        if img is None or not rot:
            return img
        return np.ascontiguousarray(np.rot90(img, rot // 90))

    def _sws_matrix(self) -> str:
        return _SWS_MATRIX.get(self.info.colour.matrix, "ITU601")

    def _range(self) -> str:
        full = self.info.colour.range == 2 or self.pix_fmt.startswith("yuvj")
        return "JPEG" if full else "MPEG"

    def _replace_pixels(self, src: av.VideoFrame, rgb: np.ndarray,
                        changed: np.ndarray | None) -> av.VideoFrame:
        fmt = src.format.name
        if changed is None:
            out = self._rgb_to_yuv(rgb, fmt)
        else:
            box = _changed_box(changed)
            if box is None:
                return src
            y0, y1, x0, x1 = box
            # Only the box around the changed pixels goes through RGB -> YUV: a face is a
            # small part of the picture, and the conversion is the writer's main cost.
            patch = self._rgb_to_yuv(rgb[y0:y1, x0:x1], fmt)
            out = av.VideoFrame(src.width, src.height, fmt)
            deep = max(c.bits for c in src.format.components) > 8
            masks: dict[tuple[int, int], np.ndarray] = {}
            for p_src, p_patch, p_out in zip(src.planes, patch.planes, out.planes, strict=True):
                dst = _plane_view(p_out, deep)
                dst[...] = _plane_view(p_src, deep)
                new = _plane_view(p_patch, deep)
                if new.shape not in masks:
                    masks[new.shape] = _plane_mask(changed[y0:y1, x0:x1], new.shape)
                fy, fx = -(-src.height // p_src.height), -(-src.width // p_src.width)
                region = dst[y0 // fy: y0 // fy + new.shape[0], x0 // fx: x0 // fx + new.shape[1]]
                np.copyto(region, new, where=masks[new.shape])
        out.colorspace = src.colorspace
        out.color_range = src.color_range
        return out

    def _rgb_to_yuv(self, rgb: np.ndarray, fmt: str) -> av.VideoFrame:
        """An RGB picture in format `fmt` with the stream's matrix and range."""
        out = av.VideoFrame(rgb.shape[1], rgb.shape[0], fmt)
        bits = out.format.components[0].bits
        if fmt.startswith("yuv") and len(out.planes) in (3, 4) and bits > 8:
            planes = rgb_to_yuv_planes(
                rgb, matrix=self.info.colour.matrix, full_range=self._range() == "JPEG",
                bits=bits, chroma_shape=(out.planes[1].height, out.planes[1].width))
            for plane, values in zip(out.planes, planes, strict=False):
                _plane_view(plane, True)[...] = values
            if len(out.planes) == 4:  # alpha: opaque
                _plane_view(out.planes[3], True)[...] = (1 << bits) - 1
            return out
        new = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return new.reformat(format=fmt, dst_colorspace=self._sws_matrix(),
                            dst_color_range=self._range())

    # -- finishing -----------------------------------------------------------------------
    def close(self) -> Path:
        """Flush, finish audio, and move the file to its final name. Returns the path."""
        if self._closed:
            return self.path
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            if self._audio is not None:
                self._audio.finish(self._out)
            self._out.close()
        except av.error.FFmpegError as exc:
            self.abort()
            raise OutputError(self.path, f"finishing the file failed: {exc}") from None
        self._closed = True
        if self._index == 0:
            self._tmp.unlink(missing_ok=True)
            raise OutputError(self.path, "no frames were written")
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file; the final name is never created."""
        if not self._closed:
            self._closed = True
            try:
                if getattr(self, "_audio", None) is not None:
                    self._audio.close()
                self._out.close()
            except Exception:
                pass
        self._tmp.unlink(missing_ok=True)

    @property
    def frames_written(self) -> int:
        return self._index

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _plane_array(plane, deep: bool) -> np.ndarray:
    """A plane as (h, w) uint8 (uint16 when `deep`) array without the line padding (a copy)."""
    dtype = np.uint16 if deep else np.uint8
    buf = np.frombuffer(plane, dtype=dtype)
    return buf.reshape(plane.height, plane.line_size // dtype().itemsize)[:, : plane.width].copy()


def _plane_view(plane, deep: bool) -> np.ndarray:
    """A plane as an (h, w) array viewing the frame's own memory (no copy, no line padding)."""
    dtype = np.uint16 if deep else np.uint8
    buf = np.frombuffer(plane, dtype=dtype)
    return buf.reshape(plane.height, plane.line_size // dtype().itemsize)[:, : plane.width]


def _changed_box(changed: np.ndarray, margin: int = 8) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) around the changed pixels, grown by `margin` so the colour conversion's
    chroma filter sees real neighbours, with even starts and ends (or the picture edge) so the
    box's chroma samples line up with the picture's."""
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return None
    h, w = changed.shape

    def span(lo: int, hi: int, size: int) -> tuple[int, int]:
        lo = max(0, lo - margin) & ~1
        hi = min(size, hi + 1 + margin)
        return lo, min(size, hi + (hi & 1))

    return (*span(int(rows[0]), int(rows[-1]), h), *span(int(cols[0]), int(cols[-1]), w))


def _relabel(vf: av.VideoFrame, fmt: str) -> av.VideoFrame:
    """The same planes under another format name (yuvj420p -> yuv420p), full range kept."""
    out = av.VideoFrame(vf.width, vf.height, fmt)
    for p_src, p_out in zip(vf.planes, out.planes, strict=True):
        _set_plane(p_out, _plane_array(p_src, False))
    out.color_range = 2
    out.colorspace = vf.colorspace
    return out


def _set_plane(plane, arr: np.ndarray) -> None:
    itemsize = arr.dtype.itemsize
    full = np.zeros((plane.height, plane.line_size // itemsize), dtype=arr.dtype)
    full[:, : arr.shape[1]] = arr
    plane.update(full.tobytes())


def _plane_mask(changed: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Downsample a full-size pixel mask to a (sub-sampled) plane: any pixel changed counts."""
    h, w = changed.shape
    ph, pw = shape
    if (ph, pw) == (h, w):
        return changed
    sy, sx = -(-h // ph), -(-w // pw)
    padded = np.zeros((ph * sy, pw * sx), dtype=bool)
    padded[:h, :w] = changed
    # an OR of the sy * sx strided views (numpy's any() over the inner axes of a reshape is
    # a slow generic reduction)
    out = padded[::sy, ::sx].copy()
    for dy in range(sy):
        for dx in range(sx):
            out |= padded[dy::sy, dx::sx]
    return out
