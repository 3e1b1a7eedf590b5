"""LivePortrait networks (F, M, W, G, S/R), weight-compatible with the official checkpoints."""

from .checkpoint import WeightsError, check_weights, convert_to_safetensors
from .net import LivePortraitNet

__all__ = ["LivePortraitNet", "WeightsError", "check_weights", "convert_to_safetensors"]
