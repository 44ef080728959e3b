"""Read community checkpoints safely, unwrap them, and build the network they hold (extra ``train``: torch).

Safety: ``.safetensors`` files hold only tensors. ``.pth`` / ``.pt`` files are read with
``torch.load(weights_only=True)``; a file it refuses (a whole ``nn.Module`` pickled with ``torch.save``, or
any other Python object) is read by ``acutance.models.safe_pickle``, a restricted unpickler that never
imports or runs the classes it names and keeps only the tensors. No pickled code runs, ever. Errors are
our own one line ("not a weights-only checkpoint, or corrupt"); torch's advice to load unsafely is never
passed on.

Wrappers (:func:`unwrap`, the one unwrapper of deep and face checkpoints): training frameworks nest the
weights under ``params_ema`` (preferred: the EMA weights), ``params``, ``g_ema``, ``net_g``, ``generator``,
``state_dict`` or ``model``, and prefix keys with ``module.`` (DataParallel) or ``_orig_mod.``
(``torch.compile``); all are unwrapped. Half-precision weights are read as float32.

Detection is done by ``acutance.deep.detect`` (one detector object per architecture, deep and face). A file
that carries an ``acutance`` description (safetensors metadata, or an ``acutance`` entry of a ``.pth``
dict) is built from it instead: the weights are the config. The weights are then loaded strictly: a
missing, unexpected or misshapen key is a ``ModelError`` that says which architecture the keys looked like.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from acutance.deep.detect import ArchDescription, by_id, find, load_strict, normalise_keys
from acutance.deep.detect import detect as _detect
from acutance.errors import ModelError

KNOWN_ARCHS = ("RRDBNet", "SRVGGNetCompact", "SwinIR")  # the upscalers; acutance.deep.detect knows them all
WRAPPERS = ("params_ema", "params", "g_ema", "net_g", "generator", "state_dict", "model")
PREFIXES = ("module.", "_orig_mod.")
SUFFIXES = (".pth", ".pt", ".safetensors")
CHECKPOINT_FORMAT = "acutance-checkpoint-1"
META_KEY = "acutance"
NOT_WEIGHTS = "not a weights-only checkpoint, or corrupt"

__all__ = ["ArchDescription", "LoadedCheckpoint", "read_checkpoint", "unwrap", "normalise_keys", "detect",
           "build", "load_weights", "load_checkpoint", "save_safetensors"]


def _torch():
    try:
        import torch
    except ImportError:
        raise ModelError("reading torch checkpoints needs the 'train' extra (torch)") from None
    return torch


@dataclass
class LoadedCheckpoint:
    """A checkpoint read, detected and built: ``module`` has the weights loaded strictly (eval mode)."""

    description: ArchDescription
    module: Any
    path: Path | None = None


# --- reading ----------------------------------------------------------------------------------------------


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict | None]:
    """``(state_dict, description)`` of a ``.pth`` / ``.pt`` / ``.safetensors`` file.

    state_dict: unwrapped, prefixes stripped, float tensors as float32. description: the file's ``acutance``
    description (a dict with ``arch`` and ``hyper_parameters``) or None.
    """
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    suffix = path.suffix.lower()
    described = None
    if suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as handle:
                metadata = handle.metadata() or {}
                obj = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
        except Exception:  # noqa: BLE001 (safetensors raises SafetensorError / OSError: all mean "not readable")
            raise ModelError(f"{path}: cannot read the checkpoint: not a safetensors file, or corrupt (truncated?)") from None
        if META_KEY in metadata:
            described = _parse_description(metadata[META_KEY], path)
    elif suffix in (".pth", ".pt"):
        obj = _read_pickle(path, torch)
        if isinstance(obj, dict) and META_KEY in obj:
            described = _parse_description(obj[META_KEY], path)
    else:
        raise ModelError(f"{path}: unknown checkpoint type {path.suffix!r} (known: {', '.join(SUFFIXES)})")
    state = {key: _as_torch(torch, value) for key, value in unwrap(obj, where=str(path)).items()}
    complex_keys = [key for key, tensor in state.items() if tensor.is_complex()]
    if complex_keys:  # load_state_dict would drop the imaginary part with a raw warning (found by fuzzing)
        raise ModelError(f"{path}: {complex_keys[0]} holds complex numbers; a network's weights are real")
    return state, described


def _read_pickle(path: Path, torch) -> Any:
    """torch's weights-only loader; what it refuses goes through the restricted unpickler (never executes)."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 (refused or damaged: torch's message advises unsafe loading, so it is dropped)
        pass
    from acutance.models.safe_pickle import SafePickleError, read_tensors

    try:
        obj, _stubbed = read_tensors(path)
    except SafePickleError as error:
        raise ModelError(f"{path}: cannot read the checkpoint: {NOT_WEIGHTS} ({error})") from None
    return obj


def _as_torch(torch, value):
    tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
    return tensor.float() if tensor.is_floating_point() else tensor


def _parse_description(value: Any, path: Path) -> dict:
    try:
        described = json.loads(value) if isinstance(value, str) else dict(value)
    except (TypeError, ValueError, RecursionError) as error:
        raise ModelError(f"{path}: bad '{META_KEY}' description: {error}") from None
    if not isinstance(described, dict) or not isinstance(described.get("arch"), str) or not isinstance(described.get("hyper_parameters"), dict):
        raise ModelError(f"{path}: the '{META_KEY}' description needs 'arch' and 'hyper_parameters'")
    return described


def _is_tensor(value: Any) -> bool:
    # torch tensors and numpy arrays (from the restricted unpickler): anything with a shape and a dtype
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, (str, bytes))


def unwrap(obj: Any, where: str = "checkpoint") -> dict:
    """The flat ``{key: tensor}`` state dict inside a loaded checkpoint: the one unwrapper of deep and face
    checkpoints (wrappers and prefixes: see the module docstring). Works on torch tensors and numpy arrays."""
    while isinstance(obj, Mapping) and not any(_is_tensor(v) for v in obj.values()):
        inner = next((key for key in WRAPPERS if isinstance(obj.get(key), Mapping)), None)
        if inner is None:
            break
        obj = obj[inner]
    if not isinstance(obj, Mapping):
        raise ModelError(f"{where}: expected a dict of tensors, found {type(obj).__name__}")
    state = {}
    for key, value in obj.items():
        if not _is_tensor(value) or not isinstance(key, str):
            continue  # counters, optimiser settings, descriptions beside the weights
        changed = True
        while changed:
            changed = False
            for prefix in PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        state[key] = value
    if not state:
        entries = ", ".join(map(str, list(obj)[:8])) or "nothing"
        raise ModelError(f"{where}: no tensors found (entries: {entries}; wrappers looked into: {', '.join(WRAPPERS)})")
    return state


def detect(state: dict, where: str = "checkpoint") -> ArchDescription:
    """The super-resolution architecture, hyper-parameters and scale of a (normalised) state dict."""
    return _detect(state, where, task="sr")


# --- building and strict loading --------------------------------------------------------------------------


def build(description: ArchDescription):
    """A fresh (randomly initialised) module for ``description``."""
    detector = by_id(description.arch)
    if detector.build is None:
        raise ModelError(f"{description.arch} is recognised but acutance cannot run it")
    try:
        return detector.build(dict(description.hyper_parameters))
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as error:
        reason = " ".join(str(error).split())[:200]  # torch's messages run over several lines
        raise ModelError(f"cannot build {description.arch} with {description.hyper_parameters}: {reason}") from None


def _scale_of(arch: str, hyper: dict) -> int:
    return int(hyper["scale"] if arch == "RRDBNet" else hyper["upscale"])


def load_weights(description: ArchDescription, state: dict, where: str = "checkpoint"):
    """Build ``description`` and load ``state`` strictly; clear errors for missing/unexpected/misshapen keys."""
    return load_strict(build(description), state, description.summary(), where)


def load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    """Read, detect and build a super-resolution checkpoint: ``LoadedCheckpoint(description, module, path)``.

    The file is untrusted: whatever Python error its contents provoke past the checks (a damaged zip, a
    description with the wrong types, shapes the detectors did not foresee; found by benchmarks/fuzz.py) is
    one ``ModelError`` line naming the file, never a traceback or a library's advice to load unsafely.
    """
    try:
        with warnings.catch_warnings():
            # torch's notes while building from a hostile description ("Initializing zero-element tensors is a
            # no-op"): the strict shape check that follows speaks for the file.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.")
            return _load_checkpoint(path)
    except ModelError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError, NotImplementedError,
            RuntimeError, EOFError, OSError, zipfile.BadZipFile, struct.error, zlib.error) as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if any(word in text for word in ("weights_only", "allow_pickle", "pickle")):
            text = ""
        detail = f" ({type(error).__name__}{': ' + text[:160] if text else ''})"
        raise ModelError(f"{path}: not a checkpoint acutance can read, or corrupt{detail}") from None


def _load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    state, described = read_checkpoint(path)
    state = normalise_keys(state)
    where = str(path)
    if described is not None:
        arch = described["arch"]
        if arch not in KNOWN_ARCHS:
            raise ModelError(f"{where}: describes architecture {arch!r}; known: {', '.join(KNOWN_ARCHS)}")
        hyper = dict(described["hyper_parameters"])
        try:
            description = ArchDescription(arch, hyper, _scale_of(arch, hyper))
        except KeyError as error:
            raise ModelError(f"{where}: its description lacks {error}") from None
        return LoadedCheckpoint(description, load_weights(description, state, where), Path(path))
    detector = find(state, where, task="sr")
    description = detector.describe(state, where)
    return LoadedCheckpoint(description, detector.load(state, where, description), Path(path))


def save_safetensors(module: Any, path: str | os.PathLike, *, overwrite: bool = False, extra: dict | None = None) -> Path:
    """Write ``module``'s weights as safetensors with its description in the metadata (atomically).

    The description (``arch`` = class name, ``hyper_parameters()``, ``scale``) makes the file self-describing,
    so architectures whose options do not show in the keys (SRVGG's ``skip``) load back exactly.
    """
    _torch()
    from safetensors.torch import save

    from acutance.io import atomic_write_bytes, check_writable_output

    arch = type(module).__name__
    hyper = module.hyper_parameters()
    description = {"format": CHECKPOINT_FORMAT, "arch": arch, "hyper_parameters": hyper,
                   "scale": _scale_of(arch, hyper) if arch in KNOWN_ARCHS else None, **(extra or {})}
    tensors = {key: value.detach().contiguous().cpu() for key, value in module.state_dict().items()}
    target = check_writable_output(path, overwrite=overwrite)
    return atomic_write_bytes(target, save(tensors, metadata={META_KEY: json.dumps(description)}), overwrite=overwrite)
