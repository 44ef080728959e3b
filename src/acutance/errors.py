"""Exceptions whose message is one line a user can act on.

The CLI prints ``str(error)`` of any ``AcutanceError`` and exits non-zero; anything else is a bug.
"""


class AcutanceError(Exception):
    """Base class: a problem with the user's input, files or options, not a bug."""


class ImageReadError(AcutanceError):
    """A file could not be read as an image (missing, corrupt, truncated, unsupported)."""


class ImageWriteError(AcutanceError):
    """An image could not be written (existing output, unwritable folder, unsupported format)."""


class ModelError(AcutanceError):
    """An unknown model name, a wrong model file, or a model asked to do what it cannot."""


class OptionError(AcutanceError):
    """An invalid option value or combination."""
