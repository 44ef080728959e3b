"""The ``pre-encode`` stage of ``acutance video``: sharpen every frame at a fixed level, or at a level chosen
per scene (``auto``) from the scene's first frame, so the encoder gets more quality per bit.

``auto`` decides causally: a cut detector watches the decoded input frames, and at each new scene the chooser
picks a level from that frame's frequency features; the level holds until the next cut. The decision uses the
input frame (``source``), not the model's output, so a resumed run, which replays the finished segments'
input frames through :meth:`observe`, reaches the same decisions.
"""

from __future__ import annotations

import time

from acutance.errors import OptionError
from acutance.preencode.levels import check_level, sharpen
from acutance.preencode.scenes import MIN_SCENE_FRAMES, CutDetector

AUTO = "auto"


def check_clip_frames(frames: int | None) -> None:
    """A clip too short for scene analysis is refused for ``auto`` (an unknown count is let through)."""
    if frames and frames < MIN_SCENE_FRAMES:
        raise OptionError(f"--pre-encode auto needs at least {MIN_SCENE_FRAMES} frames for scene analysis, "
                          f"the clip has {frames}; give a fixed level (--pre-encode 0..5)")  # fmt: skip


class FixedStage:
    needs_history = False

    def __init__(self, level: int) -> None:
        self.level = level

    def __call__(self, index: int, source, frame):
        return sharpen(frame, self.level)


class AutoStage:
    needs_history = True

    def __init__(self, chooser) -> None:
        self.chooser = chooser
        self.detector = CutDetector()
        self.level = 0
        self.scenes: list[tuple[int, int]] = []  # (first frame, level) of every scene seen
        self.analysis_seconds = 0.0  # the chooser's own cost (cut detection, features), for the benchmark

    def observe(self, index: int, source) -> None:
        started = time.perf_counter()
        if self.detector(source):
            from acutance.preencode.features import frame_features

            self.level = self.chooser.choose(frame_features(source))
            self.scenes.append((index, self.level))
        self.analysis_seconds += time.perf_counter() - started

    def __call__(self, index: int, source, frame):
        self.observe(index, source)
        return sharpen(frame, self.level)


def build_stage(params: dict, context):
    """``level``: ``"auto"`` or 0..5 (see :mod:`acutance.preencode.levels`); ``chooser``: an optional path."""
    unknown = set(params) - {"level", "chooser"}
    if unknown:
        raise OptionError(f"the pre-encode stage takes level (and chooser), not {', '.join(sorted(unknown))}")
    level = params.get("level", AUTO)
    if level == AUTO:
        from acutance.preencode.chooser import WEIGHTS, Chooser

        return AutoStage(Chooser.load(params.get("chooser") or WEIGHTS))
    if isinstance(level, str) and level.strip().isdigit():
        level = int(level)
    return FixedStage(check_level(level))
