"""Read the tensors out of a torch pickle without importing or running anything it names (numpy only).

``torch.save(model)`` pickles the whole ``nn.Module``: unpickling it normally imports the author's classes
(``__main__.SRNet``) and runs whatever their ``__reduce__`` / ``__setstate__`` say, which is how a model
file runs code. ``torch.load(weights_only=True)`` refuses such files. This reader opens them anyway, safely:

- ``find_class`` never imports. A small allow-list maps to our own inert code: torch's tensor rebuilders
  (``torch._utils._rebuild_tensor_v2``, ``_rebuild_tensor``, ``_rebuild_parameter``,
  ``_rebuild_parameter_with_state``, ``torch._tensor._rebuild_from_type_v2``) become numpy builders, the
  ``torch.*Storage`` types become dtypes, ``collections.OrderedDict`` / ``set`` / ``frozenset`` are the real
  containers. Every other global becomes a :class:`Stub` type named after it: calling it, ``__new__`` and
  ``__setstate__`` only record the arguments and state. Nothing of the pickled class runs.
- Storages come from ``persistent_load``: the zip format (``*/data.pkl`` + ``*/data/KEY``) and the legacy
  format (magic number, protocol, system info, the object pickle, the storage keys, then each storage as an
  int64 element count and its bytes). Every size, offset and stride is checked against the bytes there, so
  a damaged file is a :class:`SafePickleError`, never a read out of bounds.

:func:`load` gives the object graph with tensors as numpy arrays; :func:`state_dict` flattens it the way
``nn.Module.state_dict()`` would (``_parameters``, persistent ``_buffers``, ``_modules`` recursively), and
:func:`read_tensors` does both for a file.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage type -> numpy dtype (bfloat16 is read as its bit pattern and widened to float32)
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class SafePickleError(ValueError):
    """The file is not a torch pickle this reader understands, or it is damaged (one-line message)."""


class Stub:
    """An inert stand-in for a pickled global: records how it was built and its state, runs nothing."""

    _global_name = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        object.__setattr__(self, "_args", args)
        object.__setattr__(self, "_state", None)
        object.__setattr__(self, "_items", [])
        return self

    def __init__(self, *args, **kwargs) -> None:
        object.__setattr__(self, "_args", args)

    def __setstate__(self, state) -> None:
        object.__setattr__(self, "_state", state)

    # list- and dict-like pickle opcodes (APPEND, SETITEM) on a stubbed container only record the items
    def append(self, item) -> None:
        self._items.append(item)

    def extend(self, items) -> None:
        self._items.extend(items)

    def __setitem__(self, key, value) -> None:
        self._items.append((key, value))

    def __repr__(self) -> str:
        return f"<stub {self._global_name}>"

    @property
    def state(self) -> Any:
        return self._state


def _stub_type(module: str, name: str) -> type:
    return type(name, (Stub,), {"_global_name": f"{module}.{name}", "__module__": "acutance.models.safe_pickle"})


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: Any


@dataclass
class _Storage:
    dtype: Any
    data: np.ndarray  # 1-D, of dtype


def _tensor(storage, offset, size, stride, *rest) -> np.ndarray:
    """``_rebuild_tensor_v2`` as a bounds-checked numpy copy."""
    if not isinstance(storage, _Storage):
        raise SafePickleError("a tensor without a storage")
    try:
        offset, size, stride = int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride)
    except (TypeError, ValueError):
        raise SafePickleError("a tensor with a malformed size or stride") from None
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise SafePickleError(f"a tensor with a bad layout (size {size}, stride {stride}, offset {offset})")
    data = storage.data
    if 0 in size:
        out = np.zeros(size, dtype=data.dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if int(np.prod(size, dtype=object)) > data.size:  # no repeated (stride 0) views: bounds the copy
            raise SafePickleError(f"a tensor of {size} elements over a storage of {data.size} (corrupt file)")
        if last >= data.size:
            raise SafePickleError(f"a tensor reaches element {last} of a storage of {data.size} (corrupt file)")
        item = data.itemsize
        out = np.lib.stride_tricks.as_strided(data[offset:], shape=size, strides=tuple(s * item for s in stride)).copy()
    if storage.dtype == "bfloat16":
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _rebuild(storage, offset, size, stride, *rest):
    # A legacy file stores the bytes after the object pickle, so every tensor is built once all storages
    # are read (_resolve), in both formats.
    return _PendingTensor(storage, (offset, size, stride))


def _parameter(data, *rest):
    return data


def _from_type(func, new_type, args, state):
    return func(*args)


def _latin1(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise SafePickleError("unexpected text encoding in the pickle")
    return text.encode("latin1")


def _storage_from_bytes(data):
    # a tensor pickled with plain pickle.dump carries its storage as a nested torch file
    if not isinstance(data, bytes):
        raise SafePickleError("a storage without bytes")
    storage, _ = load(data)
    if not isinstance(storage, _Storage):
        raise SafePickleError("a nested storage that is not a storage")
    return storage


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild,
    ("torch._utils", "_rebuild_tensor"): _rebuild,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _from_type,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("_codecs", "encode"): _latin1,  # protocol-2 pickles spell bytes as encode(text, "latin1")
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set, ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset, ("__builtin__", "frozenset"): frozenset,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages) -> None:
        super().__init__(file, encoding="utf-8")
        self._storages = storages  # key -> (dtype, numel) -> _Storage, via the callable
        self.stubbed: set[str] = set()

    def find_class(self, module: str, name: str):  # never imports
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        self.stubbed.add(f"{module}.{name}")
        return _stub_type(module, name)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise SafePickleError("unexpected persistent id in the pickle")
        kind = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module":  # legacy files save each class with its source: keep only the (stub) class
            return pid[1]
        if kind != "storage" or len(pid) < 5:
            raise SafePickleError(f"unexpected persistent id {kind!r} in the pickle")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, _StorageType):
            raise SafePickleError(f"unknown storage type {getattr(storage_type, '_global_name', storage_type)!r}")
        return self._storages(key, storage_type, int(numel), view)


def _reader_zip(archive: zipfile.ZipFile):
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pickles:
        raise SafePickleError("a zip file without a torch data.pkl")
    prefix = pickles[0][: -len("data.pkl")]
    order = "little"
    if f"{prefix}byteorder" in names:
        order = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
    cache: dict[str, _Storage] = {}

    def storage(key, storage_type, numel, view):
        if key not in cache:
            dtype = np.dtype(storage_type.dtype).newbyteorder("<" if order == "little" else ">")
            try:
                entry = archive.getinfo(f"{prefix}data/{key}")
            except KeyError:
                raise SafePickleError(f"storage {key} is missing from the archive") from None
            if entry.file_size != numel * dtype.itemsize:  # checked before reading: no zip bomb
                raise SafePickleError(f"storage {key} holds {entry.file_size} bytes, expected {numel * dtype.itemsize}")
            raw = archive.read(entry)
            data = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
            cache[key] = _Storage("bfloat16" if storage_type.name == "BFloat16Storage" else data.dtype, data)
        return cache[key]

    return archive.read(pickles[0]), storage


def load(source: str | os.PathLike | bytes) -> tuple[Any, set[str]]:
    """``(object, stubbed)``: the unpickled object with tensors as numpy arrays, and the globals stubbed."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                payload, storage = _reader_zip(archive)
                unpickler = _Unpickler(io.BytesIO(payload), storage)
                return _resolve(unpickler.load()), unpickler.stubbed
        return _load_legacy(io.BytesIO(data))
    except SafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, struct.error, ValueError, TypeError, KeyError,
            IndexError, AttributeError, UnicodeDecodeError, RecursionError, OverflowError, MemoryError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SafePickleError(f"not a torch pickle, or truncated ({reason[:120]})") from None


def _no_storage(key, storage_type, numel, view):
    raise SafePickleError("a storage reference outside a torch file")


def _load_legacy(stream: io.BytesIO) -> tuple[Any, set[str]]:
    first = _Unpickler(stream, _no_storage)
    value = first.load()
    if not (type(value) is int and value == LEGACY_MAGIC) or first.stubbed:  # a bare pickle (pickle.dump), not torch's legacy layout
        return _resolve(value), first.stubbed

    def plain():  # the header pickles hold only numbers and a dict: no globals allowed
        unpickler = _Unpickler(stream, _no_storage)
        value = unpickler.load()
        if unpickler.stubbed:
            raise SafePickleError("unexpected objects in the file header")
        return value

    if plain() != LEGACY_PROTOCOL:
        raise SafePickleError("unsupported torch file protocol")
    info = plain()
    little = not isinstance(info, dict) or info.get("little_endian", True)
    declared: dict[str, tuple[_StorageType, int]] = {}
    storages: dict[str, _Storage] = {}

    def storage(key, storage_type, numel, view):
        if numel < 0:
            raise SafePickleError(f"storage {key} has a negative size")
        if key not in storages:
            declared[key] = (storage_type, numel)
            storages[key] = _Storage("bfloat16" if storage_type.name == "BFloat16Storage" else np.dtype(storage_type.dtype),
                                     np.empty(0, dtype=storage_type.dtype))
        root = storages[key]
        if view is None:
            return root
        view_key, offset, size = view
        return _View(root, int(offset), int(size))

    unpickler = _Unpickler(stream, storage)
    obj = unpickler.load()
    keys = _Unpickler(stream, None).load()
    if not isinstance(keys, list):
        raise SafePickleError("malformed storage list")
    remaining = len(stream.getbuffer()) - stream.tell()
    for key in keys:
        key = str(key)
        if key not in declared:
            raise SafePickleError(f"storage {key} is listed but not used")
        storage_type, _ = declared[key]
        head = stream.read(8)
        if len(head) != 8:
            raise SafePickleError("truncated storage data")
        numel = struct.unpack("<q" if little else ">q", head)[0]
        dtype = np.dtype(storage_type.dtype).newbyteorder("<" if little else ">")
        nbytes = numel * dtype.itemsize
        remaining -= 8
        if numel < 0 or nbytes > remaining:
            raise SafePickleError(f"storage {key} claims {nbytes} bytes, the file has {remaining} left (truncated?)")
        raw = stream.read(nbytes)
        remaining -= nbytes
        storages[key].data = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
    return _resolve(obj), unpickler.stubbed


@dataclass
class _View:
    root: _Storage
    offset: int
    size: int


@dataclass
class _PendingTensor:
    storage: Any
    args: tuple


def _resolve(obj: Any, seen: dict | None = None) -> Any:
    """Replace pending legacy tensors (built before their bytes were read) by arrays, in place."""
    seen = {} if seen is None else seen
    if id(obj) in seen:
        return seen[id(obj)]
    if isinstance(obj, _PendingTensor):
        storage = obj.storage
        if isinstance(storage, _View):
            if storage.offset < 0 or storage.offset + storage.size > storage.root.data.size:
                raise SafePickleError("a storage view reaches past its storage (corrupt file)")
            storage = _Storage(storage.root.dtype, storage.root.data[storage.offset : storage.offset + storage.size])
        result = _tensor(storage, *obj.args)
        seen[id(obj)] = result
        return result
    seen[id(obj)] = obj
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _resolve(obj[key], seen)
    elif isinstance(obj, list):
        obj[:] = [_resolve(item, seen) for item in obj]
    elif isinstance(obj, tuple):
        result = tuple(_resolve(item, seen) for item in obj)
        seen[id(obj)] = result
        return result
    elif isinstance(obj, Stub):
        object.__setattr__(obj, "_args", _resolve(obj._args, seen))
        object.__setattr__(obj, "_state", _resolve(obj._state, seen))
        object.__setattr__(obj, "_items", _resolve(obj._items, seen))
    return obj


def state_dict(obj: Any) -> "OrderedDict[str, np.ndarray]":
    """``{name: array}`` of an unpickled object: a stubbed ``nn.Module`` flattened as its ``state_dict()``
    would be; a dict of arrays kept as it is (nested modules inside a dict are flattened under their key)."""
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    _flatten(obj, "", out, set())
    return out


def _module_state(stub: Stub) -> dict | None:
    state = stub.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):  # (dict, slots)
        state = state[0] or state[1]
    if isinstance(state, dict) and "_parameters" in state and "_modules" in state:
        return state
    return None


def _flatten(obj: Any, prefix: str, out: dict, seen: set) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, Stub):
        state = _module_state(obj)
        if state is None:
            return
        skip = state.get("_non_persistent_buffers_set") or set()
        for group in ("_parameters", "_buffers"):
            for name, value in (state.get(group) or {}).items():
                if isinstance(value, np.ndarray) and not (group == "_buffers" and name in skip):
                    out[prefix + name] = value
        for name, child in (state.get("_modules") or {}).items():
            if child is not None:
                _flatten(child, f"{prefix}{name}.", out, seen)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str):
                _flatten(value, f"{prefix}{key}.", out, seen)


def read_tensors(path: str | os.PathLike) -> tuple[Any, set[str]]:
    """``(obj, stubbed)`` with any whole module in ``obj`` flattened to its state dict (see :func:`state_dict`).

    A whole-module pickle gives ``OrderedDict{name: array}``; a dict checkpoint keeps its wrapper keys
    (``params_ema`` ...), each module inside it flattened. Raises :class:`SafePickleError`."""
    obj, stubbed = load(path)
    return _modules_to_dicts(obj), stubbed


def _modules_to_dicts(obj: Any) -> Any:
    if isinstance(obj, Stub) and _module_state(obj) is not None:
        return state_dict(obj)
    if isinstance(obj, dict):
        return type(obj)((key, _modules_to_dicts(value)) for key, value in obj.items()) if isinstance(obj, OrderedDict) \
            else {key: _modules_to_dicts(value) for key, value in obj.items()}
    return obj
