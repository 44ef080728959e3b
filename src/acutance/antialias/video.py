"""The ``antialias`` video stage (``acutance video --post antialias``): the chosen method on every output frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class _AntialiasStage:
    apply: Callable[[np.ndarray], np.ndarray]
    needs_history: bool = False  # each frame on its own

    def __call__(self, index: int, source, frame: np.ndarray) -> np.ndarray:
        return np.clip(self.apply(frame), 0.0, 1.0)

    def observe(self, index: int, source) -> None:  # pragma: no cover  (no history)
        pass


def build_stage(params: dict, context) -> _AntialiasStage:
    """``params``: ``method`` (aa-x1, fxaa or blur; default aa-x1). Checked, and the model loaded, before any frame."""
    from acutance.antialias.api import method_function

    return _AntialiasStage(method_function(str(params.get("method", "aa-x1"))))
