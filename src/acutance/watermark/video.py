"""Reading a watermark from a video: every excerpt of ``window_seconds`` is decoded on its own.

Every frame carries the same mark at the same place, so the folds of a window's frames add up
(``core.detect_many``): frames too degraded to read alone (CRF 28, 480p) are read together. Each window gets
its own answer, so an excerpt cut from anywhere in the clip can be traced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from acutance.errors import OptionError
from acutance.watermark.core import MIN_SIZE, Detection, detect_many

FRAMES_PER_WINDOW = 48  # frames sampled evenly from each window: every frame of 2 s at 24 fps


@dataclass(frozen=True)
class Window:
    start: float  # seconds
    end: float
    frames: int  # frames looked at
    detection: Detection


def detect_video(path: str | os.PathLike, key: str | int, window_seconds: float = 2.0) -> list[Window]:
    """The mark of ``key`` in each ``window_seconds`` excerpt of the video at ``path``."""
    from acutance.video.enhance import _decoded_frames
    from acutance.video.frames import frame_to_rgb
    from acutance.video.probe import probe

    info = probe(Path(path))  # VideoReadError for a missing file, no video stream, a corrupt header
    if min(info.width, info.height) < MIN_SIZE:
        raise OptionError(f"{path}: frames of {info.width}x{info.height} are too small for a watermark "
                          f"(the minimum is {MIN_SIZE}x{MIN_SIZE})")  # fmt: skip
    per_window = max(1, round(window_seconds / info.frame_seconds))
    windows: list[Window] = []
    batch: list = []
    first = 0

    def flush(end_index: int) -> None:
        if not batch:
            return
        step = max(1, len(batch) // FRAMES_PER_WINDOW)
        chosen = batch[::step][:FRAMES_PER_WINDOW]
        windows.append(Window(first * info.frame_seconds, end_index * info.frame_seconds, len(chosen),
                              detect_many(chosen, key)))  # fmt: skip

    index = 0
    for index, frame in _decoded_frames(info):
        if index - first == per_window:
            flush(index)
            batch, first = [], index
        if (index - first) % max(1, per_window // FRAMES_PER_WINDOW) == 0:
            batch.append(frame_to_rgb(frame, info.colorspace, info.color_range))
    flush(index + 1)
    return windows


class _MarkStage:
    """The ``watermark`` stage of ``acutance video``: the same mark at the same place on every frame. Static,
    so it adds no flicker, and a detector adds up the frames of any excerpt."""

    needs_history = False

    def __init__(self, payload: bytes, key: str, strength: float) -> None:
        from acutance.watermark import embed

        self._embed, self.payload, self.key, self.strength = embed, payload, key, strength

    def __call__(self, index: int, source, frame):
        return self._embed(frame, self.payload, self.key, self.strength)


def build_stage(params: dict, context) -> _MarkStage:
    """Check a video's watermark request before any frame: payload ``bits`` (hex), ``key``, ``strength``."""
    from acutance.watermark.payload import profile_for

    if not params.get("key"):
        raise OptionError("--watermark needs --watermark-key")
    payload = bytes.fromhex(params["bits"])
    profile_for(payload)  # too long: one line before any frame
    strength = float(params.get("strength", 1.0))
    if not 0 < strength <= 10:
        raise OptionError(f"--watermark-strength must be in (0, 10], got {strength}")
    if min(context.width, context.height) < MIN_SIZE:
        raise OptionError(f"{context.width}x{context.height} frames are too small for a watermark "
                          f"(the minimum is {MIN_SIZE}x{MIN_SIZE})")  # fmt: skip
    return _MarkStage(payload, params["key"], strength)
