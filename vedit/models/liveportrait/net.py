"""LivePortraitNet: the five LivePortrait networks behind one batched, no-grad API.

    net = LivePortraitNet.from_dir("pretrained_weights/liveportrait", device="cpu")
    f_s = net.appearance_features(src)  # (B, 3, 256, 256) [0, 1] RGB → (B, 32, 16, 64, 64)
    m = net.motion(src)  # pitch/yaw/roll (B,) deg, t (B, 3), exp/kp (B, 21, 3), scale (B, 1)
    x_s = net.transform_keypoints(m)  # (B, 21, 3)
    x_d = net.stitch(x_s, x_d)  # (B, 21, 3)
    o = net.warp_decode(f_s, x_s, x_d)  # out (B, 3, 512, 512) in (0, 1),
    # occlusion_map (B, 1, 64, 64), deformation (B, 16, 64, 64, 3)

Precision policy (`dtype=`):

* float32: plain float32. On CUDA, TF32 is switched off (globally, for matmul and cuDNN)
  because it breaks float32 parity with the official code.
* float16 / bfloat16: like the official `flag_use_half_precision`, F, M, W and G run under
  `torch.autocast` in that dtype and every output is cast back to float32; their weights are
  stored in that dtype (the official code keeps float32 weights and casts them per op: the same
  rounding, half the memory). grid_sample, the dense-motion softmax, keypoint grids and
  heatmaps stay float32 (as under the official CUDA autocast). The stitching/retargeting MLPs
  always run in float32, as in the official code. The device's own autocast is used, as in
  the official code, and its per-op lists differ between CPU and CUDA (CPU keeps LayerNorm and
  InstanceNorm in the low dtype), so CPU and CUDA half results differ. float16 on CPU is very
  slow (no fast kernels without AVX512-FP16): use bfloat16 there. Measured bounds against
  float32 are in `vedit/models/liveportrait/README.md`.

All methods take and return tensors on `net.device` (inputs are moved there), run without
autograd and never modify their inputs. Frames are batched along B; `chunk_size` bounds how
many frames go through the networks at once (W+G need ~0.5 GB per frame in float32 on CPU).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .appearance import AppearanceFeatureExtractor
from .checkpoint import CHECKPOINT_FILES, load_into, load_weights
from .motion_extractor import (
    MotionExtractor,
    decode_motion,
    rotation_matrix,
    transform_keypoints,
)
from .spade_decoder import SPADEDecoder, SpectralConv2d
from .stitching import StitchingRetargeting
from .warping import WarpingNetwork

__all__ = ["LivePortraitNet"]

_HALF = (torch.float16, torch.bfloat16)
_BASE_NETWORKS = (
    "appearance_feature_extractor",
    "motion_extractor",
    "warping_module",
    "spade_generator",
)


class LivePortraitNet(nn.Module):
    """F, M, W, G and S/R with official parameter names (see `checkpoint.CHECKPOINT_FILES`).

    Build with `from_dir`; the constructor makes randomly initialised networks.

    Args:
        dtype: compute dtype of F, M, W, G (float32, float16 or bfloat16).
        chunk_size: most frames per network call; larger batches are split.
        channels_last: store 2-D conv kernels (and so activations) channels-last.
    """

    def __init__(
        self,
        dtype: torch.dtype = torch.float32,
        chunk_size: int = 8,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        _check_dtype(dtype)
        self.compute_dtype = dtype
        self.chunk_size = max(1, int(chunk_size))
        self.channels_last = channels_last
        # attribute names = network names in checkpoint.CHECKPOINT_FILES and .safetensors keys
        self.appearance_feature_extractor = AppearanceFeatureExtractor()
        self.motion_extractor = MotionExtractor()
        self.warping_module = WarpingNetwork()
        self.spade_generator = SPADEDecoder()
        self.stitching_retargeting_module = StitchingRetargeting()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dir(
        cls,
        path: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        *,
        chunk_size: int = 8,
        channels_last: bool | None = None,
        compile: bool = False,
    ) -> LivePortraitNet:
        """Load the official weights dir (or a converted .safetensors file).

        Args:
            path: dir with base_models/*.pth and
                retargeting_models/stitching_retargeting_module.pth, or a .safetensors file
                made by `convert_to_safetensors`.
            device: where to run.
            dtype: float32 (parity), float16 or bfloat16 (autocast policy, see module doc).
            chunk_size: most frames per network call.
            channels_last: channels-last 2-D convs; default: on for CUDA in half precision
                (tensor cores), off otherwise (no gain measured on CPU).
            compile: wrap each network's forward in `torch.compile` (off by default;
                needs a working compiler toolchain).

        Raises:
            WeightsError: naming the file and key of every problem.
        """
        _check_dtype(dtype)
        device = torch.device(device)
        if channels_last is None:
            channels_last = device.type == "cuda" and dtype in _HALF
        if device.type == "cpu" and dtype == torch.float16:
            warnings.warn(
                "float16 on CPU runs on slow fallback kernels (minutes per frame for F, W, G); "
                "use dtype=torch.bfloat16 on CPU",
                stacklevel=2,
            )
        states = load_weights(path)
        with torch.device("meta"):  # no random init: tensors come from the checkpoint
            net = cls(dtype=dtype, chunk_size=chunk_size, channels_last=channels_last)
        for name, rel in CHECKPOINT_FILES.items():
            is_file = str(path).endswith(".safetensors")
            source = f"{path} [{name}]" if is_file else os.path.join(path, rel)
            load_into(getattr(net, name), states[name], name, source)
        net._prepare(device, compile)
        return net

    def _prepare(self, device: torch.device, compile: bool) -> None:
        """Move, cast and freeze once, so that forward calls do no per-call weight work."""
        if device.type == "cuda" and self.compute_dtype == torch.float32:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.to(device)
        for name in _BASE_NETWORKS:
            module = getattr(self, name)
            module.to(self.compute_dtype)
            if self.channels_last:
                _to_channels_last(module)
            if compile:
                module.compile()
        self.eval().requires_grad_(False)

    # ------------------------------------------------------------------ helpers

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.compute_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.compute_dtype)

    def _image(self, img: Tensor) -> Tensor:
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got {tuple(img.shape)}")
        img = img.to(self.device, torch.float32)
        return img.contiguous(memory_format=torch.channels_last) if self.channels_last else img

    def _chunks(self, *tensors: Tensor) -> Iterator[tuple[Tensor, ...]]:
        n = tensors[0].shape[0]
        for start in range(0, max(n, 1), self.chunk_size):  # an empty batch runs once
            yield tuple(t[start : start + self.chunk_size] for t in tensors)

    def _batched(
        self, fn: Callable[..., Mapping[str, Tensor]], *tensors: Tensor
    ) -> dict[str, Tensor]:
        """Run `fn` chunk by chunk under the precision policy; float32 outputs, joined on B."""
        parts: list[Mapping[str, Tensor]] = []
        for chunk in self._chunks(*tensors):
            with self._autocast():
                out = fn(*chunk)
            parts.append({k: v.float().contiguous() for k, v in out.items()})
        if len(parts) == 1:
            return dict(parts[0])
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def _kp(self, kp: Tensor) -> Tensor:
        return kp.to(self.device, torch.float32)

    # ------------------------------------------------------------------ public API

    @torch.no_grad()
    def appearance_features(self, img: Tensor) -> Tensor:
        """F: (B, 3, 256, 256) [0, 1] RGB → (B, 32, 16, 64, 64) float32."""
        net = self.appearance_feature_extractor
        return self._batched(lambda x: {"f": net(x)}, self._image(img))["f"]

    @torch.no_grad()
    def motion(self, img: Tensor) -> dict[str, Tensor]:
        """M: (B, 3, 256, 256) [0, 1] RGB → pitch, yaw, roll (B,) degrees; t (B, 3);
        exp (B, 21, 3); scale (B, 1); kp (B, 21, 3) canonical keypoints. All float32.
        """
        raw = self._batched(self.motion_extractor, self._image(img))
        return decode_motion(raw)

    @torch.no_grad()
    def rotation(self, pitch: Tensor, yaw: Tensor, roll: Tensor) -> Tensor:
        """Degrees (B,) → (B, 3, 3) = (Rz·Ry·Rx)ᵀ (official transposed convention)."""
        return rotation_matrix(self._kp(pitch), self._kp(yaw), self._kp(roll))

    @torch.no_grad()
    def transform_keypoints(self, motion: Mapping[str, Tensor]) -> Tensor:
        """`motion()`-style dict → x = s·(kp·R + exp) + t, t_z dropped; (B, 21, 3)."""
        keys = ("kp", "exp", "scale", "t", "pitch", "yaw", "roll")
        return transform_keypoints({k: self._kp(motion[k]) for k in keys})

    @torch.no_grad()
    def stitch(self, kp_source: Tensor, kp_driving: Tensor) -> Tensor:
        """S: x_s, x_d (B, 21, 3) → new driving keypoints (B, 21, 3)."""
        return self.stitching_retargeting_module.stitch(self._kp(kp_source), self._kp(kp_driving))

    @torch.no_grad()
    def retarget_eye(self, kp_source: Tensor, eye_ratio: Tensor) -> Tensor:
        """R_eyes: x_s (B, 21, 3), eye_ratio (B, 3) → keypoint delta (B, 21, 3)."""
        s = self.stitching_retargeting_module
        return s.retarget_eye(self._kp(kp_source), self._kp(eye_ratio))

    @torch.no_grad()
    def retarget_lip(self, kp_source: Tensor, lip_ratio: Tensor) -> Tensor:
        """R_lip: x_s (B, 21, 3), lip_ratio (B, 2) → keypoint delta (B, 21, 3)."""
        s = self.stitching_retargeting_module
        return s.retarget_lip(self._kp(kp_source), self._kp(lip_ratio))

    @torch.no_grad()
    def warp_decode(
        self, feature: Tensor, kp_source: Tensor, kp_driving: Tensor
    ) -> dict[str, Tensor]:
        """W then G: f_s (B, 32, 16, 64, 64), x_s, x_d (B, 21, 3) →
        out (B, 3, 512, 512) in (0, 1), occlusion_map (B, 1, 64, 64),
        deformation (B, 16, 64, 64, 3). All float32.
        """
        warp, decode = self.warping_module, self.spade_generator

        def run(f: Tensor, xs: Tensor, xd: Tensor) -> dict[str, Tensor]:
            w = warp(f, xs, xd)
            out = w["out"]
            if self.channels_last:
                out = out.contiguous(memory_format=torch.channels_last)
            return {
                "out": decode(out),
                "occlusion_map": w["occlusion_map"],
                "deformation": w["deformation"],
            }

        if not feature.shape[0] == kp_source.shape[0] == kp_driving.shape[0]:
            raise ValueError(
                f"batch sizes differ: feature {tuple(feature.shape)}, kp_source "
                f"{tuple(kp_source.shape)}, kp_driving {tuple(kp_driving.shape)}"
            )
        feature = feature.to(self.device, torch.float32)
        return self._batched(run, feature, self._kp(kp_source), self._kp(kp_driving))


def _check_dtype(dtype: torch.dtype) -> None:
    if dtype not in (torch.float32, *_HALF):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, not {dtype}")


def _to_channels_last(module: nn.Module) -> None:
    """Store 2-D conv kernels channels-last; convs then keep activations channels-last too."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, SpectralConv2d)):
            m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last)
