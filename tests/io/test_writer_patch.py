"""The writer converts only the box around changed pixels: same values as a whole-picture
conversion inside the changed area, the source's planes everywhere else."""
from __future__ import annotations

import queue
import threading

import av
import numpy as np
import pytest

from vedit.io import VideoWriter, open_video


def _planes(path):
    """[[(h, w) array per plane] per frame], line padding removed."""
    frames = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            deep = max(comp.bits for comp in f.format.components) > 8
            dtype = np.uint16 if deep else np.uint8
            frames.append([np.frombuffer(p, dtype).reshape(p.height, -1)[:, : p.width].copy()
                           for p in f.planes])
    return frames


@pytest.mark.parametrize(("size", "pix_fmt", "tolerance"), [
    ((640, 360), "yuv420p", 0),
    ((640, 360), "yuv422p10le", 0),   # 10 bits: vedit's own conversion
    # odd size: the whole picture's chroma is resampled 405 -> 203 rows, not exactly 2:1,
    # so its chroma drifts a little against a box of even size
    ((721, 405), "yuv420p", 6),
])
def test_box_conversion_matches_whole_picture_conversion(clip_factory, tmp_path, size,
                                                          pix_fmt, tolerance):
    src = clip_factory(".mkv", size=size, pix_fmt=pix_fmt, codec="ffv1", frames=4)
    w, h = size
    changed = np.zeros((h, w), bool)
    changed[37:151, 95:301] = True      # odd edges, away from the borders
    changed[h - 20:, w - 33:] = True    # touching the bottom-right corner
    outs = {}
    for name, mask in (("box", changed), ("whole", None)):
        out = tmp_path / f"{name}.mkv"
        with open_video(src) as r, VideoWriter(out, template=r.info, codec="ffv1") as wr:
            for f in r:
                rgb = f.rgb()
                rgb[changed] = 255 - rgb[changed]
                wr.write(f, rgb, mask)
        outs[name] = _planes(out)
    source = _planes(src)
    assert len(outs["box"]) == len(outs["whole"]) == len(source) == 4
    for box, whole, orig in zip(outs["box"], outs["whole"], source, strict=True):
        for k, (pb, pw, po) in enumerate(zip(box, whole, orig, strict=True)):
            fy, fx = -(-h // pb.shape[0]), -(-w // pb.shape[1])
            # chroma samples whose every pixel is changed, and those with none changed
            blocks = np.zeros((pb.shape[0] * fy, pb.shape[1] * fx), bool)
            blocks[:h, :w] = changed
            blocks = blocks.reshape(pb.shape[0], fy, pb.shape[1], fx)
            inside = blocks.all(axis=(1, 3)) if k else changed
            outside = ~blocks.any(axis=(1, 3)) if k else ~changed
            assert inside.sum() > 100
            diff = np.abs(pb[inside].astype(int) - pw[inside])
            assert diff.max() <= (tolerance if k else 0)
            np.testing.assert_array_equal(pb[outside], po[outside])
            assert (pb[inside] != po[inside]).mean() > 0.5


def test_ten_bit_output_is_deterministic(clip_factory, tmp_path):
    """Two writes of the same 10-bit pictures give the same bytes (swscale's 10-bit RGB->YUV
    does not, which is why the writer converts those itself)."""
    rng = np.random.default_rng(1)
    for size in ((320, 184), (246, 138), (98, 62)):
        src = clip_factory(".mkv", size=size, pix_fmt="yuv422p10le", codec="ffv1", frames=8)
        pictures = rng.integers(0, 256, (8, size[1], size[0], 3), dtype=np.uint8)
        runs = []
        for k in range(2):
            out = tmp_path / f"run{k}.mkv"
            with open_video(src) as r, VideoWriter(out, template=r.info, codec="ffv1") as wr:
                for f, rgb in zip(r, pictures, strict=True):
                    wr.write(f, rgb, None)
            runs.append(_planes(out))
        for a, b in zip(*runs, strict=True):
            for pa, pb in zip(a, b, strict=True):
                np.testing.assert_array_equal(pa, pb)


def test_frames_staged_in_another_thread_encode_as_written(clip_factory, tmp_path):
    """`stage` (the pixel replacement) may run in one thread while `write_staged` encodes in
    another, frames ahead: the file is the one `write` makes."""
    src = clip_factory(".mkv", size=(320, 240), codec="ffv1", frames=12)
    changed = np.zeros((240, 320), bool)
    changed[40:120, 60:200] = True

    def edited(f):
        rgb = f.rgb()
        rgb[changed] = 255 - rgb[changed]
        return rgb

    direct, staged = tmp_path / "direct.mkv", tmp_path / "staged.mkv"
    with open_video(src) as r, VideoWriter(direct, template=r.info, codec="ffv1") as wr:
        for f in r:
            if f.index % 3:
                wr.write(f, edited(f), changed)
            else:
                wr.write(f)
    with open_video(src) as r, VideoWriter(staged, template=r.info, codec="ffv1") as wr:
        ready: queue.Queue = queue.Queue(maxsize=4)
        encoder = threading.Thread(target=lambda: [wr.write_staged(s) for s in
                                                   iter(ready.get, None)])
        encoder.start()
        for f in r:
            ready.put(wr.stage(f, edited(f), changed) if f.index % 3 else wr.stage(f))
        ready.put(None)
        encoder.join()
    a, b = _planes(direct), _planes(staged)
    assert len(a) == len(b) == 12
    for fa, fb in zip(a, b, strict=True):
        for pa, pb in zip(fa, fb, strict=True):
            assert np.array_equal(pa, pb)
    assert not np.array_equal(a[1][0], _planes(src)[1][0])     # the edit is in the file
