"""LivePortrait weights: safe reading, adapting to our key names, checking, converting.

Two on-disk forms are accepted:

* the official layout, a directory holding ::

      DIR/base_models/appearance_feature_extractor.pth
      DIR/base_models/motion_extractor.pth
      DIR/base_models/warping_module.pth
      DIR/base_models/spade_generator.pth
      DIR/retargeting_models/stitching_retargeting_module.pth

* one `.safetensors` file written by `convert_to_safetensors`, keys `<network>.<key>`.

`.pth` files are only ever read with `torch.load(..., weights_only=True)`: a pickle that
tries to build anything but tensors in dicts is rejected before any of it runs.
`to_native` is the pure adapting step (official → our key names) and is idempotent.
"""

from __future__ import annotations

import functools
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vedit.errors import InputError

from .appearance import AppearanceFeatureExtractor
from .motion_extractor import MotionExtractor
from .spade_decoder import SPADEDecoder
from .stitching import StitchingRetargeting
from .warping import WarpingNetwork

__all__ = [
    "CHECKPOINT_FILES",
    "WeightsError",
    "build_network",
    "check_weights",
    "convert_to_safetensors",
    "load_into",
    "load_weights",
    "read_checkpoint",
    "to_native",
]

SAFETENSORS_FORMAT = "vedit.liveportrait"

#: network name (= attribute of LivePortraitNet) → official file, relative to the weights dir
CHECKPOINT_FILES: dict[str, str] = {
    "appearance_feature_extractor": "base_models/appearance_feature_extractor.pth",
    "motion_extractor": "base_models/motion_extractor.pth",
    "warping_module": "base_models/warping_module.pth",
    "spade_generator": "base_models/spade_generator.pth",
    "stitching_retargeting_module": "retargeting_models/stitching_retargeting_module.pth",
}

_FACTORIES: dict[str, Callable[[], nn.Module]] = {
    "appearance_feature_extractor": AppearanceFeatureExtractor,
    "motion_extractor": MotionExtractor,
    "warping_module": WarpingNetwork,
    "spade_generator": SPADEDecoder,
    "stitching_retargeting_module": StitchingRetargeting,
}

# Sub-dicts of the official stitching file → our attribute names (the official wrapper's).
_STITCHING_SUBNETS = {
    "retarget_shoulder": "stitching",
    "retarget_mouth": "lip",
    "retarget_eye": "eye",
}
# torch.nn.utils.parametrizations.spectral_norm key tails → old-style names.
_SPECTRAL_RENAMES = {
    "parametrizations.weight.original": "weight_orig",
    "parametrizations.weight.0._u": "weight_u",
    "parametrizations.weight.0._v": "weight_v",
}
_WRAPPER_KEYS = ("state_dict", "model")


class WeightsError(InputError):
    """Weights cannot be used; the message names the file and the key or problem.

    Args:
        path: the weights file (or dir) at fault.
        problem: what is wrong with it; several problems are one per line.
    """


def build_network(name: str) -> nn.Module:
    """Fresh (randomly initialised) network for one checkpoint; use a meta device for shapes."""
    return _FACTORIES[name]()


@functools.cache
def _expected_tensors(name: str) -> dict[str, Tensor]:
    """Key → meta tensor of the state dict `name` must provide (no memory allocated)."""
    with torch.device("meta"):
        return dict(build_network(name).state_dict())


def read_checkpoint(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """Read one weights file safely (.pth via weights_only=True, or .safetensors).

    Raises:
        WeightsError: missing, empty, truncated/corrupt, or a pickle holding anything
            other than tensors and dicts (e.g. code), which is refused, never executed.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "file not found")
    if path.stat().st_size == 0:
        raise WeightsError(path, "file is empty (0 bytes); re-download it")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as e:  # safetensors raises its own error type for bad headers
            raise WeightsError(path, f"not a readable safetensors file ({e})") from e
    with path.open("rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # torch.save's zip format supports mmap
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as e:
        detail = next((ln for ln in str(e).splitlines() if "GLOBAL" in ln), "").strip()
        raise WeightsError(
            path,
            "refused to load: the pickle holds Python objects other than tensors "
            "(possibly code), which torch.load(weights_only=True) rejects"
            + (f" [{detail}]" if detail else "")
            + ". Only use weights from a trusted source.",
        ) from e
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WeightsError(
            path, f"cannot be read; the file looks truncated or corrupt ({reason}). Re-download it."
        ) from e
    if not isinstance(obj, Mapping):
        raise WeightsError(path, f"holds a {type(obj).__name__}, expected a dict of tensors")
    return obj


def _rename(key: str, network: str) -> str:
    parts = [p for p in key.split(".") if p != "module"]  # DataParallel / DDP artefact
    if network == "stitching_retargeting_module" and parts:
        parts[0] = _STITCHING_SUBNETS.get(parts[0], parts[0])
    key = ".".join(parts)
    for old, new in _SPECTRAL_RENAMES.items():
        if key.endswith(old):
            key = key[: -len(old)] + new
    return key


def to_native(raw: Mapping[str, Any], network: str) -> dict[str, Tensor]:
    """Official (or already native) weights of one network → our flat key names.

    Unwraps a lone `state_dict`/`model` wrapper, flattens nested dicts (the stitching file's
    three sub-dicts) with '.', strips `module.`, renames stitching sub-dicts and new-style
    spectral-norm keys, drops `_metadata` and other non-tensor entries, makes BatchNorm
    `num_batches_tracked` int64 scalars and floating tensors float32. Pure and idempotent.
    """
    if not any(isinstance(v, Tensor) for v in raw.values()):
        for wrapper in _WRAPPER_KEYS:
            if isinstance(raw.get(wrapper), Mapping):
                raw = raw[wrapper]
                break
    out: dict[str, Tensor] = {}

    def walk(obj: Mapping[str, Any], prefix: str) -> None:
        for key, value in obj.items():
            if not isinstance(key, str) or key.startswith("_metadata"):
                continue
            if isinstance(value, Mapping):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, Tensor):
                out[_rename(prefix + key, network)] = _normalise(key, value)

    walk(raw, "")
    return out


def _normalise(key: str, value: Tensor) -> Tensor:
    if key.endswith("num_batches_tracked"):
        return value.reshape(()).to(torch.int64) if value.numel() == 1 else value
    return value.float() if value.is_floating_point() else value


def _describe(key: str, network: str) -> str:
    """Our key, plus where it sits in the official file when the names differ."""
    if network == "stitching_retargeting_module":
        sub, _, rest = key.partition(".")
        official = {ours: theirs for theirs, ours in _STITCHING_SUBNETS.items()}.get(sub)
        if official:
            return f"{key!r} (official: '{official}/module.{rest}')"
    return repr(key)


def _problems(state: Mapping[str, Tensor], network: str) -> list[str]:
    """Every missing, unexpected, mis-shaped or non-float tensor, one sentence each."""
    expected = _expected_tensors(network)
    msgs = []
    for key, ref in expected.items():
        name = _describe(key, network)
        if key not in state:
            if not key.endswith("num_batches_tracked"):  # unused in eval; BatchNorm fills it
                msgs.append(f"missing tensor {name}, shape {tuple(ref.shape)}")
        elif tuple(state[key].shape) != tuple(ref.shape):
            msgs.append(
                f"tensor {name} has shape {tuple(state[key].shape)}, expected {tuple(ref.shape)}"
            )
        elif ref.is_floating_point() and not state[key].is_floating_point():
            msgs.append(f"tensor {name} has dtype {state[key].dtype}, expected float")
    msgs += [f"unexpected tensor {_describe(key, network)}" for key in state if key not in expected]
    return msgs


def _missing_file_message(root: Path) -> str:
    listing = "\n".join(f"  {root / rel}" for rel in CHECKPOINT_FILES.values())
    return (
        "missing. Put the official LivePortrait weights (KwaiVGI/LivePortrait, "
        f"pretrained_weights/liveportrait) in this layout:\n{listing}"
    )


def _summary(problems: list[str], limit: int = 12) -> str:
    """Problems one per line, the list cut after `limit` (a wrong file can miss hundreds)."""
    lines = problems[:limit]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    return "\n".join(lines)


def _read_dir_file(root: Path, network: str) -> dict[str, Tensor]:
    path = root / CHECKPOINT_FILES[network]
    if not path.is_file():
        raise WeightsError(path, _missing_file_message(root))
    return to_native(read_checkpoint(path), network)


def _split_safetensors(path: Path) -> dict[str, dict[str, Tensor]]:
    flat = read_checkpoint(path)
    states: dict[str, dict[str, Tensor]] = {name: {} for name in CHECKPOINT_FILES}
    for key, value in flat.items():
        network, _, sub = key.partition(".")
        if network not in states:
            raise WeightsError(path, f"unexpected tensor {key!r} (unknown network {network!r})")
        states[network][sub] = value
    empty = [name for name, state in states.items() if not state]
    if empty:
        raise WeightsError(path, f"no tensors for network(s) {', '.join(empty)}")
    return {name: to_native(state, name) for name, state in states.items()}


def load_weights(path: str | os.PathLike[str]) -> dict[str, dict[str, Tensor]]:
    """Official weights dir or converted .safetensors → {network: native state dict}.

    Shapes are not checked here; `load_into` does that. Raises WeightsError.
    """
    path = Path(path)
    if path.is_dir():
        return {name: _read_dir_file(path, name) for name in CHECKPOINT_FILES}
    if path.suffix == ".safetensors":
        return _split_safetensors(path)
    raise WeightsError(
        path,
        "not found; expected a directory with base_models/ and retargeting_models/ "
        "(the official layout), or a .safetensors file made by `convert_to_safetensors`",
    )


def load_into(module: nn.Module, state: Mapping[str, Tensor], network: str, source: str) -> None:
    """Strictly load `state` into `module` (may live on the meta device: tensors are assigned).

    The tensors are copied into fresh, allocator-aligned memory first: views into a file
    (mmap, safetensors) can be misaligned, and MKL's float32 results depend on alignment, so
    the same weights would otherwise give slightly different outputs per file format.

    Raises:
        WeightsError: naming `source` and every missing, unexpected or mis-shaped key.
    """
    problems = _problems(state, network)
    if problems:
        raise WeightsError(source, _summary(problems))
    fresh = {k: v.clone(memory_format=torch.contiguous_format) for k, v in state.items()}
    module.load_state_dict(fresh, strict=True, assign=True)


def _read_checked_dir(root: Path) -> tuple[dict[str, dict[str, Tensor]], list[str]]:
    """Read every official file of `root` → (states that could be read, all problems)."""
    states: dict[str, dict[str, Tensor]] = {}
    msgs: list[str] = []
    for name, rel in CHECKPOINT_FILES.items():
        try:
            states[name] = _read_dir_file(root, name)
        except WeightsError as e:
            msgs.append(str(e))
            continue
        msgs += [f"{root / rel}: {p}" for p in _problems(states[name], name)]
    return states, msgs


def check_weights(path: str | os.PathLike[str]) -> list[str]:
    """Every problem with a weights dir (or converted .safetensors); [] when all is usable.

    Each entry names the file and the key or problem: missing file, unreadable file,
    missing / unexpected / mis-shaped tensor.
    """
    path = Path(path)
    if path.is_dir():
        return _read_checked_dir(path)[1]
    if path.suffix != ".safetensors":
        return [f"{path}: not a weights directory or a .safetensors file"]
    try:
        states = _split_safetensors(path)
    except WeightsError as e:
        return [str(e)]
    return [f"{path} [{name}]: {p}" for name, s in states.items() for p in _problems(s, name)]


def convert_to_safetensors(
    weights_dir: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> Path:
    """Check the official weights in `weights_dir` and write them as one .safetensors file.

    Keys are `<network>.<native key>`; the file loads with `LivePortraitNet.from_dir(out_path)`
    and holds no pickle. Written to a temporary name first, so a failure leaves no partial file.

    Raises:
        WeightsError: listing every problem found (nothing is written then).
    """
    from safetensors.torch import save_file

    weights_dir, out_path = Path(weights_dir), Path(out_path)
    if not weights_dir.is_dir():
        raise WeightsError(weights_dir, "not a directory with the official weights")
    states, problems = _read_checked_dir(weights_dir)
    if problems:
        raise WeightsError(weights_dir, "cannot convert:\n" + _summary(problems))
    flat = {f"{name}.{key}": t.contiguous() for name, s in states.items() for key, t in s.items()}
    tmp = out_path.with_name(out_path.name + ".tmp")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_file(flat, tmp, metadata={"format": SAFETENSORS_FORMAT, "version": "1"})
    tmp.replace(out_path)
    return out_path
