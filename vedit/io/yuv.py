"""RGB -> Y'CbCr for high-bit-depth pictures, in NumPy.

swscale's RGB to 10-bit YUV conversion is not deterministic in the FFmpeg this project ships
with (the same picture converted twice differs in a few samples, sometimes by hundreds of
codes), which would break "two runs give the same bytes" and "chunks join into the single
render" for 10-bit masters. This conversion is plain arithmetic: same input, same output.
"""
from __future__ import annotations

import numpy as np

# (Kr, Kb) per ISO/IEC 23091-4 matrix coefficients code; unknown codes fall back to BT.601.
_KR_KB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114),
          7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


def rgb_to_yuv_planes(rgb: np.ndarray, *, matrix: int, full_range: bool, bits: int,
                      chroma_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, Cb, Cr planes (uint16 codes of `bits` bits) of an (H, W, 3) uint8 RGB picture.

    Args:
        matrix: the stream's matrix coefficients code (1 = BT.709, 5/6 = BT.601, 9 = BT.2020).
        full_range: full ("JPEG") instead of limited ("MPEG") code range.
        bits: bits per sample of the target format (9-16).
        chroma_shape: (h, w) of the chroma planes; each chroma sample is the mean of the
            pixels it covers (edge pixels repeated where the picture size is odd).
    """
    kr, kb = _KR_KB.get(matrix, _KR_KB[5])
    x = rgb.astype(np.float32) * np.float32(1 / 255)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))
    cb, cr = _subsample(cb, chroma_shape), _subsample(cr, chroma_shape)
    top = (1 << bits) - 1
    if full_range:
        codes = (y * top, cb * top + (1 << (bits - 1)), cr * top + (1 << (bits - 1)))
    else:
        scale = 1 << (bits - 8)
        codes = ((16 + 219 * y) * scale, (128 + 224 * cb) * scale, (128 + 224 * cr) * scale)
    return tuple(np.clip(np.rint(c), 0, top).astype(np.uint16) for c in codes)  # type: ignore


def _subsample(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = plane.shape
    ph, pw = shape
    fy, fx = -(-h // ph), -(-w // pw)
    if (fy, fx) == (1, 1):
        return plane
    padded = np.pad(plane, ((0, ph * fy - h), (0, pw * fx - w)), mode="edge")
    return padded.reshape(ph, fy, pw, fx).mean(axis=(1, 3))
