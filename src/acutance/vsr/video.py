"""A sequence model in ``acutance video``'s resumable segments: each segment gets its own stream, started
from a reset state ``WARMUP`` frames before the segment (their outputs dropped) and fed one frame past its
end (the look-ahead), so every segment's frames depend only on the input frames, never on where a run
stopped: a resumed run makes the frames an uninterrupted one makes. At most three streams are alive at a
time (the segment, the next one's warm-up, the previous one's last look-ahead): memory stays constant.
"""

from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from acutance.vsr.runtime import WARMUP, Stream

LOOKAHEAD = 1


class SegmentedStreams:
    """``push(index, frame)`` (every frame some unfinished segment needs, in order) -> ``[(index, out)]``
    ready, in order; ``finish()`` -> the rest. ``done``: the finished segments (never computed again)."""

    def __init__(self, model, per: int, done: set[int], notice: Callable[[str], None] | None = None,
                 warmup: int = WARMUP) -> None:  # fmt: skip
        self.model, self.per, self.done, self.warmup = model, per, set(done), warmup
        self.streams: dict[int, Stream] = {}
        self._told: set = set()
        self._notice = notice or (lambda text: print(f"acutance: note: {text}", file=sys.stderr))

    def segments_of(self, index: int) -> list[int]:
        """The segments whose stream is fed frame ``index``: its own, the next one while warming up, and the
        previous one (its look-ahead frame)."""
        per = self.per
        first, last = max(0, (index - per) // per), (index + self.warmup) // per
        return [k for k in range(first, last + 1) if max(0, k * per - self.warmup) <= index <= (k + 1) * per - 1 + LOOKAHEAD]

    def needs(self, index: int) -> bool:
        """Whether a frame of a finished segment is still needed (warm-up or look-ahead of another)."""
        return any(k not in self.done for k in self.segments_of(index))

    def push(self, index: int, frame: np.ndarray) -> list[tuple[int, np.ndarray]]:
        ready = []
        for k in self.segments_of(index):
            if k in self.done:
                continue
            stream = self.streams.get(k)
            if stream is None:
                stream = self.streams[k] = self.model.stream(notice=self._tell)
            ready += self._mine(k, stream.push(index, frame))
            if index == (k + 1) * self.per - 1 + LOOKAHEAD:  # its last frame is out: the stream is done
                del self.streams[k]
        return ready

    def finish(self) -> list[tuple[int, np.ndarray]]:
        ready = []
        for k in sorted(self.streams):
            ready += self._mine(k, self.streams.pop(k).flush())
        return ready

    def _mine(self, k: int, outputs) -> list[tuple[int, np.ndarray]]:
        return [(i, out) for i, out in outputs if i // self.per == k]

    def _tell(self, index, text: str) -> None:
        if (index, text) not in self._told:  # overlapping streams see the same cut
            self._told.add((index, text))
            self._notice(f"frame {index}: {text}")
