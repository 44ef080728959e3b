"""Image files in and out: every image inside the library is ``float32 HxWx3 RGB in [0, 1]``.

``read_image`` / ``decode_image`` give an :class:`Image` (pixels, optional alpha, source metadata);
``write_image`` / ``encode_image`` write it back keeping bit depth, grayscale, alpha, ICC and EXIF where the
format can hold them. Writes are atomic. Every failure is an ``ImageReadError`` / ``ImageWriteError`` (or a
``LimitError`` for an input over ``--max-pixels``, checked from the header before decoding).
"""

from acutance.contract import to_float, to_uint
from acutance.io.files import (
    IMAGE_EXTENSIONS,
    atomic_write_bytes,
    check_writable_output,
    is_image_path,
    list_images,
)
from acutance.io.image import (
    FORMAT_SUFFIXES,
    OPTION_SUFFIXES,
    SUFFIX_FORMATS,
    Image,
    ImageMeta,
    ImageNotice,
    check_output_format,
    composite,
    decode_image,
    encode_image,
    read_image,
    write_image,
)

__all__ = [
    "FORMAT_SUFFIXES",
    "OPTION_SUFFIXES",
    "SUFFIX_FORMATS",
    "IMAGE_EXTENSIONS",
    "Image",
    "ImageMeta",
    "ImageNotice",
    "atomic_write_bytes",
    "check_output_format",
    "check_writable_output",
    "composite",
    "decode_image",
    "encode_image",
    "is_image_path",
    "list_images",
    "read_image",
    "to_float",
    "to_uint",
    "write_image",
]
