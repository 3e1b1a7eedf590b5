"""Loading the official weights: adapting, strict checks, clear errors, safetensors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from vedit.errors import InputError
from vedit.models.liveportrait import (
    LivePortraitNet,
    WeightsError,
    check_weights,
    convert_to_safetensors,
)
from vedit.models.liveportrait.checkpoint import (
    CHECKPOINT_FILES,
    build_network,
    load_into,
    read_checkpoint,
    to_native,
)

STITCH = CHECKPOINT_FILES["stitching_retargeting_module"]
APPEARANCE = CHECKPOINT_FILES["appearance_feature_extractor"]
MOTION = CHECKPOINT_FILES["motion_extractor"]


def _weights_dir(good: Path, root: Path, **replace: bytes | None) -> Path:
    """A weights dir linking to `good`'s files, except `replace` (rel path → bytes, None = absent).

    Keyword names are network names, e.g. motion_extractor=b"...".
    """
    root.mkdir()
    for name, rel in CHECKPOINT_FILES.items():
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if name not in replace:
            dst.symlink_to(good / rel)
        elif replace[name] is not None:
            dst.write_bytes(replace[name])
    return root


def _saved(obj: object, path: Path) -> bytes:
    torch.save(obj, path)
    return path.read_bytes()


class _RunsShell:
    """Unpickling this would run a shell command (the classic malicious checkpoint)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# --------------------------------------------------------------------- good weights


def test_check_weights_is_clean_on_official_layout(lp_weights: Path) -> None:
    assert check_weights(lp_weights) == []


def test_official_stitching_file_is_flattened_and_renamed(lp_weights: Path) -> None:
    raw = read_checkpoint(lp_weights / STITCH)
    assert set(raw) == {"retarget_shoulder", "retarget_mouth", "retarget_eye"}
    native = to_native(raw, "stitching_retargeting_module")
    assert "eye.mlp.10.bias" in native and "stitching.mlp.6.weight" in native
    assert not any("module" in k or "retarget" in k for k in native)
    assert torch.equal(native["lip.mlp.0.weight"], raw["retarget_mouth"]["module.mlp.0.weight"])


def test_to_native_unwraps_strips_and_is_idempotent() -> None:
    w = torch.randn(4, 3)
    raw = {
        "state_dict": {
            "module.first.conv.weight": w,
            "module.first.norm.num_batches_tracked": torch.tensor([7.0]),
            "_metadata": {"": {"version": 1}},
            "G.conv_0.parametrizations.weight.original": w.half(),
        },
    }
    native = to_native(raw, "appearance_feature_extractor")
    assert set(native) == {
        "first.conv.weight",
        "first.norm.num_batches_tracked",
        "G.conv_0.weight_orig",
    }
    assert native["first.norm.num_batches_tracked"].dtype == torch.int64
    assert native["first.norm.num_batches_tracked"].shape == ()
    assert native["G.conv_0.weight_orig"].dtype == torch.float32
    again = to_native(native, "appearance_feature_extractor")
    assert set(again) == set(native)
    assert all(torch.equal(again[k], native[k]) for k in native)


def test_num_batches_tracked_may_be_absent(lp_weights: Path) -> None:
    state = to_native(read_checkpoint(lp_weights / APPEARANCE), "appearance_feature_extractor")
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    with torch.device("meta"):
        module = build_network("appearance_feature_extractor")
    load_into(module, state, "appearance_feature_extractor", "appearance")
    assert module.first.norm.num_batches_tracked.item() == 0
    assert torch.equal(module.first.conv.weight, state["first.conv.weight"])


# --------------------------------------------------------------------- rejected weights


def test_missing_file_says_where_official_files_go(lp_weights: Path, tmp_path: Path) -> None:
    wdir = _weights_dir(lp_weights, tmp_path / "w", stitching_retargeting_module=None)
    with pytest.raises(WeightsError) as err:
        LivePortraitNet.from_dir(wdir)
    msg = str(err.value)
    assert str(wdir / STITCH) in msg and "missing" in msg
    assert str(wdir / "base_models" / "motion_extractor.pth") in msg  # the layout is spelled out
    assert isinstance(err.value, InputError)
    problems = check_weights(wdir)
    assert len(problems) == 1 and str(wdir / STITCH) in problems[0]


def test_truncated_pth_is_named(lp_weights: Path, tmp_path: Path) -> None:
    data = (lp_weights / APPEARANCE).read_bytes()
    wdir = _weights_dir(
        lp_weights, tmp_path / "w", appearance_feature_extractor=data[: len(data) // 2]
    )
    with pytest.raises(WeightsError, match="truncated or corrupt") as err:
        LivePortraitNet.from_dir(wdir)
    assert str(wdir / APPEARANCE) in str(err.value)
    assert any(str(wdir / APPEARANCE) in p and "truncated" in p for p in check_weights(wdir))


def test_wrong_shape_missing_and_unexpected_keys_are_named(
    lp_weights: Path, tmp_path: Path
) -> None:
    raw = read_checkpoint(lp_weights / STITCH)
    eye = dict(raw["retarget_eye"])
    eye["module.mlp.0.weight"] = torch.zeros(256, 65)  # official: (256, 66)
    del eye["module.mlp.10.bias"]
    eye["module.mlp.12.weight"] = torch.zeros(3, 3)
    bad = _saved({**raw, "retarget_eye": eye}, tmp_path / "stitch.pth")
    wdir = _weights_dir(lp_weights, tmp_path / "w", stitching_retargeting_module=bad)

    problems = check_weights(wdir)
    assert len(problems) == 3, problems
    assert all(p.startswith(str(wdir / STITCH)) for p in problems)
    shape = next(p for p in problems if "shape" in p)
    assert "retarget_eye/module.mlp.0.weight" in shape
    assert "(256, 65)" in shape and "(256, 66)" in shape
    assert any("missing" in p and "retarget_eye/module.mlp.10.bias" in p for p in problems)
    assert any("unexpected" in p and "eye.mlp.12.weight" in p for p in problems)

    with pytest.raises(WeightsError) as err:
        LivePortraitNet.from_dir(wdir)
    assert str(wdir / STITCH) in str(err.value) and "eye.mlp.0.weight" in str(err.value)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on plain pickles
def test_malicious_pickle_is_refused_not_run(lp_weights: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = _saved({"detector.norm.weight": _RunsShell(marker)}, tmp_path / "evil.pth")
    wdir = _weights_dir(lp_weights, tmp_path / "w", motion_extractor=evil)
    with pytest.raises(WeightsError, match="refused") as err:
        LivePortraitNet.from_dir(wdir)
    assert str(wdir / MOTION) in str(err.value)
    assert "posix.system" in str(err.value) or "system" in str(err.value)
    assert not marker.exists()

    legacy = tmp_path / "legacy.pth"  # a plain pickle, not torch's zip container
    legacy.write_bytes(pickle.dumps({"w": _RunsShell(marker)}))
    with pytest.raises(WeightsError, match="refused") as err:
        read_checkpoint(legacy)
    assert str(legacy) in str(err.value)
    assert not marker.exists()


def test_empty_and_unknown_paths(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pth"
    empty.touch()
    with pytest.raises(WeightsError, match="empty"):
        read_checkpoint(empty)
    not_a_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], not_a_dict)
    with pytest.raises(WeightsError, match="expected a dict of tensors"):
        read_checkpoint(not_a_dict)
    with pytest.raises(WeightsError, match="not found"):
        LivePortraitNet.from_dir(tmp_path / "nowhere")
    assert check_weights(tmp_path / "nowhere.bin")


def test_convert_refuses_bad_weights_and_writes_nothing(lp_weights: Path, tmp_path: Path) -> None:
    wdir = _weights_dir(lp_weights, tmp_path / "w", warping_module=None)
    out = tmp_path / "lp.safetensors"
    with pytest.raises(WeightsError, match=r"warping_module\.pth"):
        convert_to_safetensors(wdir, out)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


# --------------------------------------------------------------------- safetensors


def test_safetensors_round_trip_gives_identical_outputs(
    lp_weights: Path, lp_net: LivePortraitNet, lp_golden: dict[str, np.ndarray], tmp_path: Path
) -> None:
    out = convert_to_safetensors(lp_weights, tmp_path / "lp.safetensors")
    assert check_weights(out) == []
    st = LivePortraitNet.from_dir(out)

    ref_state, st_state = lp_net.state_dict(), st.state_dict()
    assert ref_state.keys() == st_state.keys()
    assert all(torch.equal(ref_state[k], st_state[k]) for k in ref_state)
    fold = st.spade_generator.G_middle_0.conv_0.weight  # non-persistent, refolded on load
    assert torch.equal(fold, lp_net.spade_generator.G_middle_0.conv_0.weight)

    img = torch.from_numpy(lp_golden["in.src_img"][:1])
    for key, value in lp_net.motion(img).items():
        assert torch.equal(value, st.motion(img)[key]), key
    xs, xd = torch.from_numpy(lp_golden["tk.src.out"]), torch.from_numpy(lp_golden["tk.drv.out"])
    assert torch.equal(lp_net.stitch(xs, xd), st.stitch(xs, xd))

    # a spatially small warp_decode (32x32 feature grid) exercises W and G cheaply
    feat = lp_net.appearance_features(torch.nn.functional.avg_pool2d(img, 2))
    assert feat.shape == (1, 32, 16, 32, 32)
    a, b = lp_net.warp_decode(feat, xs[:1], xd[:1]), st.warp_decode(feat, xs[:1], xd[:1])
    assert a["out"].shape == (1, 3, 256, 256)
    assert all(torch.equal(a[k], b[k]) for k in a)
