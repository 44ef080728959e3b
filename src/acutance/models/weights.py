"""Model files shipped inside the package (``acutance/weights/NAME.npz``), read the same way by every loader."""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from importlib import resources
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo

M = TypeVar("M")


def weight_path(name: str):
    """The shipped model file ``acutance/weights/{name}.npz`` (an importlib.resources Traversable)."""
    return resources.files("acutance").joinpath("weights", f"{name}.npz")


def read_shipped(info: ModelInfo, read: Callable[[object], M], scale_of: Callable[[M], int]) -> M:
    """``read(path)`` the model file of ``info``; refuse a missing file or one whose scale contradicts ``info``."""
    resource = weight_path(info.name)
    if not resource.is_file():
        raise ModelError(f"model file for {info.name!r} not found: {resource}")
    with resources.as_file(resource) as path:
        model = read(path)
    if info.scales is not None and tuple(info.scales) != (scale_of(model),):
        raise ModelError(f"{resource}: model is x{scale_of(model)}, descriptor says scales {info.scales}")
    return model


def check_scale(info: ModelInfo, model_scale: int, scale: float) -> None:
    """A fixed-scale model asked for another scale: one clear error."""
    if abs(scale - model_scale) > 1e-9:
        what = f"upscales x{model_scale} only" if model_scale > 1 else "keeps the size (scale 1)"
        raise ModelError(f"{info.name} {what}, not x{scale:g}")


def write_model_npz(path, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write a model file: compressed npz (no pickle), ``meta`` as a JSON string beside the arrays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    return path


# The element types a model file's arrays may have: numbers and booleans (``meta`` is a unicode string).
_NUMBER_KINDS = "biuf"


def _npz_arrays(path, what: str, only: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of an npz model file (or just the one named ``only``), read strictly and within budget.

    Every check comes before an allocation: members stored or deflated ``.npy`` files (as ``np.savez``
    writes them), their declared sizes within the memory limit (``--max-memory``), each ``.npy`` header's
    size within its member's, numbers only (no pickled objects: nothing from the file is ever unpickled).
    Any problem is one ``ModelError`` line of our own; numpy's advice to load unsafely is never passed on.
    """
    from acutance import limits

    name = str(path)

    def fail(reason: str) -> ModelError:
        return ModelError(f"{name}: cannot read {what}: {reason}")

    arrays: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as handle, zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            budget = limits.current().max_memory
            declared = sum(member.file_size for member in members)
            if budget and declared > budget:
                raise limits.LimitError(
                    f"{name}: its arrays declare {declared / limits.MIB:,.0f} MiB, over the memory limit of "
                    f"{budget / limits.MIB:,.0f} MiB; raise it with {limits.FLAGS['max_memory']} if you trust this file")
            for member in members:
                key = member.filename.removesuffix(".npy")
                if key == member.filename:
                    raise fail(f"unexpected member {member.filename!r} (a model file holds .npy arrays only)")
                if only is not None and key != only:
                    continue
                if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise fail(f"member {member.filename!r} uses zip compression method {member.compress_type}")
                with archive.open(member) as stream:
                    arrays[key] = _read_npy(stream, member, key, fail)
    except ModelError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError,
            NotImplementedError, struct.error, RuntimeError) as error:
        # Truncated or corrupt: the zip layer's own words are safe to show (only its first line).
        raise fail(f"corrupt or truncated ({_first_line(error)})") from None
    return arrays


def _read_npy(stream, member: zipfile.ZipInfo, key: str, fail) -> np.ndarray:
    """One ``.npy`` member: header checked against the member's size before anything is allocated."""
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
    except Exception:  # noqa: BLE001 (numpy's header parser raises ValueError, SyntaxError, TokenError, ...)
        # and its text can advise allow_pickle / max_header_size: never pass that on.
        raise fail(f"array {key!r} has no valid .npy header") from None
    if dtype.hasobject or dtype.kind not in (_NUMBER_KINDS + ("U" if key == "meta" else "")) or dtype.fields:
        what = "Python objects (pickled)" if dtype.hasobject else f"dtype {dtype}"
        raise fail(f"array {key!r} holds {what}; model files hold numbers only")
    if any(dim < 0 for dim in shape):
        raise fail(f"array {key!r} has a negative dimension {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > member.file_size:
        raise fail(f"array {key!r} declares {nbytes:,} bytes in a member of {member.file_size:,}")
    array = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(array).cast("B") if nbytes else b""
    if nbytes and stream.readinto(view) != nbytes:
        raise fail(f"array {key!r} is cut short")
    return array.reshape(shape, order="F" if fortran else "C")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _parse_meta(name: str, array: np.ndarray | None, what: str) -> dict:
    if array is None:
        raise ModelError(f"{name}: not a {what} (no 'meta' entry)")
    if array.dtype.kind != "U" or array.shape != ():
        raise ModelError(f"{name}: 'meta' is not a JSON string")
    try:
        meta = json.loads(str(array))
    except (json.JSONDecodeError, RecursionError) as error:
        raise ModelError(f"{name}: 'meta' is not a JSON string: {_first_line(error)}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{name}: 'meta' must be a JSON object")
    return meta


def read_model_npz(path, fmt: str, what: str) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a model file written by :func:`write_model_npz`, ``meta`` removed from the arrays.

    A file that cannot be read, has no ``meta`` or is of another ``format`` gets one-line ``ModelError``
    naming the file and ``what`` (e.g. "LUT model file"); the caller checks the arrays against ``meta``.
    A file whose arrays would take more than the memory limit is refused before reading (``LimitError``).
    """
    name = str(path)
    arrays = _npz_arrays(path, what)
    meta = _parse_meta(name, arrays.pop("meta", None), what)
    if meta.get("format") != fmt:
        raise ModelError(f"{name}: 'meta' must be a JSON object with format {fmt!r}")
    return meta, arrays


def read_npz_meta(path, what: str = "model file") -> dict:
    """The ``meta`` JSON object of a model file alone (no other array is decompressed): what the file says it is.

    Used to describe and dispatch a file before reading it; errors as :func:`read_model_npz`'s, format unchecked.
    """
    return _parse_meta(str(path), _npz_arrays(path, what, only="meta").get("meta"), what)
