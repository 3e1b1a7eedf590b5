"""Engines behind one interface (vedit.engines.base.Engine), made by name.

"embedded": MediaPipe landmarks as explicit keypoints, a dense warp; no downloads, CPU.
"liveportrait": the LivePortrait networks with the user's official weights (torch).
"""
from __future__ import annotations

import importlib
from typing import Any

from vedit.engines.base import ENGINES, REGIONS, Engine, EngineError, FacePatch, register
from vedit.errors import ConfigError

# engine name -> module that registers it (imported only when asked for: torch is heavy)
_MODULES = {"embedded": "vedit.engines.embedded", "liveportrait": "vedit.engines.liveportrait"}


def available_engines() -> list[str]:
    return sorted(_MODULES)


def engine_uses_accelerator(name: str, options: dict[str, Any]) -> bool:
    """Whether engine `name` made with `options` would run on a GPU (see Engine)."""
    if name not in _MODULES:
        return False
    importlib.import_module(_MODULES[name])
    return ENGINES[name].uses_accelerator(dict(options))


def create_engine(name: str, **options: Any) -> Engine:
    """Build an engine by name.

    Raises:
        ConfigError: unknown engine name or options it does not take.
    """
    if name not in _MODULES:
        raise ConfigError(None, f"unknown engine {name!r} (choose one of: "
                                f"{', '.join(available_engines())})")
    importlib.import_module(_MODULES[name])
    cls = ENGINES[name]
    try:
        return cls(**options) if options else cls()
    except TypeError as exc:
        raise ConfigError(None, f"engine {name!r}: {exc}") from None


__all__ = ["ENGINES", "REGIONS", "Engine", "EngineError", "FacePatch", "available_engines",
           "create_engine", "engine_uses_accelerator", "register"]
