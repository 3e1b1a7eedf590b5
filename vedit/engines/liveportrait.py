"""LivePortraitEngine: the official networks (user's weights) behind the Engine interface.

Per face: the tracker's LivePortrait crop (512, resized to 256 with area interpolation, RGB
/255) feeds the motion extractor M and the appearance extractor F; Eq. 8 (vedit.motion, shared
with the embedded engine) gives the driving keypoints; stitching keeps shoulders and neck put;
W+G decode the 512 crop, which is pasted back with a feathered mask warped by crop->frame.

Two motion modes:
* "paper": Eq. 8 exactly (scale ratio, translation difference, 0.5 look-ahead smoothing).
* "official": the official video-to-video conventions: scale and translation from the source
  frame, expression transferred only on the keypoint entries the official code overwrites,
  Kalman-smoothed driving (the pipeline sets those from `motion_conventions`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from vedit.composite.mask import paste_back
from vedit.engines.base import REGIONS, Engine, EngineError, FacePatch, register
from vedit.errors import ConfigError
from vedit.faces.types import FaceObservation
from vedit.motion.types import KeypointMotion

K = 21
LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)
EYE_KEYPOINTS = (11, 13, 15, 16, 18)
NET_SIZE = 256
MOTION_MODES = ("paper", "official")

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
           "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def official_expression_mask() -> np.ndarray:
    """(21, 3) bool: the expression entries official video-to-video overwrites with the driving."""
    mask = np.zeros((K, 3), bool)
    mask[[1, 2, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], :] = True
    mask[[3, 4], 1] = True
    mask[5, 2] = True
    mask[8, 2] = True
    mask[9, 1:] = True
    return mask


def paste_mask(size: int = 512) -> np.ndarray:
    """(size, size) float32 soft mask in crop space: 1 over the face, feathered to 0 at the
    crop edge (a procedural stand-in for the official mask_template.png, which users may
    pass instead)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r = np.maximum(np.abs(xx - c), np.abs(yy - c) * 0.95) / (size / 2.0)
    return np.clip((0.92 - r) / 0.22, 0.0, 1.0).astype(np.float32)


@register
class LivePortraitEngine(Engine):
    """The LivePortrait networks as an engine.

    Args:
        weights: official weights folder (base_models/, retargeting_models/) or a
            .safetensors file made by `vedit weights convert`.
        device: torch device ("cpu", "cuda", "cuda:1"); default cuda when available.
        dtype: float32, float16 or bfloat16 (half types only on CUDA, as the official code).
        batch_size: frames per network call.
        motion: "paper" or "official" (see module docstring).
        stitching: apply the stitching network (keeps neck and shoulders still).
        mask_template: optional path to a paste-back mask image (e.g. the official one).
        source_eye_retargeting: keep each face's eyes as open as in its first frame (the
            official source-video eye retargeting: target = that frame's mean eye ratio, or
            0.39 when it is below 0.18, i.e. the first frame blinks).
        normalize_lip: close the source mouth before animating (official lip normalisation:
            when the source lip ratio is >= 0.03, add R_lip(x_s, [ratio, 0])).

    Order per frame, as the official video pipeline: Eq. 8 -> stitching -> + eye delta ->
    + lip delta -> W+G. Eye and lip ratios come from the MediaPipe landmarks: lid gap over eye
    width per eye (33/133/159/145 and 362/263/386/374), inner-lip gap over mouth width
    (13/14 over 78/308) -- the same measures as the official 203-point ones, on our landmarks.
    """

    name = "liveportrait"

    def __init__(self, weights: str | Path | None = None, device: str | None = None,
                 dtype: str = "float32", batch_size: int = 8, motion: str = "paper",
                 stitching: bool = True, mask_template: str | Path | None = None,
                 source_eye_retargeting: bool = False, normalize_lip: bool = False) -> None:
        if weights is None:
            raise EngineError(
                "the liveportrait engine needs --weights DIR: the official LivePortrait files "
                "(DIR/base_models/appearance_feature_extractor.pth, motion_extractor.pth, "
                "warping_module.pth, spade_generator.pth and DIR/retargeting_models/"
                "stitching_retargeting_module.pth), or a .safetensors file from "
                "`vedit weights convert`")
        if motion not in MOTION_MODES:
            raise ConfigError(None, f"motion must be one of {', '.join(MOTION_MODES)}")
        if dtype not in _DTYPES:
            raise ConfigError(None, f"dtype must be one of {', '.join(sorted(_DTYPES))}")
        from vedit.models.liveportrait import LivePortraitNet

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._weights, self._dtype = Path(weights), dtype
        self.net = LivePortraitNet.from_dir(weights, device=device, dtype=_DTYPES[dtype])
        self.device = torch.device(device)
        self.batch_size = max(1, int(batch_size))
        self.motion_mode = motion
        self.stitching = stitching
        self._mask = (_read_mask(mask_template) if mask_template is not None
                      else paste_mask(512))
        self.source_eye_retargeting = source_eye_retargeting
        self.normalize_lip = normalize_lip
        self._eye_targets: dict[int, float] = {}

    @classmethod
    def uses_accelerator(cls, options: dict) -> bool:
        device = options.get("device")
        return str(device).startswith("cuda") if device else torch.cuda.is_available()

    def cache_identity(self) -> dict:
        """What the driving cache must tell apart: which weight files (size, mtime), dtype."""
        root = self._weights
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        return {"dtype": self._dtype, "weights": [
            (str(f.relative_to(root)) if root.is_dir() else f.name, f.stat().st_size,
             f.stat().st_mtime_ns) for f in files if f.is_file()]}

    def prepare_shot(self, shot, frame_at) -> None:
        """Per track: the eye-opening target of source-video eye retargeting (first frame)."""
        self._eye_targets = {}
        for track in shot.tracks:
            first = track.observation(track.start)
            ratio = float(np.mean(eye_ratios(first.landmarks))) if first is not None else 0.0
            self._eye_targets[track.track_id] = (ratio if ratio >= EYE_THRESHOLD
                                                 else EYE_FALLBACK)

    # -- Engine interface ------------------------------------------------------------------
    def motion(self, frames: Sequence[np.ndarray],
               faces: Sequence[FaceObservation]) -> list[KeypointMotion]:
        crops = [crop_for_network(f, face) for f, face in zip(frames, faces, strict=True)]
        out: list[KeypointMotion] = []
        for start in range(0, len(crops), self.batch_size):
            batch = _to_tensor(crops[start:start + self.batch_size], self.device)
            with torch.inference_mode():
                m = self.net.motion(batch)
                rot = self.net.rotation(m["pitch"], m["yaw"], m["roll"])
            kp, exp = m["kp"].float().cpu().numpy(), m["exp"].float().cpu().numpy()
            t, s = m["t"].float().cpu().numpy(), m["scale"].float().cpu().numpy()
            r = rot.float().cpu().numpy()
            for b in range(len(batch)):
                out.append(KeypointMotion(kp[b].astype(np.float64), r[b].astype(np.float64),
                                          exp[b].astype(np.float64), float(s[b, 0]),
                                          t[b].astype(np.float64)))
        return out

    def expression_mask(self, region: str) -> np.ndarray:
        if region not in REGIONS:
            raise ConfigError(None, f"region must be one of {', '.join(REGIONS)}")
        mask = np.zeros((K, 3), bool)
        if region in ("all", "exp"):
            return official_expression_mask() if self.motion_mode == "official" else ~mask
        if region == "lip":
            mask[list(LIP_KEYPOINTS)] = True
        elif region == "eyes":
            mask[list(EYE_KEYPOINTS)] = True
        return mask

    def render(self, frames: Sequence[np.ndarray], faces: Sequence[FaceObservation],
               sources: Sequence[KeypointMotion],
               targets: Sequence[np.ndarray]) -> list[FacePatch]:
        crops = [crop_for_network(f, face) for f, face in zip(frames, faces, strict=True)]
        patches: list[FacePatch] = []
        for start in range(0, len(crops), self.batch_size):
            stop = start + self.batch_size
            img = _to_tensor(crops[start:stop], self.device)
            xs = torch.as_tensor(np.stack([s.keypoints() for s in sources[start:stop]]),
                                 dtype=torch.float32, device=self.device)
            xd = torch.as_tensor(np.stack(list(targets[start:stop])), dtype=torch.float32,
                                 device=self.device)
            faces_b = faces[start:stop]
            with torch.inference_mode():
                feat = self.net.appearance_features(img)
                if self.stitching:
                    xd = self.net.stitch(xs, xd)
                xd = xd + self._retargeting(xs, faces_b)
                out = self.net.warp_decode(feat, xs, xd)["out"]
            decoded = (out.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255.0)
            decoded = np.rint(decoded).astype(np.uint8)
            for b, crop_rgb in enumerate(decoded):
                i = start + b
                patches.append(paste_back(crop_rgb, faces[i].crop.crop_to_frame, frames[i],
                                          self._mask))
        return patches

    def _retargeting(self, xs: torch.Tensor, faces: Sequence[FaceObservation]) -> torch.Tensor:
        """Eye and lip deltas (B, 21, 3) to add after stitching (zeros when both are off)."""
        delta = torch.zeros_like(xs)
        if self.source_eye_retargeting:
            ratios = []
            for face in faces:
                a, b = eye_ratios(face.landmarks)
                target = self._eye_targets.get(face.track_id, EYE_FALLBACK)
                ratios.append([a, b, target])
            delta = delta + self.net.retarget_eye(
                xs, torch.tensor(ratios, dtype=xs.dtype, device=xs.device))
        if self.normalize_lip:
            lips = torch.tensor([[lip_ratio(f.landmarks), 0.0] for f in faces], dtype=xs.dtype,
                                device=xs.device)
            apply = (lips[:, :1] >= LIP_THRESHOLD).to(xs.dtype)[:, :, None]
            delta = delta + self.net.retarget_lip(xs, lips) * apply
        return delta

    def motion_conventions(self) -> dict:
        """Pipeline settings the chosen motion mode implies (see module docstring)."""
        if self.motion_mode == "official":
            return {"smoothing": "kalman", "transfer_scale": False, "transfer_translation": False}
        return {}

    def close(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


EYE_THRESHOLD, EYE_FALLBACK, LIP_THRESHOLD = 0.18, 0.39, 0.03


def eye_ratios(landmarks: np.ndarray) -> tuple[float, float]:
    """Eye openings (lid gap / eye width) of the two eyes, from MediaPipe landmarks."""
    p = landmarks[:, :2].astype(np.float64)

    def ratio(top: int, bottom: int, inner: int, outer: int) -> float:
        return float(np.linalg.norm(p[top] - p[bottom]) /
                     (np.linalg.norm(p[inner] - p[outer]) + 1e-6))

    return ratio(386, 374, 362, 263), ratio(159, 145, 33, 133)


def lip_ratio(landmarks: np.ndarray) -> float:
    """Mouth opening (inner-lip gap / mouth width), from MediaPipe landmarks."""
    p = landmarks[:, :2].astype(np.float64)
    return float(np.linalg.norm(p[13] - p[14]) / (np.linalg.norm(p[78] - p[308]) + 1e-6))


def crop_for_network(frame: np.ndarray, face: FaceObservation) -> np.ndarray:
    """(256, 256, 3) uint8 RGB network input: the 512 crop, area-resized as the official."""
    size = face.crop.size
    crop = cv2.warpAffine(frame, face.crop.frame_to_crop, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if size != NET_SIZE:
        crop = cv2.resize(crop, (NET_SIZE, NET_SIZE), interpolation=cv2.INTER_AREA)
    return crop


def _to_tensor(crops: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    arr = np.stack(crops).astype(np.float32) / 255.0
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(device)


def _read_mask(path: str | Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ConfigError(path, "cannot read the mask template image")
    return cv2.resize(img, (512, 512), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
