"""Make the sample clips from scikit-image's public-domain astronaut photograph.

    python samples/make_samples.py [--out samples/]

* source.mp4: a 4 s, 25 fps, 640x360 shot of the portrait with a slow camera drift and a tone
  audio track: the "finished footage" whose face gets re-animated.
* driving.mp4: a 5 s, 30 fps, 256x256 performance of the same face, made with vedit's own
  embedded engine by moving landmarks along a scripted performance (talking mouth, two blinks,
  a nod and a turn). Different size, rate and length than the source, on purpose.

Both are committed small; this script is how they were made.
"""
from __future__ import annotations

import argparse
import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from vedit.composite import composite
from vedit.engines import create_engine
from vedit.faces import track_frames
from vedit.io import VideoWriter
from vedit.motion import KeypointMotion

UPPER_LIDS = (159, 158, 160, 161, 157, 386, 385, 387, 388, 384)
LOWER_LIDS = (145, 153, 144, 163, 154, 374, 380, 373, 390, 381)
INNER_LOWER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Row-vector rotation (x @ R) for a small head turn and nod."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return (rx @ ry).T


def make_source(out: Path, portrait: np.ndarray) -> None:
    """Slow drift and zoom over the upscaled portrait, with a tone track."""
    big = cv2.resize(portrait, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    fps, frames, (w, h) = Fraction(25), 100, (640, 360)
    path = out / "source.mp4"
    import av  # the sample maker writes the tone track itself; vedit copies it through

    with VideoWriter(path, width=w, height=h, fps=fps, codec="h264", crf=18) as writer:
        for i in range(frames):
            t = i / frames
            zoom = 1.0 + 0.06 * t
            cx, cy = 450 + 20 * math.sin(2 * math.pi * t), 260 + 8 * t
            cw, ch = 900 / zoom, 900 * h / w / zoom
            m = np.array([[w / cw, 0, -(cx - cw / 2) * w / cw],
                          [0, h / ch, -(cy - ch / 2) * h / ch]])
            writer.write_rgb(cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR,
                                            borderMode=cv2.BORDER_REFLECT))
    # add a tone as the shot's audio (remux into a new file, then replace)
    tmp = out / "source_with_audio.mp4"
    with av.open(str(path)) as src, av.open(str(tmp), "w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream("aac", rate=48000, layout="mono")
        for pkt in src.demux(vin):
            if pkt.dts is not None:
                pkt.stream = vout
                dst.mux(pkt)
        n = 48000 * frames // 25
        tt = np.arange(n) / 48000
        tone = (0.15 * np.sin(2 * np.pi * 220 * tt) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * tt)))
        tone = tone.astype(np.float32)[None]
        for start in range(0, n, 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            for p in aout.encode(frame):
                dst.mux(p)
        for p in aout.encode():
            dst.mux(p)
    tmp.replace(path)


def make_driving(out: Path, portrait: np.ndarray) -> None:
    """The portrait's face performing a scripted take, drawn by the embedded engine."""
    face = cv2.resize(portrait[30:286, 100:356], (256, 256), interpolation=cv2.INTER_AREA)
    observation = next(iter(track_frames([face])))[0]
    engine = create_engine("embedded")
    source = engine.motion([face], [observation])[0]
    lm = source.canonical + source.expression
    face_h = lm[:, 1].max() - lm[:, 1].min()
    mouth_y = lm[[13, 14], 1].mean()
    chin_y = lm[152, 1]
    below = np.clip((lm[:, 1] - mouth_y) / max(chin_y - mouth_y, 1e-6), 0, 1)
    jaw = np.where(lm[:, 1] > mouth_y, np.sqrt(below), 0.0)
    jaw[list(INNER_LOWER_LIP)] = 1.0
    lid_gap = lm[list(LOWER_LIDS), 1] - lm[list(UPPER_LIDS), 1]
    fps, frames = Fraction(30), 150
    with VideoWriter(out / "driving.mp4", width=256, height=256, fps=fps, codec="h264",
                     crf=18) as writer:
        for i in range(frames):
            t = i / float(fps)
            speech = max(0.0, math.sin(2 * math.pi * 2.1 * t)) * (0.5 + 0.5 * math.sin(t * 1.7))
            blink = max(0.0, 1 - abs(t - 1.6) / 0.12) + max(0.0, 1 - abs(t - 3.9) / 0.12)
            delta = np.zeros_like(source.expression)
            delta[:, 1] += 0.09 * face_h * speech * jaw
            delta[list(UPPER_LIDS), 1] += 0.85 * min(blink, 1.0) * lid_gap
            yaw, pitch = 9 * math.sin(2 * math.pi * t / 5.0), 5 * math.sin(2 * math.pi * t / 2.5)
            rotation = source.rotation @ _rotation(yaw, pitch)
            target = KeypointMotion(source.canonical, rotation, source.expression + delta,
                                    source.scale, source.translation).keypoints()
            patch = engine.render([face], [observation], [source], [target])[0]
            writer.write_rgb(composite(face, [patch])[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    portrait = data.astronaut()
    make_source(args.out, portrait)
    make_driving(args.out, portrait)
    print(f"wrote {args.out / 'source.mp4'} and {args.out / 'driving.mp4'}")


if __name__ == "__main__":
    main()
