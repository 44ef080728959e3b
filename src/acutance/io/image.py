"""Read and write image files; inside the library every image is ``float32 HxWx3 RGB in [0, 1]``.

Pillow parses every header (format, mode, ICC profile, EXIF) and decodes 8-bit data. Pillow cannot hold
16-bit colour, so 16-bit PNG and TIFF pixels are decoded and encoded with OpenCV (BGR order inside
OpenCV, RGB everywhere else). EXIF orientation is applied here with numpy, the same way for both paths.

Reading is guarded before any pixel is decoded: the header's size goes through
``acutance.limits.check_input_pixels`` (``--max-pixels``), which takes over from Pillow's own
decompression-bomb guard (switched off on import, so that one clear line with a flag to raise the limit
is what a user sees, not a raw ``DecompressionBombWarning``). An animated or multi-page file (APNG,
animated WebP, multi-page TIFF) is refused unless ``first_frame=True`` (``--first-frame``) says that its
first frame alone is wanted; a camera's multi-picture JPEG (MPO) is read as its first picture.

On write, what a format cannot hold is handled like this:

* JPEG and BMP hold no alpha: the image is composited over white (``rgb * alpha + (1 - alpha)``, so the
  colour under fully transparent pixels never shows) and an ``ImageNotice`` warning says so.
* JPEG, WebP and BMP hold 8 bits per channel: asking for ``bit_depth=16`` is an ``OptionError`` (you asked
  for something the file cannot be); a 16-bit *source* written to them is written with 8 bits.
* WebP holds no grayscale: a grayscale image is written as RGB. WebP ``quality=100`` is lossless.
* BMP holds no ICC profile or EXIF. 16-bit TIFF keeps the ICC profile but not the EXIF, and 16-bit
  gray + alpha TIFF is written as RGBA (OpenCV's TIFF writer takes 1, 3 or 4 channels).
* An ICC profile is written only where it describes the output: a GRAY profile with gray pixels, an
  RGB profile with colour pixels.
* EXIF's ``PixelXDimension`` / ``PixelYDimension`` (ExifImageWidth/Height) are set to the output's size.
* A PNG source's ``sRGB``, ``cHRM``, ``gAMA`` and ``pHYs`` chunks are written to a PNG output unchanged
  (the pixels keep their colour encoding; ``pHYs`` keeps its pixels per metre, as EXIF keeps its DPI).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from acutance import limits
from acutance.contract import check_rgb, to_float, to_uint
from acutance.errors import AcutanceError, ImageReadError, ImageWriteError, OptionError
from acutance.io import png_chunks
from acutance.io.files import IMAGE_EXTENSIONS, atomic_write_bytes, check_writable_output

__all__ = [
    "IMAGE_EXTENSIONS", "Image", "ImageMeta", "ImageNotice", "check_output_format", "decode_image", "encode_image",
    "read_image", "write_image",
]  # fmt: skip

# acutance.limits.check_input_pixels guards every decode from the header, with a flag to raise it; Pillow's
# guard would speak first (a raw warning, or an error no flag of ours can raise), so ours replaces it.
PILImage.MAX_IMAGE_PIXELS = None

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
# The one table of file suffixes and formats: every reader, writer, CLI --format and the web server use it.
SUFFIX_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
                  ".tiff": "TIFF", ".bmp": "BMP"}  # fmt: skip
FORMAT_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}  # what we write
# --format NAME -> the suffix written (png, jpg, jpeg, webp, tif, tiff, bmp)
OPTION_SUFFIXES = {suffix[1:]: FORMAT_SUFFIXES[name] for suffix, name in SUFFIX_FORMATS.items()}
_EXTENSION_FORMATS = SUFFIX_FORMATS
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_GRAY_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP"})
_16BIT_FORMATS = frozenset({"PNG", "TIFF"})
_METADATA_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ORIENTATION_TAG = 0x0112
_EXIF_IFD_TAG = 0x8769
_PIXEL_X_TAG, _PIXEL_Y_TAG = 0xA002, 0xA003  # PixelXDimension, PixelYDimension (ExifImageWidth/Height)
_ICC_TIFF_TAG = 34675
_BT601_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
_NOT_AN_IMAGE = "not a PNG, JPEG, WebP, TIFF or BMP image (unrecognised or corrupt data)"
# PNG chunks that describe the stored colour and pixel density; carried to a PNG output as they are.
CARRIED_PNG_CHUNKS = (b"sRGB", b"cHRM", b"gAMA", b"pHYs")
_BACKGROUND = 1.0  # JPEG and BMP hold no alpha: composite over white, as a page or most viewers show it


class ImageNotice(UserWarning):
    """Something a write could not keep as it was (alpha composited, ...): one line, the output named."""


@dataclass(frozen=True)
class ImageMeta:
    """What the source file said about its pixels, kept so a write can say the same."""

    bit_depth: int  # 8 or 16: bits per channel as stored in the source file
    grayscale: bool  # the source had a single colour channel (L, LA, I;16, 16-bit gray ...)
    format: str  # 'PNG' | 'JPEG' | 'WEBP' | 'TIFF' | 'BMP'
    icc_profile: bytes | None
    exif: bytes | None  # raw EXIF ('Exif\0\0' + TIFF data), Orientation reset to 1 (applied on read)
    png_chunks: tuple[tuple[bytes, bytes], ...] = field(default=())  # (type, data) of CARRIED_PNG_CHUNKS


@dataclass
class Image:
    """Pixels in the library contract plus the source's metadata."""

    rgb: np.ndarray  # float32 HxWx3 RGB in [0, 1]; grayscale sources replicated to 3 channels
    alpha: np.ndarray | None  # float32 HxW in [0, 1], or None
    meta: ImageMeta
    path: Path | None = None

    def __post_init__(self) -> None:
        check_rgb(self.rgb, "rgb")
        if self.alpha is not None:
            if self.alpha.dtype != np.float32 or self.alpha.shape != self.rgb.shape[:2]:
                raise OptionError(
                    f"alpha must be float32 {self.rgb.shape[:2]} to match rgb, "
                    f"got {self.alpha.dtype} {self.alpha.shape}"
                )

    def replace(self, rgb: np.ndarray, alpha: np.ndarray | None) -> Image:
        """Same metadata and path, new pixels (which may have a new size)."""
        return dataclasses.replace(self, rgb=rgb, alpha=alpha)


# --------------------------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike, *, first_frame: bool = False) -> Image:
    """Read an image file; raise ``ImageReadError`` (or ``LimitError``) with one line naming the file.

    ``first_frame``: read the first frame of an animated or multi-page file instead of refusing it.
    """
    source = Path(path)
    if source.is_dir():
        raise _read_error(source, "it is a folder, not an image")
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise _read_error(source, "no such file") from None
    except OSError as error:
        raise _read_error(source, error.strerror or str(error)) from None
    image = decode_image(data, str(source), first_frame=first_frame)
    image.path = source
    return image


def decode_image(data: bytes, name: str = "<upload>", *, first_frame: bool = False) -> Image:
    """Decode an image held in memory; ``name`` is used in error messages. The size is checked against
    ``acutance.limits.current().max_input_pixels`` from the header, before any pixel is decoded."""
    if not data:
        raise _read_error(name, "the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns about damage it skips (corrupt EXIF, oversized tags, a broken APNG): the image
            # still decodes, and a raw Python warning is no message for a user (found by benchmarks/fuzz.py).
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            return _decode(bytes(data), name, first_frame)
    except AcutanceError:  # ours already: ImageReadError, LimitError
        raise
    except UnidentifiedImageError:
        raise _read_error(name, _NOT_AN_IMAGE) from None
    except Exception as error:  # Pillow and OpenCV raise many types; the user needs one line
        raise _read_error(name, _reason(error)) from error


def _decode(data: bytes, name: str, first_frame: bool) -> Image:
    # LOAD_TRUNCATED_IMAGES stays False, so a truncated file raises in load() instead of half-decoding.
    with PILImage.open(io.BytesIO(data), formats=FORMATS) as pil:  # reads the header only
        limits.check_input_pixels(*pil.size, name=name)  # before a single pixel is decoded
        # MPO, the multi-picture JPEG some cameras write, opens through the JPEG plugin: first frame.
        file_format = "JPEG" if pil.format == "MPO" else pil.format
        frames = getattr(pil, "n_frames", 1) if file_format != "JPEG" else 1
        if frames > 1 and not first_frame:
            raise _read_error(
                name, f"animated or multi-page image: {frames} frames; only the first would be processed "
                "(pass --first-frame to process the first frame alone)"
            )  # fmt: skip
        bit_depth = _source_bit_depth(pil, data, name)
        if bit_depth == 16:
            pixels = _decode_16bit(data, name)
            grayscale = _is_16bit_gray(pil, data)
        else:
            pixels, grayscale = _decode_8bit(pil, name)
        exif, orientation = _read_exif(pil, file_format)
        # A CMYK (or Lab) profile no longer describes pixels that were converted to RGB.
        icc = None if pil.mode in ("CMYK", "LAB") else pil.info.get("icc_profile") or None
    rgb, alpha = _split_channels(_apply_orientation(pixels, orientation))
    carried = _carried_chunks(data) if file_format == "PNG" else ()
    meta = ImageMeta(bit_depth=bit_depth, grayscale=grayscale, format=file_format, icc_profile=icc, exif=exif,
                     png_chunks=carried)  # fmt: skip
    return Image(rgb=rgb, alpha=alpha, meta=meta)


def _carried_chunks(data: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """The colour and density chunks of a PNG; all of them precede the image data, so stop there."""
    chunks = itertools.takewhile(lambda chunk: chunk[0] != b"IDAT", png_chunks.iter_chunks(data))
    return tuple(chunk for chunk in chunks if chunk[0] in CARRIED_PNG_CHUNKS)


def _source_bit_depth(pil: PILImage.Image, data: bytes, name: str) -> int:
    """8 or 16 bits per channel as stored; other depths are refused."""
    header = png_chunks.png_header(data)
    if header is not None:
        return 16 if header[0] == 16 else 8
    if pil.format != "TIFF":
        return 8
    sample_format = pil.tag_v2.get(339, 1)  # 1 unsigned int, 2 signed int, 3 float
    if 3 in (sample_format if isinstance(sample_format, tuple) else (sample_format,)):
        raise _read_error(name, "floating-point TIFF is not supported (save it as 8 or 16-bit integer)")
    bits = pil.tag_v2.get(258, 1)
    bits = max(bits) if isinstance(bits, tuple) else bits
    if bits > 16 or bits not in (1, 2, 4, 8, 16):
        raise _read_error(name, f"{bits}-bit TIFF is not supported (8 or 16 bits per channel)")
    return 16 if bits == 16 else 8


def _is_16bit_gray(pil: PILImage.Image, data: bytes) -> bool:
    """Pillow reports 16-bit gray + alpha PNG as RGBA, so ask the file itself."""
    header = png_chunks.png_header(data)
    if header is not None:
        return header[1] in (0, 4)  # PNG colour types gray, gray + alpha
    if pil.format == "TIFF":
        return pil.tag_v2.get(262) in (0, 1)  # photometric: white-is-zero, black-is-zero
    return pil.mode in _GRAY_MODES


def _decode_8bit(pil: PILImage.Image, name: str) -> tuple[np.ndarray, bool]:
    """Pillow -> uint8 HxW or HxWxC (C = 2 gray + alpha, 3 RGB, 4 RGBA) and whether it is grayscale."""
    pil.load()
    mode = pil.mode
    keyed = "transparency" in pil.info  # palette transparency or a tRNS colour key
    if mode in ("1", "L"):
        target = "LA" if keyed else "L"
    elif mode in ("LA", "La"):
        target = "LA"
    elif mode in ("RGBA", "RGBa", "PA"):
        target = "RGBA"
    elif mode in ("P", "RGB"):
        target = "RGBA" if keyed else "RGB"
    elif mode in ("RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        target = "RGB"
    else:
        raise _read_error(name, f"pixel mode {mode} is not supported")
    converted = pil if mode == target else pil.convert(target)
    return np.asarray(converted), target in ("L", "LA")


def _decode_16bit(data: bytes, name: str) -> np.ndarray:
    """OpenCV -> uint16 HxW or HxWxC in RGB(A) order (OpenCV returns gray + alpha as BGRA)."""
    if data.startswith(b"\x89PNG"):
        # Check every chunk's CRC through IEND first: libpng would print its own complaint to stderr
        # before OpenCV gives up on a truncated file, and the user should see one clear line.
        try:
            PILImage.open(io.BytesIO(data)).verify()
        except Exception as error:  # Pillow raises several kinds for damaged files
            raise _read_error(name, f"the PNG data is truncated or corrupt ({_reason(error)})") from None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # ignores EXIF orientation
    if pixels is None or pixels.dtype != np.uint16:
        raise _read_error(name, "the 16-bit image data is truncated, corrupt or of an unsupported kind")
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return pixels[..., ::-1]
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return pixels[..., [2, 1, 0, 3]]
    return pixels


def _split_channels(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint HxW or HxWxC -> (float32 HxWx3 RGB, float32 HxW alpha or None), contiguous."""
    values = to_float(pixels if pixels.ndim == 3 else pixels[..., None])
    channels = values.shape[2]
    rgb = values[..., :3] if channels >= 3 else np.repeat(values[..., :1], 3, axis=2)
    alpha = values[..., -1] if channels in (2, 4) else None
    return np.ascontiguousarray(rgb), None if alpha is None else np.ascontiguousarray(alpha)


def _read_exif(pil: PILImage.Image, file_format: str) -> tuple[bytes | None, int]:
    """(EXIF bytes with Orientation reset to 1, the orientation to apply)."""
    if file_format == "TIFF":
        # A TIFF's tags are the file's own structure, not an EXIF block: read orientation, keep no EXIF.
        return None, _valid_orientation(pil.tag_v2.get(_ORIENTATION_TAG, 1))
    raw = pil.info.get("exif")
    if not raw:
        return None, 1
    raw = png_chunks.EXIF_PREFIX + raw.removeprefix(png_chunks.EXIF_PREFIX)  # WebP stores it bare
    try:
        exif = PILImage.Exif()
        exif.load(raw)
        orientation = _valid_orientation(exif.get(_ORIENTATION_TAG, 1))
    except Exception:  # corrupt EXIF: not worth refusing the pixels, but not worth writing back either
        return None, 1
    if orientation == 1:
        return raw, 1
    return _reset_orientation(raw, exif), orientation


def _valid_orientation(value: object) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reset_orientation(raw: bytes, exif: PILImage.Exif) -> bytes | None:
    """Set IFD0's Orientation to 1 by patching its two bytes, so every other byte stays where it was
    (maker notes hold absolute offsets that re-serialising would break). Falls back to Pillow."""
    try:
        tiff = raw[6:]
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
        for index in range(count):
            entry = ifd + 2 + 12 * index
            tag, kind, number = struct.unpack(order + "HHI", tiff[entry : entry + 8])
            if tag == _ORIENTATION_TAG and kind == 3 and number == 1:  # one SHORT, stored inline
                value = 6 + entry + 8
                return raw[:value] + struct.pack(order + "H", 1) + raw[value + 2 :]
    except (KeyError, struct.error):
        pass
    try:
        exif[_ORIENTATION_TAG] = 1
        return exif.tobytes()
    except Exception:
        return None


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for EXIF orientation 1..8 (as PIL.ImageOps.exif_transpose does)."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(pixels, -1)
    if orientation == 7:
        return pixels[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(pixels, 1)
    return pixels


def _read_error(name: str | os.PathLike, reason: str) -> ImageReadError:
    return ImageReadError(f"cannot read {name}: {reason}")


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())  # one line, whatever the library put in its message
    return text or type(error).__name__


# --------------------------------------------------------------------------------------------- writing


def write_image(
    path: str | os.PathLike,
    image: Image | np.ndarray,
    *,
    overwrite: bool = False,
    bit_depth: int | None = None,
    quality: int = 95,
) -> Path:
    """Write ``image`` atomically in the format named by the path's extension; return the path.

    ``bit_depth`` defaults to the source's (8 for a plain array); see the module doc for what each format
    cannot hold.
    """
    out = Path(path)
    file_format = check_output_format(out, bit_depth=bit_depth)
    check_writable_output(out, overwrite=overwrite)  # fail before spending time encoding
    data = encode_image(image, file_format, bit_depth=bit_depth, quality=quality, name=str(out))
    return atomic_write_bytes(out, data, overwrite=overwrite)


def check_output_format(path: str | os.PathLike, *, format: str | None = None, bit_depth: int | None = None) -> str:
    """The format an output path will be written in; raise before any work if the request cannot be met.

    Refused: an unknown extension, a ``format`` (e.g. ``--format jpg``) that disagrees with the path's
    extension (``x.png``), and ``bit_depth=16`` for a format that holds 8 bits (JPEG, WebP, BMP).
    """
    out = Path(path)
    file_format = _EXTENSION_FORMATS.get(out.suffix.lower())
    if file_format is None:
        supported = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise ImageWriteError(f"cannot write {out}: unknown extension {out.suffix!r} (supported: {supported})")
    if format is not None and _normalise_format(format) != file_format:
        raise OptionError(
            f"--format {format} disagrees with the output {out} ({file_format}); name the file "
            f"with the format's extension, or leave out --format"
        )
    _check_depth(file_format, bit_depth)
    return file_format


def _check_depth(file_format: str, bit_depth: int | None) -> None:
    if bit_depth is not None and bit_depth not in (8, 16):
        raise OptionError(f"bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and file_format not in _16BIT_FORMATS:
        # An error, not a warning: the file would not be what was asked for, and nothing is lost by stopping.
        raise OptionError(f"{file_format} holds 8 bits per channel: --bit-depth 16 needs PNG or TIFF")


def encode_image(
    image: Image | np.ndarray,
    format: str = "PNG",
    *,
    bit_depth: int | None = None,
    quality: int = 95,
    name: str | None = None,
) -> bytes:
    """Encode to the bytes of a file in ``format`` (PNG, JPEG, WEBP, TIFF or BMP).

    ``name`` (the output, for notices): alpha composited for a format without alpha is an ``ImageNotice``.
    """
    file_format = _normalise_format(format)
    if not 1 <= quality <= 100:
        raise OptionError(f"quality must be 1..100, got {quality}")
    _check_depth(file_format, bit_depth)
    rgb, alpha, meta = _unpack(image)
    depth = bit_depth if bit_depth is not None else meta.bit_depth
    if depth not in (8, 16):
        raise OptionError(f"bit depth must be 8 or 16, got {depth}")
    depth = depth if file_format in _16BIT_FORMATS else 8  # a 16-bit source into JPEG, WebP, BMP
    if alpha is not None and file_format not in _ALPHA_FORMATS:
        rgb, alpha = composite(rgb, alpha), None
        warnings.warn(
            f"{name or 'output'}: {file_format} holds no alpha; transparent areas composited over white",
            ImageNotice, stacklevel=2,
        )  # fmt: skip
    gray = meta.grayscale and file_format in _GRAY_FORMATS
    planes = [_luma(rgb)[..., None] if gray else rgb]
    if alpha is not None:
        planes.append(alpha[..., None])
    pixels = to_uint(np.concatenate(planes, axis=2), depth)
    keeps_metadata = file_format in _METADATA_FORMATS
    icc = _matching_icc(meta.icc_profile, gray) if keeps_metadata else None
    exif = _exif_with_size(meta.exif, rgb.shape[1], rgb.shape[0]) if keeps_metadata and meta.exif else None
    chunks = [png_chunks.make_chunk(kind, data) for kind, data in meta.png_chunks] if file_format == "PNG" else []
    try:
        if depth == 16:
            data = _encode_16bit(pixels, file_format, icc, exif)
        else:
            data = _encode_8bit(pixels, file_format, icc, exif, quality)
        return png_chunks.insert_before_idat(data, chunks)
    except Exception as error:
        raise ImageWriteError(f"cannot encode the image as {file_format}: {_reason(error)}") from error


def composite(rgb: np.ndarray, alpha: np.ndarray, background: float = _BACKGROUND) -> np.ndarray:
    """Straight-alpha RGB over a flat ``background`` (``rgb * a + bg * (1 - a)``): the colour stored under a
    fully transparent pixel is multiplied by 0, so it never shows."""
    weight = alpha[..., None]
    return (rgb * weight + np.float32(background) * (1 - weight)).astype(np.float32)


def _exif_with_size(raw: bytes, width: int, height: int) -> bytes | None:
    """EXIF whose PixelXDimension / PixelYDimension (ExifImageWidth/Height) say ``width`` x ``height``.

    Patched in place where the values fit (so maker-note offsets stay valid), else re-serialised by Pillow;
    tags that are absent stay absent.
    """
    patched = _patch_exif_dimensions(raw, width, height)
    if patched is not None:
        return patched
    try:
        exif = PILImage.Exif()
        exif.load(raw)
        ifd = exif.get_ifd(_EXIF_IFD_TAG)
        for tag, value in ((_PIXEL_X_TAG, width), (_PIXEL_Y_TAG, height)):
            if tag in ifd:
                ifd[tag] = value
        return exif.tobytes()
    except Exception:  # unreadable EXIF: better none than one that contradicts the pixels
        return None


def _patch_exif_dimensions(raw: bytes, width: int, height: int) -> bytes | None:
    """The in-place patch of ``_exif_with_size``; None where it cannot be done in place."""
    try:
        tiff = bytearray(raw[6:])
        order = {b"II": "<", b"MM": ">"}[bytes(tiff[:2])]

        def entries(ifd: int):
            (count,) = struct.unpack_from(order + "H", tiff, ifd)
            for index in range(count):
                entry = ifd + 2 + 12 * index
                yield entry, struct.unpack_from(order + "HHI", tiff, entry)

        (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
        pointer = next((e for e, (tag, _, _) in entries(ifd0) if tag == _EXIF_IFD_TAG), None)
        if pointer is None:
            return raw
        (exif_ifd,) = struct.unpack_from(order + "I", tiff, pointer + 8)
        wanted = {_PIXEL_X_TAG: width, _PIXEL_Y_TAG: height}
        for entry, (tag, kind, number) in list(entries(exif_ifd)):
            if tag not in wanted or number != 1:
                continue
            if kind == 4:  # LONG
                struct.pack_into(order + "I", tiff, entry + 8, wanted[tag])
            elif kind == 3 and wanted[tag] < 65536:  # SHORT, stored in the first 2 of the 4 value bytes
                struct.pack_into(order + "H", tiff, entry + 8, wanted[tag])
            else:
                return None
        return raw[:6] + bytes(tiff)
    except (KeyError, struct.error):
        return None


def _normalise_format(name: str) -> str:
    upper = name.upper().lstrip(".")
    upper = _FORMAT_ALIASES.get(upper, upper)
    if upper not in FORMATS:
        raise ImageWriteError(f"unknown image format {name!r} (supported: {', '.join(FORMATS)})")
    return upper


def _unpack(image: Image | np.ndarray) -> tuple[np.ndarray, np.ndarray | None, ImageMeta]:
    """(rgb, alpha, meta) from an ``Image``, or from an array: HxW gray, HxWx3 RGB, HxWx4 RGBA, ..."""
    if isinstance(image, Image):
        return image.rgb, image.alpha, image.meta
    if not isinstance(image, np.ndarray):
        raise OptionError(f"expected an Image or a numpy array, got {type(image).__name__}")
    values = to_float(image)
    if values.ndim == 2:
        values = values[..., None]
    if values.ndim != 3 or values.shape[2] not in (1, 2, 3, 4) or 0 in values.shape:
        raise OptionError(f"cannot write an array of shape {image.shape}: expected HxW, HxWx3 or HxWx4")
    channels = values.shape[2]
    rgb = values[..., :3] if channels >= 3 else np.repeat(values[..., :1], 3, axis=2)
    alpha = values[..., -1] if channels in (2, 4) else None
    meta = ImageMeta(bit_depth=8, grayscale=channels < 3, format="PNG", icc_profile=None, exif=None)
    return rgb, alpha, meta


def _luma(rgb: np.ndarray) -> np.ndarray:
    """HxW gray: a channel as is when all three agree (exact round trip), else BT.601 luma."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if np.array_equal(red, green) and np.array_equal(red, blue):
        return red
    return np.asarray(rgb, dtype=np.float64) @ _BT601_LUMA


def _matching_icc(icc: bytes | None, gray: bool) -> bytes | None:
    """The profile if its colour space (header bytes 16..20) matches the pixels written, else None."""
    if not icc or len(icc) < 128:
        return None
    return icc if icc[16:20] == (b"GRAY" if gray else b"RGB ") else None


def _encode_8bit(pixels: np.ndarray, file_format: str, icc: bytes | None, exif: bytes | None, quality: int) -> bytes:
    pil = PILImage.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)  # L, LA, RGB or RGBA
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if file_format == "JPEG":
        options["quality"] = quality
    elif file_format == "WEBP":
        # exact: keep the colour under fully transparent pixels instead of letting the encoder change it.
        options.update(quality=quality, lossless=quality == 100, exact=True)
    elif file_format == "TIFF":
        options["compression"] = "tiff_deflate"
    buffer = io.BytesIO()
    pil.save(buffer, file_format, **options)
    return buffer.getvalue()


def _encode_16bit(pixels: np.ndarray, file_format: str, icc: bytes | None, exif: bytes | None) -> bytes:
    """uint16 HxWxC -> 16-bit PNG or TIFF bytes, ICC (and for PNG, EXIF) added by hand."""
    if file_format == "PNG":
        if pixels.shape[2] == 2:
            png = png_chunks.encode_png16(pixels)  # OpenCV cannot write gray + alpha
        else:
            png = _opencv_encode(".png", pixels)
        chunks = [png_chunks.iccp_chunk(icc)] if icc else []
        chunks += [png_chunks.exif_chunk(exif)] if exif else []
        return png_chunks.insert_before_idat(png, chunks)
    if pixels.shape[2] == 2:
        pixels = pixels[..., [0, 0, 0, 1]]
    tiff = _opencv_encode(".tiff", pixels)
    return _tiff_with_icc(tiff, icc) if icc else tiff


def _opencv_encode(extension: str, pixels: np.ndarray) -> bytes:
    channels = pixels.shape[2]
    if channels == 1:
        bgr = pixels[..., 0]
    elif channels == 3:
        bgr = pixels[..., ::-1]
    else:
        bgr = pixels[..., [2, 1, 0, 3]]
    ok, buffer = cv2.imencode(extension, np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError(f"OpenCV could not encode {extension}")
    return buffer.tobytes()


def _tiff_with_icc(tiff: bytes, icc: bytes) -> bytes:
    """Add an ICC profile tag to IFD0 of a classic TIFF (OpenCV writes none).

    The profile and a rebuilt IFD0 (old entries + the new one, sorted by tag) are appended and the header
    is pointed at the new IFD; every existing offset stays valid because nothing moves.
    """
    order = {b"II": "<", b"MM": ">"}[tiff[:2]]
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    entries = [tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i] for i in range(count)]
    next_ifd = tiff[ifd + 2 + 12 * count : ifd + 6 + 12 * count]
    body = bytearray(tiff)
    body += b"\0" * (len(body) % 2)  # TIFF offsets are word aligned
    icc_offset = len(body)
    body += icc + b"\0" * (len(icc) % 2)
    entries.append(struct.pack(order + "HHII", _ICC_TIFF_TAG, 7, len(icc), icc_offset))  # 7: UNDEFINED
    entries.sort(key=lambda entry: struct.unpack(order + "H", entry[:2])[0])
    new_ifd = len(body)
    body += struct.pack(order + "H", len(entries)) + b"".join(entries) + next_ifd
    body[4:8] = struct.pack(order + "I", new_ifd)
    return bytes(body)
