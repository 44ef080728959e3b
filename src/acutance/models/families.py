"""Model families: one face for every method, and the one dispatch path from a name or a file to a model.

A family module (``FAMILIES``) has:

- ``FORMAT``: the format tag of its files' self-description (the JSON ``meta`` entry of an npz, the ``acutance``
  metadata entry of an ONNX file); ``None`` for families without files (interpolators, classical filters);
- ``read(source, **options) -> model``: the file read strictly (``source`` is a path; the row name for
  families without files); the model keeps its self-description as ``model.meta``;
- ``describe(meta) -> dict``: the facts of ``ModelInfo`` (``descriptor.FACTS``: task, scales, input, tile,
  context, ...) worked out from that self-description alone, so a registry lookup reads the file's header and
  never decompresses its tables; a loaded model is described by ``describe(model.meta)``;
- ``Enhancer(info, model)``: the runnable model (``model.info`` is ``info``).

Names, files and suffixes all come through :func:`resolve` (which family, which file) and :func:`load`.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo


@dataclass(frozen=True)
class Family:
    """module: the family module; format: its files' format tag (tested equal to ``module.FORMAT``);
    suffixes: file name endings it reads; title: what a file of it is, in messages and summaries."""

    module: str
    format: str | None
    suffixes: tuple[str, ...]
    title: str


FAMILIES: dict[str, Family] = {
    "interpolation": Family("acutance.models.interpolation", None, (), "interpolator"),
    "classical": Family("acutance.models.classical", None, (), "classical filter"),
    "hashed": Family("acutance.raisr.runtime", "acutance-hashed-filters-1", (".npz",), "hashed filters"),
    "lut": Family("acutance.lut.runtime", "acutance-lut-1", (".npz",), "LUT SR tables"),
    "lerf": Family("acutance.lut.lerf", "acutance-lerf-1", (".npz",), "LeRF resampler"),
    "splut": Family("acutance.lut.splut", "acutance-splut-1", (".npz",), "SPLUT tables"),
    "edgesr": Family("acutance.edgesr.runtime", "acutance-edgesr-1", (".npz",), "edge-SR network"),
    "face-quality": Family("acutance.faces.quality", "acutance-face-quality", (".npz",), "face-quality regressor"),
    "niqe": Family("acutance.metrics.niqe", "acutance-niqe-1", (".npz",), "NIQE pristine model"),
    "dncm": Family("acutance.grading.dncm", "acutance-dncm-1", (".npz",), "DNCM colour-look encoder"),
    "antialias": Family("acutance.antialias.runtime", "acutance-antialias-1", (".npz",), "anti-aliasing filters"),
    "face": Family("acutance.faces.restorer", "acutance-face-restorer-1", (".onnx",), "ONNX face restorer"),
    "inpaint": Family("acutance.inpaint.runtime", "acutance-inpaint-1", (".onnx",), "inpainting network"),
    "pre-encode": Family("acutance.preencode.chooser", "acutance-pre-encode-1", (".npz",), "pre-encode chooser"),
    "vsr": Family("acutance.vsr.runtime", "acutance-vsr-1", (".onnx",), "temporal video upscaler"),
    # The shipped deep nets, by name only: their detail knob is the presence of a companion weights file.
    "deep-shipped": Family("acutance.deep.shipped", "acutance-onnx-1", (), "shipped deep SR net"),
    # Last: an ONNX file that names no format of ours is a foreign SR net (its scale found by running it).
    "deep": Family("acutance.deep.runtime", "acutance-onnx-1", (".onnx", ".pth", ".pt", ".safetensors"), "deep SR net"),
}
WEIGHTS = "weights"  # the shipped model files: acutance/weights/


def module(family: str):
    """The family's module, imported on first use (only the chosen family's code is ever imported)."""
    try:
        return importlib.import_module(FAMILIES[family].module)
    except KeyError:
        raise ModelError(f"unknown model family {family!r} (known: {', '.join(FAMILIES)})") from None


def shipped(file: str):
    """The shipped model file ``acutance/weights/{file}`` (an importlib.resources Traversable)."""
    return resources.files("acutance").joinpath(WEIGHTS, file)


def suffix_of(path: str | os.PathLike) -> str:
    return Path(path).suffix.lower()


def known_suffixes() -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for family in FAMILIES.values() for s in family.suffixes))


def header(path: str | os.PathLike) -> dict:
    """A model file's self-description (its npz ``meta`` / ONNX ``acutance`` metadata; {} if it has none),
    read without its weights."""
    suffix = suffix_of(path)
    if suffix == ".npz":
        from acutance.models.weights import read_npz_meta

        return read_npz_meta(path)
    if suffix == ".onnx":
        from acutance.deep.runtime import read_onnx_meta

        meta = read_onnx_meta(path)
        if "format" not in meta and "native_size" in meta:
            # face restorers exported before the format tag (acutance.faces.train.export_onnx) say only this
            meta = meta | {"format": FAMILIES["face"].format}
        return meta
    return {}  # torch checkpoints describe nothing; the deep family detects them from their keys


def family_of_file(path: str | os.PathLike) -> str:
    """The family that reads ``path``: by its suffix, then by the format its self-description names."""
    path = Path(path)
    suffix = suffix_of(path)
    candidates = [name for name, family in FAMILIES.items() if suffix in family.suffixes]
    if not candidates:
        raise ModelError(f"{path}: unknown model file type {path.suffix!r} (known: {', '.join(known_suffixes())})")
    if len(candidates) == 1:
        return candidates[0]
    fmt = header(path).get("format")
    for name in candidates:
        if FAMILIES[name].format == fmt:
            return name
    if suffix == ".onnx":
        return "deep"  # a foreign ONNX SR net
    known = ", ".join(FAMILIES[name].format for name in candidates)  # type: ignore[misc]
    raise ModelError(f"{path}: not a model file of a known format (format {fmt!r}; known: {known})")


def describe(family: str, meta: dict) -> dict:
    return module(family).describe(meta)


# --- the described facts of shipped files, kept between runs ------------------------------------------------
# Describing a registered model imports its family's module (numba for most) and reads its file's header;
# ``acutance list`` does that for every model. The facts are kept in a small JSON file in the user's cache,
# keyed by the model file's and the family code's sizes and times, so a changed file or describing code is
# described afresh. ACUTANCE_CACHE_DIR moves the cache ("" turns it off); an unwritable one is skipped.
_TUPLE_FACTS = ("scales", "options", "requires")


def _cache_path() -> Path | None:
    where = os.environ.get("ACUTANCE_CACHE_DIR")
    if where == "":
        return None
    base = Path(where) if where else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "acutance"
    return base / "described.json"


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _code_stamp(family: str) -> str:
    """Sizes and times of the family package's and ``acutance.models``' sources (what describing runs)."""
    root = Path(__file__).resolve().parents[1]
    folder = root.joinpath(*FAMILIES[family].module.split(".")[1:-1])
    files = sorted({*folder.glob("*.py"), *root.joinpath("models").glob("*.py")})
    return ",".join(f"{f.name}={_stamp(f)}" for f in files)


def cached_describe(key: str, family: str, file: Path | None, describe_now) -> dict:
    """``describe_now()``, or the facts kept from an earlier run for the same file and code."""
    cache = _cache_path()
    if cache is None:
        return describe_now()
    stamp = f"{family}|{_stamp(file) if file else '-'}|{_code_stamp(family)}"
    try:
        table = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = {}
    entry = table.get(key) if isinstance(table, dict) else None
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("facts"), dict):
        facts = entry["facts"]
        return {k: tuple(v) if k in _TUPLE_FACTS and v is not None else v for k, v in facts.items()}
    facts = describe_now()
    table = table if isinstance(table, dict) else {}
    table[key] = {"stamp": stamp, "facts": facts}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps(table, sort_keys=True), encoding="utf-8")
        temp.replace(cache)  # atomic: concurrent runs each write a whole table
    except OSError:
        pass
    return facts


def file_info(family: str, path: Path, meta: dict) -> ModelInfo:
    """The descriptor of a model file of one's own: its stem, its self-description, the family's facts."""
    title = FAMILIES[family].title
    return ModelInfo(
        name=path.stem,
        summary=str(meta.get("summary") or f"{title} from {path}"),
        licence=str(meta.get("licence") or "(your model)"),
        loader=FAMILIES[family].module,
        **describe(family, meta),
    )


def load(family: str, source: Any, info: ModelInfo | None = None, **options):
    """Read ``source`` with the family, describe it unless ``info`` is given, and wrap it as its Enhancer."""
    mod = module(family)
    model = mod.read(source, **options)
    if info is None:
        info = file_info(family, Path(source), model.meta)
    return mod.Enhancer(info, model)
