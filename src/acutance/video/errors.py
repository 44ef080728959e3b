"""Video errors: one line a user can act on, like every ``AcutanceError``."""

from acutance.errors import AcutanceError


class VideoReadError(AcutanceError):
    """The input is missing, not a video, has no video stream, or is truncated or corrupt."""


class VideoWriteError(AcutanceError):
    """The output cannot be written (exists, equals the input, unsupported codec/container, stale work folder)."""


class VideoInterrupted(AcutanceError):
    """The run stopped before the end (test hook or Ctrl-C); the work folder keeps the finished segments."""
