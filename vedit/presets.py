"""Presets: named defaults for `vedit edit` options, stored as YAML in presets/.

A preset is just data: keys are EditConfig fields (plus the neural engine's settings), unknown
keys are errors, and options given on the command line or in a shot list override it.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from vedit.errors import ConfigError
from vedit.pipeline.config import EditConfig

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"

# Settings that belong to the neural engine, gathered into EditConfig.engine_options.
ENGINE_KEYS = ("weights", "device", "dtype", "batch_size", "motion", "stitching",
               "source_eye_retargeting", "normalize_lip", "mask_template")
# Friendlier spellings accepted in presets, shot lists and on the command line.
RENAMES = {"rotation_limit": "rotation_limit_deg", "motion_mode": "motion",
           "fit": "driving_fit", "retarget_eyes": "source_eye_retargeting"}
_CONFIG_KEYS = {f.name for f in fields(EditConfig)}
_NOT_IN_PRESETS = {"source", "output", "driving", "face_drivings", "frames"}


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str | Path) -> dict[str, Any]:
    """A preset's options, by name (presets/NAME.yaml) or path to a YAML file.

    Raises:
        ConfigError: unknown preset, unreadable YAML, or keys that are not edit options.
    """
    path = Path(name)
    if path.suffix.lower() not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(path, f"unknown preset {str(name)!r} (available: "
                                f"{', '.join(available_presets())})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "a preset must be a mapping of option: value")
    data.pop("description", None)
    return normalise_options(data, path)


def normalise_options(options: dict[str, Any], origin: str | Path | None = None
                      ) -> dict[str, Any]:
    """Apply renames and check every key is a known edit option."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        key = RENAMES.get(key.replace("-", "_"), key.replace("-", "_"))
        if key not in _CONFIG_KEYS and key not in ENGINE_KEYS:
            raise ConfigError(origin, f"unknown option {key!r}")
        if key in _NOT_IN_PRESETS and origin is not None and str(origin).endswith(".yaml"):
            raise ConfigError(origin, f"{key!r} cannot be set by a preset")
        out[key] = value
    return out


def build_edit_config(*, preset: str | Path | None = None, **options: Any) -> EditConfig:
    """EditConfig from a preset's defaults overridden by explicit options.

    The neural engine's settings (weights, device, dtype, batch_size, motion) go into
    engine_options; giving weights without an engine selects the liveportrait engine.
    """
    merged: dict[str, Any] = dict(load_preset(preset)) if preset else {}
    merged.update(normalise_options({k: v for k, v in options.items() if v is not None}))
    engine_options = dict(merged.pop("engine_options", {}) or {})
    for key in ENGINE_KEYS:
        if key in merged:
            engine_options[key] = merged.pop(key)
    if "weights" in engine_options and "engine" not in merged:
        merged["engine"] = "liveportrait"
    if engine_options and merged.get("engine", "embedded") == "embedded":
        raise ConfigError(None, f"options {', '.join(sorted(engine_options))} are for the "
                                "liveportrait engine (add --engine liveportrait --weights DIR)")
    if "tracker_options" in merged and merged["tracker_options"] is None:
        merged.pop("tracker_options")
    return EditConfig(engine_options=engine_options, **merged)
