"""The Engine interface: what turns source + driving motion into re-animated face pixels.

An engine owns three things: how it reads a face's motion from a picture (keypoints), which
keypoint entries a region (lip, eyes, ...) moves, and how it renders a face whose keypoints
were moved. Motion composition (Eq. 8) is NOT an engine's business: it lives in vedit.motion
and is shared, so both engines follow a driving performance by exactly the same rule.
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from vedit.errors import VeditError
from vedit.faces.types import FaceObservation

if TYPE_CHECKING:
    from vedit.faces.shot import ShotTracks
from vedit.motion.types import KeypointMotion

REGIONS = ("all", "exp", "pose", "lip", "eyes")


class EngineError(VeditError):
    """An engine cannot run (missing weights, unsupported device, ...)."""

    def __init__(self, problem: str, path: str | None = None) -> None:
        super().__init__(path, problem)


@dataclass(frozen=True)
class FacePatch:
    """A re-animated face, ready to composite into its frame.

    Attributes:
        x0, y0: top-left corner of the patch in frame pixels (may be clipped to the frame).
        rgb: (h, w, 3) uint8 RGB pixels of the re-animated face region.
        alpha: (h, w) float32 in [0, 1]; 0 leaves the frame pixel exactly as it was.
    """

    x0: int
    y0: int
    rgb: np.ndarray
    alpha: np.ndarray

    def __post_init__(self) -> None:
        h, w = self.alpha.shape
        if self.rgb.shape != (h, w, 3):
            raise ValueError(f"rgb {self.rgb.shape} does not match alpha {self.alpha.shape}")


class Engine(abc.ABC):
    """Re-animates faces. Implementations register under a class-level `name`."""

    name: ClassVar[str]

    @classmethod
    def uses_accelerator(cls, options: dict[str, Any]) -> bool:
        """Whether an engine made with `options` would compute on a GPU (or similar): the
        pipeline then overlaps CPU stages with it even where it otherwise would not."""
        return False

    @abc.abstractmethod
    def motion(
        self, frames: Sequence[np.ndarray], faces: Sequence[FaceObservation]
    ) -> list[KeypointMotion]:
        """Motion of each face; frames[i] is (H, W, 3) uint8 RGB and holds faces[i]."""

    @abc.abstractmethod
    def expression_mask(self, region: str) -> np.ndarray:
        """(K, 3) bool: the expression entries that `region` transfers from the driving."""

    @abc.abstractmethod
    def render(
        self,
        frames: Sequence[np.ndarray],
        faces: Sequence[FaceObservation],
        sources: Sequence[KeypointMotion],
        targets: Sequence[np.ndarray],
    ) -> list[FacePatch]:
        """Draw each face with its keypoints moved from sources[i].keypoints() to targets[i]."""

    def prepare_shot(self, shot: ShotTracks, frame_at: Callable[[int], np.ndarray]) -> None:  # noqa: B027
        """Optional per-shot preparation before any frame is rendered.

        Args:
            shot: every face track of the whole shot (also when only a chunk is rendered).
            frame_at: returns source frame i as (H, W, 3) uint8 RGB (decodes on demand).

        Whatever an engine learns here must depend only on the whole shot, never on which
        frames were rendered before: chunks of a shot rendered apart must join into exactly
        the unchunked result.
        """

    def motion_conventions(self) -> dict:
        """Motion settings this engine's mode implies (smoothing, transfer_scale, ...)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, GPU memory)."""


ENGINES: dict[str, type[Engine]] = {}


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine available by its `name`."""
    ENGINES[cls.name] = cls
    return cls
