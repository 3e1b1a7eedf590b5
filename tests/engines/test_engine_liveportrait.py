"""Issue 7: the neural engine in the pipeline, on the reference kit's stand-in weights.

CPU W+G costs seconds per frame here, so end-to-end runs render a few frames; the full-length
figures are bench/neural_pipeline.py's.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from support import decoded_planes

from vedit.composite.mask import paste_back
from vedit.engines import create_engine
from vedit.engines.liveportrait import (
    LIP_KEYPOINTS,
    crop_for_network,
    eye_ratios,
    lip_ratio,
    official_expression_mask,
    paste_mask,
)
from vedit.faces import ShotTracks, track_frames
from vedit.io import open_video, probe
from vedit.motion import MotionOptions, compose
from vedit.pipeline.config import EditConfig
from vedit.pipeline.edit import edit

FRAMES = 1


@pytest.fixture(scope="module")
def engine(lp_weights):
    return create_engine("liveportrait", weights=lp_weights, batch_size=2)


@pytest.fixture(scope="module")
def d0_faces(media):
    frames = []
    with open_video(media / "d0.mp4") as r:
        for f in r:
            frames.append(f.rgb())
            if len(frames) == 4:
                break
    faces = [fs[0] for fs in track_frames(frames)]
    return frames, faces


def test_end_to_end_ffv1_deterministic_and_untouched_outside(media, tmp_path, lp_weights,
                                                           short_driving):
    src = media / "s18.mp4"
    outs = []
    for k in range(2):
        out = tmp_path / f"nn{k}.mp4"
        result = edit(EditConfig(source=src, driving=short_driving, output=out,
                                 codec="ffv1", engine="liveportrait",
                                 engine_options={"weights": lp_weights, "batch_size": 2},
                                 frames=(0, FRAMES)))
        assert result.frames == FRAMES and result.faces == [0]
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes(), "two runs differ"
    info = probe(outs[0])
    assert info.video.fps == probe(src).video.fps
    assert info.audio, "audio dropped"
    a, b = decoded_planes(src)[:FRAMES], decoded_planes(outs[0])
    changed_any = False
    for (_, _, pa), (_, _, pb) in zip(a, b, strict=True):
        ya = np.frombuffer(pa[0], np.uint8).reshape(720, 1280)
        yb = np.frombuffer(pb[0], np.uint8).reshape(720, 1280)
        diff = ya != yb
        changed_any |= diff.any()
        rows, cols = np.nonzero(diff)
        # everything outside the pasted-back crop (a face-centred square) is bit-identical
        assert cols.min() > 200 and cols.max() < 1100 and rows.max() < 720
        assert (ya[:, :200] == yb[:, :200]).all() and (ya[:, 1100:] == yb[:, 1100:]).all()
    assert changed_any


def test_two_faces_end_to_end(media, tmp_path, lp_weights, short_driving):
    out = tmp_path / "two.mp4"
    result = edit(EditConfig(source=media / "two_faces.mp4",
                             face_drivings={0: short_driving, 1: short_driving},
                             output=out, codec="ffv1", engine="liveportrait",
                             engine_options={"weights": lp_weights}, frames=(0, 1)))
    assert result.faces == [0, 1] and result.animated_frames == {0: 1, 1: 1}
    assert probe(out).video.frame_count == 1


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_self_reenactment_gives_back_the_source(d0_faces, lp_weights, mode):
    """Driving = source (its own reference): Eq. 8 in either mode returns the source's
    keypoints exactly, on real network motion."""
    eng = create_engine("liveportrait", weights=lp_weights, motion=mode)
    frames, faces = d0_faces
    motions = eng.motion(frames, faces)
    conv = eng.motion_conventions()
    opts = MotionOptions(expression_mask=eng.expression_mask("all"),
                         transfer_scale=conv.get("transfer_scale", True),
                         transfer_translation=conv.get("transfer_translation", True))
    for m in motions:
        np.testing.assert_allclose(compose(m, m, m, opts), m.keypoints(), atol=1e-12)


def test_lip_region_moves_only_lip_keypoints(d0_faces, engine):
    frames, faces = d0_faces
    src, drv0, drv = engine.motion(frames[:3], faces[:3])
    opts = MotionOptions(region="lip", expression_mask=engine.expression_mask("lip"))
    moved = np.abs(compose(src, drv, drv0, opts) - src.keypoints()).sum(axis=1) > 0
    assert moved.any()
    assert set(np.nonzero(moved)[0]) <= set(LIP_KEYPOINTS)


def test_official_mask_is_the_documented_subset():
    mask = official_expression_mask()
    assert mask[[1, 2, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]].all()
    assert mask[3].tolist() == [False, True, False] and mask[4].tolist() == [False, True, False]
    assert mask[5].tolist() == [False, False, True] and mask[8].tolist() == [False, False, True]
    assert mask[9].tolist() == [False, True, True]
    assert not mask[[0, 7, 10]].any()


def _mlp(state: dict, prefix: str, x: torch.Tensor) -> torch.Tensor:
    """An MLP evaluated straight from checkpoint tensors (ARCHITECTURE.md section 5)."""
    layers = sorted({int(k.split(".")[-2]) for k in state if k.startswith(prefix)})
    for n, idx in enumerate(layers):
        x = x @ state[f"{prefix}{idx}.weight"].T + state[f"{prefix}{idx}.bias"]
        if n < len(layers) - 1:
            x = torch.relu(x)
    return x


@pytest.mark.parametrize("retarget", [False, True])
def test_stitching_and_retargeting_follow_the_official_order(d0_faces, lp_weights, retarget):
    """Independent check of the order, from ARCHITECTURE.md's formulas evaluated on the raw
    checkpoint tensors: render == W+G(F, x_s, S(x_s, Eq8) + R_eye(x_s, ratios) + R_lip(...))."""
    engine = create_engine("liveportrait", weights=lp_weights, source_eye_retargeting=retarget,
                           normalize_lip=retarget)
    raw = torch.load(lp_weights / "retargeting_models" / "stitching_retargeting_module.pth",
                     map_location="cpu", weights_only=True)
    state = {name: {k.replace("module.", ""): v for k, v in sub.items()}
             for name, sub in raw.items()}
    frames, faces = d0_faces
    engine.prepare_shot(ShotTracks.from_observations([[f] for f in faces], 512, 512, None),
                        lambda i: frames[i])
    src, drv0, drv = engine.motion(frames[:3], faces[:3])
    target = compose(src, drv, drv0, MotionOptions(expression_mask=engine.expression_mask("all")))
    xs = torch.tensor(src.keypoints()[None], dtype=torch.float32)
    xd = torch.tensor(target[None], dtype=torch.float32)
    flat = xs.reshape(1, -1)
    delta = _mlp(state["retarget_shoulder"], "mlp.", torch.cat([flat, xd.reshape(1, -1)], 1))
    expected_kp = xd + delta[:, :63].reshape(1, 21, 3)
    expected_kp[..., :2] += delta[:, 63:65].reshape(1, 1, 2)
    if retarget:
        a, b = eye_ratios(faces[0].landmarks)
        first = float(np.mean(eye_ratios(faces[0].landmarks)))
        goal = first if first >= 0.18 else 0.39
        eye_in = torch.tensor([[a, b, goal]], dtype=torch.float32)
        expected_kp += _mlp(state["retarget_eye"], "mlp.", torch.cat([flat, eye_in], 1)
                            ).reshape(1, 21, 3)
        lip = lip_ratio(faces[0].landmarks)
        if lip >= 0.03:
            lip_in = torch.tensor([[lip, 0.0]], dtype=torch.float32)
            expected_kp += _mlp(state["retarget_mouth"], "mlp.", torch.cat([flat, lip_in], 1)
                                ).reshape(1, 21, 3)
    crop = torch.from_numpy(crop_for_network(frames[0], faces[0]).astype(np.float32) / 255)
    img = crop.permute(2, 0, 1)[None]
    with torch.inference_mode():
        out = engine.net.warp_decode(engine.net.appearance_features(img), xs, expected_kp)["out"]
    expected = np.rint(out[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    patch = engine.render([frames[0]], [faces[0]], [src], [target])[0]
    reference = paste_back(expected, faces[0].crop.crop_to_frame, frames[0], paste_mask(512))
    assert (patch.x0, patch.y0) == (reference.x0, reference.y0)
    assert np.abs(patch.rgb.astype(int) - reference.rgb.astype(int)).max() <= 1
    np.testing.assert_array_equal(patch.alpha, reference.alpha)
