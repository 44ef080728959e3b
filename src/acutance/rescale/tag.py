"""The tag an LR file carries: which downscaler made it, and the size of the original.

PNG: a ``tEXt`` chunk ``acutance:rescale`` (JSON); JPEG, WebP, TIFF: the EXIF ImageDescription
``acutance:rescale {json}`` (a PNG keeps its EXIF too, but the chunk is what is read there). The tag is what
``acutance upscale``, ``acutance batch`` and the web page check (``match``): an IRN LR upscaled with another
model, or a plain LR with an IRN model, gets a notice (the result is still written); an IRN LR whose original
was padded to the scale is cropped back (``crop_to``).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

from acutance.io import Image, ImageNotice

KEY = "acutance:rescale"
_DESCRIPTION = 0x010E  # EXIF ImageDescription


def tagged(image: Image, model: str, scale: int, size: tuple[int, int]) -> Image:
    """``image`` (the LR) with the tag ``{"model", "scale", "size": [width, height] of the original}``."""
    from PIL import Image as PILImage

    text = json.dumps({"model": model, "scale": int(scale), "size": [int(size[0]), int(size[1])]})
    chunks = tuple(c for c in image.meta.png_chunks if not (c[0] == b"tEXt" and c[1].startswith(KEY.encode())))
    exif = PILImage.Exif()
    if image.meta.exif:
        exif.load(image.meta.exif)
    exif[_DESCRIPTION] = f"{KEY} {text}"
    meta = dataclasses.replace(image.meta, png_chunks=chunks + ((b"tEXt", KEY.encode() + b"\0" + text.encode()),),
                               exif=exif.tobytes())  # fmt: skip
    return dataclasses.replace(image, meta=meta)


def read_tag(path: str | Path, image: Image | None = None, data: bytes | None = None) -> dict | None:
    """The tag of an image file, or of its bytes ``data`` (None when it has none, or an unreadable one)."""
    data = Path(path).read_bytes() if data is None else data
    text = None
    from acutance.io import png_chunks

    if data.startswith(png_chunks.PNG_SIGNATURE):
        for kind, body in png_chunks.iter_chunks(data):
            if kind == b"tEXt" and body.startswith(KEY.encode() + b"\0"):
                text = body[len(KEY) + 1 :].decode("latin-1")
                break
            if kind == b"IDAT":
                break
    if text is None and not data.startswith(png_chunks.PNG_SIGNATURE):  # a PNG's EXIF tag came with its source
        exif = image.meta.exif if image is not None else None
        if exif:
            from PIL import Image as PILImage

            parsed = PILImage.Exif()
            try:
                parsed.load(exif)
            except Exception:  # noqa: BLE001 (a foreign, broken EXIF block is no tag)
                return None
            value = parsed.get(_DESCRIPTION)
            if isinstance(value, str) and value.startswith(KEY + " "):
                text = value[len(KEY) + 1 :]
    if text is None:
        return None
    try:
        tag = json.loads(text)
    except ValueError:
        return None
    return tag if isinstance(tag, dict) and isinstance(tag.get("model"), str) else None


def is_rescaler(model: str) -> bool:
    """A model name (or file stem) of an IRN pair."""
    return Path(model).name.removesuffix(".onnx").startswith("irn-")


def match(path: str | Path, image: Image, model: str, data: bytes | None = None) -> tuple[str | None, tuple[int, int] | None]:
    """The upscale check of every front end: (a notice when the LR's maker and the upscaling model do not
    belong together, else None; the original (height, width) to crop the result to when an IRN pair matches,
    else None). ``path``: the file, or only its name when ``data`` holds its bytes."""
    tag = read_tag(path, image, data)
    name = Path(model).name.removesuffix(".onnx")
    maker = tag["model"] if tag else None
    notice = None
    if maker is not None and is_rescaler(maker) and maker != name:
        notice = (f"{Path(path).name} was downscaled by {maker}; upscale it with --model {maker} to restore it "
                  f"(another model treats it as a plain LR)")  # fmt: skip
    elif is_rescaler(name) and maker != name:
        notice = (f"{Path(path).name} was not downscaled by {name} ({'by ' + maker if maker else 'no tag'}); "
                  f"{name} restores only its own LR images well")  # fmt: skip
    if maker == name and isinstance(tag.get("size"), list) and len(tag["size"]) == 2:
        width, height = (int(v) for v in tag["size"])
        return notice, (height, width)
    return notice, None


def check_upscale(path: str | Path, image: Image, model: str, data: bytes | None = None) -> tuple[int, int] | None:
    """``match`` with its notice as a warning (``ImageNotice``); returns the crop."""
    notice, crop = match(path, image, model, data)
    if notice is not None:
        warnings.warn(notice, ImageNotice, stacklevel=2)
    return crop


def crop_to(image: Image, crop: tuple[int, int] | None) -> Image:
    """The upscaled ``image`` cropped to the original (height, width) of ``match`` (unchanged for None)."""
    if crop is None:
        return image
    height, width = crop
    return image.replace(image.rgb[:height, :width], None if image.alpha is None else image.alpha[:height, :width])
