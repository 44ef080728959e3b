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
