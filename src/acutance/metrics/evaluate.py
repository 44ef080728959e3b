"""Fidelity metrics on files: one ref/dist pair, or two folders matched by file stem; CSV and JSON reports.

A row is a dict ``{"name", "ref", "dist", <metric>: float, ...}``; :func:`evaluate_folders` appends a
``name == "mean"`` row (empty ``ref``/``dist``) with the mean of each metric over the pairs. The metrics are
the full-reference ones of :mod:`acutance.metrics.registry`, computed through it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from acutance.errors import OptionError
from acutance.metrics import registry

METRIC_NAMES = registry.metric_names("full-reference")
DEFAULT_METRICS = ("psnr", "ssim")
MEAN_NAME = "mean"

Warn = Callable[[str], None]


def parse_metric_names(metrics: str | Iterable[str]) -> tuple[str, ...]:
    """``"psnr,ssim"`` or ``["psnr", "ssim"]`` -> ``("psnr", "ssim")``; unknown or no names -> ``OptionError``."""
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names: list[str] = []
    for item in items:
        if not str(item).strip():
            continue
        name = registry.metric_info(item, "full-reference").name  # unknown: OptionError naming the choices
        if name not in names:
            names.append(name)
    if not names:
        raise OptionError(f"no metric given: choose from {', '.join(METRIC_NAMES)}")
    return tuple(names)


def _default_warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def evaluate_pair(
    ref_path: str | os.PathLike,
    dist_path: str | os.PathLike,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    gray: bool = False,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
) -> dict:
    """Read two image files and measure them: ``{"name": dist stem, "ref", "dist", <metric>: value}``.

    Different sizes raise ``OptionError`` naming both files; unreadable files raise ``ImageReadError``.
    """
    from acutance.io import read_image

    names = parse_metric_names(metrics)
    if y_channel and gray:
        raise OptionError("choose at most one of y_channel and gray")
    ref_image, dist_image = read_image(ref_path), read_image(dist_path)
    ref, dist = ref_image.rgb, dist_image.rgb
    if ref_image.meta.grayscale and dist_image.meta.grayscale:
        # Two single-channel files are compared on that channel, as MATLAB scripts do.
        ref, dist = ref[:, :, 0], dist[:, :, 0]
    if ref.shape != dist.shape:
        raise OptionError(
            f"size mismatch: reference {ref_path} is {ref.shape[1]}x{ref.shape[0]} but "
            f"distorted {dist_path} is {dist.shape[1]}x{dist.shape[0]}"
        )
    row: dict = {"name": Path(dist_path).stem, "ref": str(ref_path), "dist": str(dist_path)}
    for name in names:
        row[name] = registry.compute(name, ref, dist, crop_border=crop_border, y_channel=y_channel, gray=gray)
    return row


def _index_by_stem(images: list[Path], folder: Path) -> dict[str, Path]:
    by_stem: dict[str, Path] = {}
    for path in images:
        if path.stem in by_stem:
            raise OptionError(
                f"two images in {folder} share the name {path.stem!r}: {by_stem[path.stem].name} and {path.name};"
                " pairs are matched by name without extension"
            )
        by_stem[path.stem] = path
    return by_stem


def evaluate_folders(
    ref_dir: str | os.PathLike,
    dist_dir: str | os.PathLike,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    gray: bool = False,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    warn: Warn | None = None,
) -> list[dict]:
    """Measure every image of ``dist_dir`` against the image of ``ref_dir`` with the same stem.

    Returns one row per matched pair (sorted by name) and a final ``"mean"`` row. Images without a partner
    and non-image files are reported through ``warn`` (default: ``warnings.warn``) and skipped; no matched
    pair at all is an ``OptionError``.
    """
    from acutance.io import list_images

    names = parse_metric_names(metrics)
    warn = warn or _default_warn
    ref_root, dist_root = Path(ref_dir), Path(dist_dir)
    ref_images, ref_skipped = list_images(ref_root)
    dist_images, dist_skipped = list_images(dist_root)
    for path in [*ref_skipped, *dist_skipped]:
        warn(f"skipping {path}: not an image file")
    refs = _index_by_stem(ref_images, ref_root)
    dists = _index_by_stem(dist_images, dist_root)
    for stem in sorted(set(refs) - set(dists)):
        warn(f"no distorted image for reference {refs[stem]} in {dist_root}")
    for stem in sorted(set(dists) - set(refs)):
        warn(f"no reference image for {dists[stem]} in {ref_root}")
    matched = sorted(set(refs) & set(dists))
    if not matched:
        raise OptionError(f"no images with the same name in {ref_root} and {dist_root}")
    rows = [
        evaluate_pair(
            refs[stem], dists[stem], crop_border=crop_border, y_channel=y_channel, gray=gray, metrics=names
        )
        for stem in matched
    ]
    for row, stem in zip(rows, matched):
        row["name"] = stem
    rows.append(mean_row(rows, names))
    return rows


def mean_row(rows: Sequence[dict], metrics: Sequence[str]) -> dict:
    """The ``"mean"`` row of ``rows`` for each metric (``inf`` PSNR of identical pairs makes the mean inf)."""
    row: dict = {"name": MEAN_NAME, "ref": "", "dist": ""}
    for name in metrics:
        values = [r[name] for r in rows if r.get("name") != MEAN_NAME]
        row[name] = math.fsum(values) / len(values) if values else math.nan
    return row


def _columns(rows: Sequence[dict]) -> list[str]:
    columns = ["name", "ref", "dist"]
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def write_csv(rows: Sequence[dict], path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write rows as CSV (header ``name,ref,dist,<metrics>``; floats at full precision, ``inf`` as ``inf``).

    Atomic; an existing file is an ``ImageWriteError`` unless ``overwrite``.
    """
    from acutance.io import atomic_write_bytes

    columns = _columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(column, "")) for column in columns])
    return atomic_write_bytes(path, buffer.getvalue().encode("utf-8"), overwrite=overwrite)


def write_json(rows: Sequence[dict], path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write rows as a JSON list of objects; non-finite numbers (PSNR of identical images) as ``"inf"``.

    Atomic; an existing file is an ``ImageWriteError`` unless ``overwrite``.
    """
    from acutance.io import atomic_write_bytes

    data = [{key: _json_value(value) for key, value in row.items()} for row in rows]
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def _csv_value(value: object) -> object:
    if isinstance(value, float):
        return repr(value)
    return value


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan"
    return value
