"""What a batch will do: which inputs map to which outputs, and which outputs are already done."""

from __future__ import annotations

import glob
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from acutance.errors import AcutanceError, OptionError
from acutance.io.image import OPTION_SUFFIXES as SUFFIXES  # --format NAME -> the suffix written
from acutance.io.image import SUFFIX_FORMATS as FILE_FORMATS


@dataclass(frozen=True)
class BatchOptions:
    """A batch run. ``workers`` > 1 runs a local process pool; ``dask`` a Dask scheduler address."""

    model: str
    scale: float | None = None  # None: the model's own
    recursive: bool = False
    workers: int = 1
    dask: str | None = None  # "tcp://host:8786", or "local" for a LocalCluster of ``workers`` processes
    dask_timeout: float = 30.0  # seconds to wait for the scheduler
    format: str | None = None  # a key of SUFFIXES; None keeps each input's format
    bit_depth: int | None = None
    quality: int = 95
    tile: int | None = None
    overwrite: bool = False  # recompute outputs that exist (otherwise valid ones are kept: resume)
    manifest: Path | None = None  # None: OUT_DIR/manifest.csv; a .json name writes JSON
    progress: bool = True
    first_frame: bool = False  # process the first frame of an animated input instead of failing it

    def __post_init__(self) -> None:
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise OptionError(f"--scale must be a positive number, got {self.scale:g}")
        if self.workers < 1:
            raise OptionError(f"--workers must be >= 1, got {self.workers}")
        if self.format is not None and self.format not in SUFFIXES:
            raise OptionError(f"unknown --format {self.format!r}; choose one of {', '.join(sorted(SUFFIXES))}")
        if self.bit_depth not in (None, 8, 16):
            raise OptionError(f"--bit-depth must be 8 or 16, got {self.bit_depth}")
        if self.format is not None:  # e.g. --format jpg --bit-depth 16: refused before any work
            from acutance.io import check_output_format

            check_output_format(f"output{SUFFIXES[self.format]}", bit_depth=self.bit_depth)
        if not 1 <= self.quality <= 100:
            raise OptionError(f"--quality must be in 1..100, got {self.quality}")
        if self.tile is not None and self.tile < 0:
            raise OptionError(f"--tile must be >= 0, got {self.tile}")


@dataclass
class Record:
    """One line of the manifest."""

    input: str
    output: str
    model: str
    seconds: float = 0.0
    status: str = "pending"  # done | skipped (already complete) | failed | ignored (not an image)
    message: str = ""
    worker: str = field(default="", repr=False)  # not in the manifest: where it ran
    model_loads: int = field(default=0, repr=False)


@dataclass(frozen=True)
class Task:
    source: Path
    target: Path


def plan(in_dir: Path, out_dir: Path, options: BatchOptions) -> tuple[list[Task], list[Path]]:
    """``(tasks, skipped)``: one task per input image, keeping the tree; the non-image files."""
    from acutance.io import list_images

    if not in_dir.is_dir():
        raise AcutanceError(f"{in_dir}: no such folder" if not in_dir.exists() else f"{in_dir}: not a folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise AcutanceError(f"cannot write into {out_dir}: it is a file, not a folder")
    inside = _is_within(out_dir, in_dir)
    if inside and out_dir.resolve() == in_dir.resolve():
        raise OptionError("OUT_DIR must differ from IN_DIR: outputs keep the input names")
    images, skipped = list_images(in_dir, recursive=options.recursive)
    if inside:  # OUT_DIR inside IN_DIR: a rerun must not take earlier outputs for inputs
        out_resolved = out_dir.resolve()
        images = [p for p in images if not _is_within(p, out_resolved)]
        skipped = [p for p in skipped if not _is_within(p, out_resolved)]
    tasks = []
    for source in images:
        suffix = SUFFIXES[options.format] if options.format else source.suffix
        tasks.append(Task(source, (out_dir / source.relative_to(in_dir)).with_suffix(suffix)))
    return tasks, skipped


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def expected_size(source: Path, scale: float) -> tuple[int, int] | None:
    """(height, width) the output of ``source`` will have, from the header only; None if unreadable."""
    from PIL import Image as PILImage

    from acutance.resize import output_size

    try:
        with PILImage.open(source) as pil:
            width, height = pil.size
            orientation = pil.getexif().get(0x0112, 1)
    except Exception:  # an unreadable input fails later with a proper message
        return None
    if orientation in (5, 6, 7, 8):  # read_image applies EXIF rotation: the axes swap
        width, height = height, width
    return output_size(height, width, scale)


def is_complete(target: Path, size: tuple[int, int] | None) -> bool:
    """Whether ``target`` is a whole, decodable image of the expected size (a finished earlier output).

    Outputs are written to a hidden temp file and renamed, so a killed run leaves none half-written
    under the final name; this also rejects files from elsewhere (a different scale, a damaged copy).
    """
    from acutance.io import read_image

    if size is None or not target.is_file():
        return False
    try:
        return read_image(target).rgb.shape[:2] == size
    except AcutanceError:
        return False


def remove_stale_temps(target: Path) -> None:
    """Delete the hidden temp files a killed run may have left next to ``target``."""
    if target.parent.is_dir():
        pattern = f".{glob.escape(target.stem)}.*.tmp{glob.escape(target.suffix)}"
        for temp in target.parent.glob(pattern):
            try:
                temp.unlink()
            except OSError as error:
                print(f"acutance: warning: cannot remove {temp}: {error.strerror}", file=sys.stderr)
