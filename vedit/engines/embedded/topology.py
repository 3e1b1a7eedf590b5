"""MediaPipe face-mesh landmark index sets and the canonical face the embedded engine uses.

Indices refer to MediaPipe's 478-point mesh with refined irises (468-477). "Right" is the
subject's right (the eye on the image's left). Upper/lower chains run from the outer eye corner
to the inner one; lip chains run from the subject's right mouth corner to the left one.

The canonical face (`canonical_face()`) is a constant, symmetric neutral template derived once
offline: the generalised-Procrustes mean (similarity, on `RIGID`) of 135 closed-mouth MediaPipe
meshes from the example portraits of the LivePortrait repository (25 frames each of five clips
plus one still, weighted 10), rotated half-way onto its own mirror image and averaged with it,
so that the identity rotation means "looking straight into the camera". Its axes are those of
the landmarks (x right, y down, z away from the camera), it is centred on the centroid of
`RIGID` and scaled to a face height |p10 - p152| of 0.40, about the size of a face in a
LivePortrait crop of 2.3x the face extent, so s is near 1 for a normally framed face.
Stored as int16 in units of 1e-4.
"""
from __future__ import annotations

import base64
import functools

import numpy as np

N_POINTS = 478

#: Forehead, nose bridge and tip, eye corners, cheekbones and temples: no lips, jaw, lids, brows.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 130, 243, 362, 263, 359, 463,
         127, 356, 234, 454, 93, 323, 116, 345, 123, 352, 50, 280, 98, 327, 108, 337, 67, 297,
         109, 338, 21, 251, 162, 389, 71, 301)

#: Face silhouette, a closed loop starting at the top of the forehead.
FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176,
             148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284,
             332, 297, 338)

FACE_TOP, FACE_CHIN = 10, 152
NOSE_BASE = 2

#: Inner lip contour: upper chain and lower chain, both from corner 78 to corner 308.
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
#: Closed inner-lip polygon (upper chain, then the lower chain backwards).
INNER_LOOP = INNER_UPPER + INNER_LOWER[-2:0:-1]
#: Inner-lip gap pairs (upper, lower) used to measure how open a mouth is.
MOUTH_PAIRS = ((13, 14), (82, 87), (312, 317))
LIPS = tuple(sorted(set(INNER_UPPER + INNER_LOWER + OUTER_UPPER + OUTER_LOWER)))


class _Eye:
    """Landmarks of one eye. Chains run outer corner -> inner corner; pairs align index-wise."""

    def __init__(self, corners, upper, lower, ring1, ring2, iris, brow):
        self.corners = corners            # (outer, inner) lid corners
        self.upper, self.lower = upper, lower          # lid margins, 7 points each
        self.ring1, self.ring2 = ring1, ring2          # ((outer, inner), upper 7, lower 7)
        self.iris = iris                  # centre, then 4 ring points
        self.brow = brow
        self.loop = (corners[0], *upper, corners[1], *lower[::-1])


RIGHT_EYE = _Eye(
    corners=(33, 133),
    upper=(246, 161, 160, 159, 158, 157, 173), lower=(7, 163, 144, 145, 153, 154, 155),
    ring1=((130, 243), (247, 30, 29, 27, 28, 56, 190), (25, 110, 24, 23, 22, 26, 112)),
    ring2=((226, 244), (113, 225, 224, 223, 222, 221, 189), (31, 228, 229, 230, 231, 232, 233)),
    iris=(468, 469, 470, 471, 472),
    brow=(46, 53, 52, 65, 55, 70, 63, 105, 66, 107),
)
LEFT_EYE = _Eye(
    corners=(263, 362),
    upper=(466, 388, 387, 386, 385, 384, 398), lower=(249, 390, 373, 374, 380, 381, 382),
    ring1=((359, 463), (467, 260, 259, 257, 258, 286, 414), (255, 339, 254, 253, 252, 256, 341)),
    ring2=((446, 464), (342, 445, 444, 443, 442, 441, 413), (261, 448, 449, 450, 451, 452, 453)),
    iris=(473, 474, 475, 476, 477),
    brow=(276, 283, 282, 295, 285, 300, 293, 334, 296, 336),
)
EYES = (RIGHT_EYE, LEFT_EYE)
IRISES = RIGHT_EYE.iris + LEFT_EYE.iris

_TEMPLATE_B64 = (
    "AAATBsb9AAAuBDv8AACyBLf9h/8bAtf8AACSA//7AAC8Aiz8AAChAIb9/ftAAMH/AAD7/sX9AAAi/pP9AAD0+vn9AABQBt79"
    "AACNBhX+AAC1BmT+AAC7Bl3+AAAHB1f+AABhB0P+AAC+B2L+AAA4CPz+AAB3BIz8fv9qBFL9yfmT/UcCmv3YADL/B/3jAD//"
    "efzZAGj/wftyAN7/Ff6yAD//vPwA/93+aP0V/9v+IPwZ/xL/vvtY/1P/R/vSADAAAf4GCbX/yfsQAO7/l/lLALQCqPpPALwA"
    "Of12A9v+XP/vBdn9b/+GBin+vv4kBjD+Vf5bBpX+8v6KBl7+j/6WBrv+l/0xB4D/jf8pBEj8ef+TAxL87/rB/nf/Vf7pAaf+"
    "U/7oA639SP6QA9P9g/tXA5b/f//LAlr8QPwn/mb+d/tV/uH+V/qJ/A8Bxf7N/u39+/1f/wn/L/2nBpn/a/reBbEEvv5ABOj9"
    "K/9vBN/91P2yBoL/9v2xBlj/Kvvm/R//Uv4mBAP+U/1C/hD+Of3A/ej9p/w5+7z+wvo+/e7/Av1+/ET+m/pw/u//LfoR/gIB"
    "Y/9DBvD92P5cBj/+cf56Bpz+3/5aBAn+5v2yBmv/Jf7TBhb/CP6xBlP/9/4YBBz9pv6pBtv+CP+nBqL+fP+tBnT+Tf8wCAD/"
    "Wf+wB2n+Yf9SB07+bf/5BmX+fP+zBm3+pv6sBtb+i/7NBsj+bv76Brj+Vv4sB9T+x/2sBbn+rfnSAkoFAACSBE39XP6tBh3/"
    "Qf6/BhP/Vf+rBN79g/59BHL+Qf+OBNv9vv1BAuL+0PypAhf/NP7QAyv+P/u7+87/qPuw/Ar/Dfyl/XT+Cf6UB0X/l/76/aL9"
    "af5//NX9MP7/+h7+A/y0AKb/rPo7AYsAZP6LAE//MvuV/9f/uf6GAWv+oP64Axr9EvqfATUBCvu6AQ4Aw/sDAoj/3fzxAUX/"
    "rP2yAR//RP5tAfH+d//EAMH9NfrzAiUBwfp2/xsAuv9yBJT8aP6MAnb+bfkWAJ8Et/4eAdP+J/7RA7v+iPsNAAwAmv5NA0r9"
    "9flPBCYFZf5TAG3/CP/7Arb8qvuPB7cBs/saCM8CtvnoAjYD9PqxBmUC2vkV/wMC5/2MCRsAyf+MBFb96v38Arb+MPpgAFIB"
    "ivx+AGz/B/2MAEn/C/7rBjH/ZfopBGwB4v5OClIARf13CWABjvzrCP8BAACI/LT9AABtCikAgv2CAEL/9f1rAFP/QP5eAG3/"
    "XPpH/64A5f3l/y7/Zv26/xP/5Pyy/xr/ZfzF/0L/GPzk/3X/gPmx/pIDNvxhAJr/AAAoBd79S/5aBW/+vP4pBK/9R/8wBez9"
    "AADI/939bPxaCDQBJP3zCLAA2f78CZf/BfslB9IDPP4mAFL/G//DAaf9AAAYCnX/Bf70Cb0A+flBBDwDCP+sBpz+7v7jBo7+"
    "2P4oB3v+yP56B5T+mf7uBw//P/6jBg3/Iv6XBgv/Cf6IBgn/Y/0fBiH/JfuXBEgAGv8aAR/+zP7Y//j+dv7o/zL/XP6tBiD/"
    "K/v1BTwBSf/d/0D+Rv54CG3/AAAGAqT8fv95AT39AABbARn9vf68Ar39AACOCRn/AADbCA3/HP/NCCj/C/1oB+D/rf1IBOX+"
    "m/0DCKz/WfwqBCP/J/3hBAT/6/scBaX/7P54CT7/b/4OAyz+k/zJB3oASv1vCCwAmPywBuT/nPosBbMB5PuxBn0AVfqBBRUD"
    "wPynBVP/w/4lAhb+zP7/A/78gP4dBKD9BP+fA5D8Vv47/73+Yv3K/p7+ivyy/q3+2/vQ/vD+Z/sa/1L/KPsuAEwAkPmXAf0C"
    "lPsfAej/KfxXAZL/7vxcAVb/p/07ATb/Nf4IASz/lf7YAB3/hvluASUFhf5BBOv9G/9cAkL9K/8PBI38dP9WBM78LP8kBNb8"
    "rP5sBB/+jv9mBKj8nf+CBFX9mP5ZAFf/4f6DAAL/Df+mAKH+6/v8/6v/g/uk/67/eQAbAtf8AwRAAMH/ggBqBFL9NwaT/UcC"
    "ZgLYADL/+QLjAD//hwPZAGj/PwRyAN7/6wGyAD//RAMA/93+mAIV/9v+4AMZ/xL/QgRY/1P/uQTSADAA/wEGCbX/NwQQAO7/"
    "aQZLALQCWAVPALwAxwJ2A9v+pADvBdn9kQCGBin+QgEkBjD+qwFbBpX+DgGKBl7+cQGWBrv+aQIxB4D/cwApBEj8hwCTAxL8"
    "EQXB/nf/qwHpAaf+rQHoA639uAGQA9P9fQRXA5b/gQDLAlr8wAMn/mb+iQRV/uH+qQWJ/A8BOwHN/u39BQJf/wn/0QKnBpn/"
    "lQXeBbEEQgFABOj91QBvBN/9LAKyBoL/CgKxBlj/1gTm/R//rgEmBAP+rQJC/hD+xwLA/ej9WQM5+7z+PgU+/e7//gJ+/ET+"
    "ZQVw/u//0wUR/gIBnQBDBvD9KAFcBj/+jwF6Bpz+IQFaBAn+GgKyBmv/2wHTBhb/+AGxBlP/CQEYBBz9WgGpBtv++ACnBqL+"
    "hACtBnT+swAwCAD/pwCwB2n+nwBSB07+kwD5BmX+hACzBm3+WgGsBtb+dQHNBsj+kgH6Brj+qgEsB9T+OQKsBbn+UwbSAkoF"
    "pAGtBh3/vwG/BhP/qwCrBN79fQF9BHL+vwCOBNv9QgJBAuL+MAOpAhf/zAHQAyv+wQS7+87/WASw/Ar/8wOl/XT+9wGUB0X/"
    "aQH6/aL9lwF//NX90AH/+h7+/QO0AKb/VAU7AYsAnAGLAE//zgSV/9f/RwGGAWv+YAG4Axr97gWfATUB9gS6AQ4APQQDAoj/"
    "IwPxAUX/VAKyAR//vAFtAfH+iQDEAMH9ywXzAiUBPwV2/xsARgByBJT8mAGMAnb+kwYWAJ8ESQEeAdP+2QHRA7v+eAQNAAwA"
    "ZgFNA0r9CwZPBCYFmwFTAG3/+AD7Arb8VgSPB7cBTQQaCM8CSgboAjYDDAWxBmUCJgYV/wMCGQKMCRsANwCMBFb9FgL8Arb+"
    "0AVgAFIBdgN+AGz/+QKMAEn/9QHrBjH/mwUpBGwBHgFOClIAuwJ3CWABcgPrCP8BfgKCAEL/CwJrAFP/wAFeAG3/pAVH/64A"
    "GwLl/y7/mgK6/xP/HAOy/xr/mwPF/0L/6APk/3X/gAax/pIDygNhAJr/tQFaBW/+RAEpBK/9uQAwBez9lANaCDQB3ALzCLAA"
    "JwH8CZf/+wQlB9IDxAEmAFL/5QDDAaf9+wH0Cb0ABwZBBDwD+ACsBpz+EgHjBo7+KAEoB3v+OAF6B5T+ZwHuBw//wQGjBg3/"
    "3gGXBgv/9wGIBgn/nQIfBiH/2wSXBEgA5gAaAR/+NAHY//j+igHo/zL/pAGtBiD/1QT1BTwBtwDd/0D+ugF4CG3/ggB5AT39"
    "QwG8Ar395ADNCCj/9QJoB+D/UwJIBOX+ZQIDCKz/pwMqBCP/2QLhBAT/FQQcBaX/FAF4CT7/kQEOAyz+bQPJB3oAtgJvCCwA"
    "aAOwBuT/ZAUsBbMBHASxBn0AqwWBBRUDQAOnBVP/PQElAhb+NAH/A/78gAEdBKD9/ACfA5D8qgE7/73+ngLK/p7+dgOy/q3+"
    "JQTQ/vD+mQQa/1L/2AQuAEwAcAaXAf0CbAQfAej/1wNXAZL/EgNcAVb/WQI7ATb/ywEIASz/awHYAB3/egZuASUFewFBBOv9"
    "5QBcAkL91QAPBI38jABWBM781AAkBNb8VAFsBB/+cgBmBKj8YwCCBFX9aAFZAFf/HwGDAAL/8wCmAKH+FQT8/6v/fQSk/67/"
    "Gv0RAGj/rf0PAGf/Gv2D/2T/hfwSAGj/Gf2eAGz/5gIRAGj/ewMSAGj/5gKD/2T/UwIPAGf/5wKeAGz/"
)


@functools.lru_cache(maxsize=1)
def _template() -> np.ndarray:
    raw = base64.b64decode("".join(_TEMPLATE_B64))
    out = np.frombuffer(raw, dtype="<i2").astype(np.float64).reshape(N_POINTS, 3) * 1e-4
    out.flags.writeable = False
    return out


def canonical_face() -> np.ndarray:
    """(478, 3) float64 neutral canonical face x_c (read-only; see the module docstring)."""
    return _template()


def lip_region() -> np.ndarray:
    """(478,) bool: the lips and every point below the nose base that moves with the jaw."""
    t = canonical_face()
    out = t[:, 1] > t[NOSE_BASE, 1]
    out[list(LIPS)] = True
    return out


def eye_region() -> np.ndarray:
    """(478,) bool: lid margins, the two rings of lid skin around them, irises and brows."""
    out = np.zeros(N_POINTS, bool)
    for eye in EYES:
        idx = [*eye.corners, *eye.upper, *eye.lower, *eye.iris, *eye.brow]
        for ring in (eye.ring1, eye.ring2):
            idx += [*ring[0], *ring[1], *ring[2]]
        out[idx] = True
    return out
