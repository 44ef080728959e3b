"""Reading a watermark from a video: every excerpt of ``window_seconds`` is decoded on its own.

Every frame carries the same mark at the same place, so the folds of a window's frames add up
(``core.detect_residuals``): frames too degraded to read alone (CRF 28, 480p) are read together. Each window
gets its own answer, so an excerpt cut from anywhere in the clip can be traced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from acutance.errors import OptionError
from acutance.watermark.core import MIN_SIZE, Detection, detect_residuals, residual_of

FRAMES_PER_WINDOW = 48  # frames sampled evenly from each window: every frame of 2 s at 24 fps
WINDOW_BYTES = 256 << 20  # the residuals one window keeps; fewer frames of large videos (each has more tiles)


@dataclass(frozen=True)
class Window:
    start: float  # seconds
    end: float
    frames: int  # frames looked at
    detection: Detection


def detect_video(path: str | os.PathLike, key: str | int, window_seconds: float = 2.0) -> list[Window]:
    """The mark of ``key`` in each ``window_seconds`` excerpt of the video at ``path``.

    The windows follow one another from the start; the last one ends at the clip's end and is as long as the
    others (it overlaps the one before), so no excerpt is read from a short remnant. A clip shorter than a
    window is one window. Memory: the residuals of at most one window's sampled frames (``WINDOW_BYTES``).
    """
    from collections import deque

    from acutance.video.enhance import _decoded_frames
    from acutance.video.frames import frame_to_rgb
    from acutance.video.probe import probe

    info = probe(Path(path))  # VideoReadError for a missing file, no video stream, a corrupt header
    if min(info.width, info.height) < MIN_SIZE:
        raise OptionError(f"{path}: frames of {info.width}x{info.height} are too small for a watermark "
                          f"(the minimum is {MIN_SIZE}x{MIN_SIZE})")  # fmt: skip
    per_window = max(1, round(window_seconds / info.frame_seconds))
    samples = max(2, min(FRAMES_PER_WINDOW, WINDOW_BYTES // (4 * info.width * info.height)))
    stride = max(1, -(-per_window // samples))
    recent: deque = deque()  # (frame index, residual) of the sampled frames of the last per_window frames
    windows: list[Window] = []

    def read(first: int, end: int) -> None:
        chosen = [r for i, r in recent if first <= i < end]
        windows.append(Window(first * info.frame_seconds, end * info.frame_seconds, len(chosen),
                              detect_residuals(chosen, key)))  # fmt: skip

    count = 0
    for index, frame in _decoded_frames(info):
        count = index + 1
        while recent and recent[0][0] <= index - per_window:
            recent.popleft()
        if index % stride == 0:
            recent.append((index, residual_of(frame_to_rgb(frame, info.colorspace, info.color_range))))
        if count % per_window == 0:
            read(count - per_window, count)
    if count % per_window or not windows:
        read(max(0, count - per_window), count)
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
