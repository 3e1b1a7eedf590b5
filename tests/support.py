"""Helpers shared by tests: synthetic clips written with PyAV, and exact readers for checks."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Issue 5 asks mouth r >= 0.80 and eyes r >= 0.60 on both instruments. On faces under ~90 px
# (s13, the dancer in two_faces) the yardstick's dlib HOG detector, run on a 640 px copy, sees
# the face in only a few frames, and the boxes it derives for the other frames follow the HOG
# hits of each video (a hit or two more in the output than in the source changes the output's
# box size ~1.45x against the source's), which moves dlib's readings more than the edit does.
# On those shots dlib is given a copy at 1280 px, where HOG finds the face in every frame of
# every video: the same boxes rule for source and output (the issue note has both readings).
SMALL_FACE_EVAL = ("--dlib-hog-side", "1280")

def make_clip(path: Path, *, frames: int = 12, size: tuple[int, int] = (64, 48),
              rate: Fraction = Fraction(30000, 1001), codec: str = "libx264",
              pix_fmt: str = "yuv420p", pts: list[int] | None = None,
              time_base: Fraction | None = None, rotation: int | None = None,
              audio: bool = False, seed: int = 0) -> Path:
    """Write a small synthetic clip with real PyAV encoding (moving gradient + noise)."""
    w, h = size
    rng = np.random.default_rng(seed)
    tb = time_base or Fraction(1, 90000)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if rotation is not None:
            vs.set_display_rotation(rotation)
        aus = out.add_stream("aac", rate=48000, layout="stereo") if audio else None
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(frames):
            img = np.stack([(xx * 4 + i * 7) % 256, (yy * 4 + i * 3) % 256,
                            (xx + yy + i * 11) % 256], -1).astype(np.uint8)
            img = np.clip(img.astype(int) + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            vf.pts = pts[i] if pts is not None else round(i / rate / tb)
            vf.time_base = tb
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if aus is not None:
            n = int(48000 * frames / rate)
            t = np.arange(n) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = np.stack([tone[start:start + 1024]] * 2)
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                af.sample_rate = 48000
                af.pts = start
                for p in aus.encode(af):
                    out.mux(p)
            for p in aus.encode():
                out.mux(p)
    return path



def decoded_planes(path: Path):
    """[(pts, tuple of plane bytes)] of every decoded frame, in the stored format."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            out.append((f.pts, f.format.name, tuple(bytes(p) for p in f.planes)))
    return out


def decoded_rgb(path: Path):
    """Generator of (H, W, 3) uint8 RGB frames as stored."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def audio_samples(path: Path) -> list[np.ndarray]:
    """Decoded samples of every audio stream, (channels, n) float64 each."""
    with av.open(str(path)) as c:
        count = len(c.streams.audio)
    result = []
    for k in range(count):
        with av.open(str(path)) as c:
            chunks = []
            for f in c.decode(audio=k):
                arr = f.to_ndarray()
                if not f.format.is_planar:
                    arr = arr.reshape(-1, len(f.layout.channels)).T
                chunks.append(arr)
            result.append(np.concatenate(chunks, axis=1).astype(np.float64))
    return result


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
