"""``.cube`` 3D LUTs (Adobe Cube LUT Specification 1.0, as DaVinci Resolve, Premiere and ffmpeg's ``lut3d``
read them): reading, writing and applying.

Reading: every line is checked first (keywords, three finite numbers per data line, the size, the count), so
a malformed file or a wrong size is one ``LutError`` naming the line; the file is then read by
colour-science's Iridas/Adobe cube reader (``colour.io.read_LUT``). Writing goes through colour-science's
writer (``colour.io.write_LUT``) and an atomic rename.

Applying: trilinear or tetrahedral interpolation in numba (colour-science's ``LUT3D.apply`` is the reference
the tests compare with; it is too slow for 4K frames), the tetrahedra split as ffmpeg's ``lut3d`` does.
Table layout: ``table[r, g, b] = (R', G', B')``; in the file red changes fastest.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import AcutanceError

INTERPOLATIONS = ("tetrahedral", "trilinear")
MAX_3D_SIZE = 256  # the specification's limits
MAX_1D_SIZE = 65536
_KEYWORDS = ("TITLE", "LUT_1D_SIZE", "LUT_3D_SIZE", "DOMAIN_MIN", "DOMAIN_MAX", "LUT_1D_INPUT_RANGE",
             "LUT_3D_INPUT_RANGE")  # fmt: skip


class LutError(AcutanceError):
    """A ``.cube`` file that cannot be used: one line naming the file and, where it applies, the line."""


@dataclass(frozen=True)
class CubeLut:
    """A LUT read from a ``.cube`` file: a 3D table ``size^3 x 3`` (or a 1D table ``size x 3``) and its domain."""

    table: np.ndarray  # float32: [r, g, b, 3] for 3D, [i, 3] for 1D
    domain: np.ndarray  # 2 x 3: min row, max row
    title: str = ""

    @property
    def is_3d(self) -> bool:
        return self.table.ndim == 4

    @property
    def size(self) -> int:
        return self.table.shape[0]


def _colour():
    """colour-science, imported quietly (it warns about its optional plotting dependency on import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import colour
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise AcutanceError("reading and writing .cube files needs colour-science (pip install 'acutance[colour]')") from error
    return colour


def check_cube_text(text: str, name: str) -> tuple[int, int]:
    """Validate a ``.cube`` file's text line by line; returns (dimensions 1 or 3, size). The error names the
    line (1-based) of the first problem."""
    dims = size = 0
    count = 0
    last = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        keyword = tokens[0]
        if keyword in ("LUT_1D_SIZE", "LUT_3D_SIZE"):
            if dims:
                raise LutError(f"{name} line {number}: a second size keyword ({keyword})")
            if count:
                raise LutError(f"{name} line {number}: {keyword} after table data")
            limit = MAX_3D_SIZE if keyword == "LUT_3D_SIZE" else MAX_1D_SIZE
            if len(tokens) != 2 or not tokens[1].isdigit() or not 2 <= int(tokens[1]) <= limit:
                raise LutError(f"{name} line {number}: {keyword} must be one integer in 2..{limit}, got {line!r}")
            dims, size = (3 if keyword == "LUT_3D_SIZE" else 1), int(tokens[1])
            continue
        if keyword == "TITLE":
            if count:
                raise LutError(f"{name} line {number}: TITLE after table data")
            continue
        if keyword in _KEYWORDS:  # DOMAIN_* and *_INPUT_RANGE: numbers after the keyword
            want = 2 if keyword.endswith("INPUT_RANGE") else 3
            if count:
                raise LutError(f"{name} line {number}: {keyword} after table data")
            if len(tokens) != want + 1 or not all(_finite(t) for t in tokens[1:]):
                raise LutError(f"{name} line {number}: {keyword} needs {want} numbers, got {line!r}")
            continue
        if keyword[0].isalpha() and not _number(keyword):
            raise LutError(f"{name} line {number}: unknown keyword {keyword!r}")
        if not dims:
            raise LutError(f"{name} line {number}: table data before LUT_3D_SIZE (or LUT_1D_SIZE)")
        if len(tokens) != 3 or not all(_finite(t) for t in tokens):
            raise LutError(f"{name} line {number}: expected three finite numbers, got {line[:60]!r}")
        count += 1
        last = number
        if count > size**dims:
            raise LutError(f"{name} line {number}: more table rows than {_size_text(dims, size)} ({size**dims})")
    if not dims:
        raise LutError(f"{name}: not a .cube LUT: no LUT_3D_SIZE (or LUT_1D_SIZE) line")
    if count != size**dims:
        where = f"the last at line {last}" if last else "none found"
        raise LutError(f"{name}: {_size_text(dims, size)} needs {size**dims} table rows, found {count} ({where})")
    return dims, size


def _size_text(dims: int, size: int) -> str:
    return f"LUT_{dims}D_SIZE {size}"


def _number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _finite(token: str) -> bool:
    try:
        return math.isfinite(float(token))
    except ValueError:
        return False


def read_cube(path: str | os.PathLike) -> CubeLut:
    """Read a ``.cube`` file (3D, or 1D as three curves); ``LutError`` naming the line when it is malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LutError(f"{path}: no such LUT file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LutError(f"{path}: cannot read the LUT: {error}") from None
    check_cube_text(text, str(path))
    # Resolve's LUT_nD_INPUT_RANGE lo hi is DOMAIN_MIN lo lo lo / DOMAIN_MAX hi hi hi, which colour reads.
    lines = []
    for raw in text.splitlines():
        tokens = raw.split()
        if tokens and tokens[0].endswith("_INPUT_RANGE"):
            lines += [f"DOMAIN_MIN {tokens[1]} {tokens[1]} {tokens[1]}", f"DOMAIN_MAX {tokens[2]} {tokens[2]} {tokens[2]}"]
        else:
            lines.append(raw)
    colour = _colour()
    with tempfile.TemporaryDirectory() as folder:  # colour's reader takes a path
        clean = Path(folder) / "lut.cube"
        clean.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            lut = colour.io.read_LUT(str(clean))
        except (ValueError, IndexError) as error:  # checked above; kept so that nothing escapes as a traceback
            raise LutError(f"{path}: cannot read the LUT: {error}") from None
    domain = np.asarray(lut.domain, dtype=np.float32)
    if domain.shape != (2, 3) or np.any(domain[1] <= domain[0]):
        raise LutError(f"{path}: DOMAIN_MAX must be above DOMAIN_MIN in every channel")
    return CubeLut(np.ascontiguousarray(lut.table, dtype=np.float32), domain, str(lut.name or ""))


def cube_bytes(table: np.ndarray, *, title: str = "acutance", decimals: int = 6) -> bytes:
    """A 3D table ``[r, g, b, 3]`` (domain 0..1) as the bytes of a ``.cube`` file (colour-science's writer)."""
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 4 or table.shape[3] != 3 or len(set(table.shape[:3])) != 1:
        raise LutError(f"a 3D LUT table must be N x N x N x 3, got {table.shape}")
    colour = _colour()
    with tempfile.TemporaryDirectory() as folder:
        temp = Path(folder) / "lut.cube"
        colour.io.write_LUT(colour.LUT3D(table, name=title), str(temp), decimals=decimals)
        return temp.read_bytes()


def write_cube(path: str | os.PathLike, table: np.ndarray, *, title: str = "acutance", overwrite: bool = False,
               decimals: int = 6) -> Path:
    """Write a 3D table ``[r, g, b, 3]`` (domain 0..1) as a ``.cube`` file, atomically."""
    from acutance.io.files import atomic_write_bytes

    return atomic_write_bytes(path, cube_bytes(table, title=title, decimals=decimals), overwrite=overwrite)


def _kernels():
    import numba as nb

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def apply3d(rgb, table, low, span, tetrahedral, out):
        n = table.shape[0]
        top = n - 1
        for i in nb.prange(rgb.shape[0]):
            for j in range(rgb.shape[1]):
                x = np.empty(3, np.float32)
                base = np.empty(3, np.int64)
                for c in range(3):
                    v = min(max((rgb[i, j, c] - low[c]) / span[c], 0.0), 1.0) * top
                    k = min(int(v), top - 1)
                    base[c] = k
                    x[c] = v - k
                r0, g0, b0 = base[0], base[1], base[2]
                dr, dg, db = x[0], x[1], x[2]
                for c in range(3):
                    c000 = table[r0, g0, b0, c]
                    c111 = table[r0 + 1, g0 + 1, b0 + 1, c]
                    if tetrahedral:
                        if dr > dg:
                            if dg > db:
                                v = (1 - dr) * c000 + (dr - dg) * table[r0 + 1, g0, b0, c] + (dg - db) * table[r0 + 1, g0 + 1, b0, c] + db * c111
                            elif dr > db:
                                v = (1 - dr) * c000 + (dr - db) * table[r0 + 1, g0, b0, c] + (db - dg) * table[r0 + 1, g0, b0 + 1, c] + dg * c111
                            else:
                                v = (1 - db) * c000 + (db - dr) * table[r0, g0, b0 + 1, c] + (dr - dg) * table[r0 + 1, g0, b0 + 1, c] + dg * c111
                        else:
                            if db > dg:
                                v = (1 - db) * c000 + (db - dg) * table[r0, g0, b0 + 1, c] + (dg - dr) * table[r0, g0 + 1, b0 + 1, c] + dr * c111
                            elif db > dr:
                                v = (1 - dg) * c000 + (dg - db) * table[r0, g0 + 1, b0, c] + (db - dr) * table[r0, g0 + 1, b0 + 1, c] + dr * c111
                            else:
                                v = (1 - dg) * c000 + (dg - dr) * table[r0, g0 + 1, b0, c] + (dr - db) * table[r0 + 1, g0 + 1, b0, c] + db * c111
                    else:
                        c00 = c000 * (1 - dr) + table[r0 + 1, g0, b0, c] * dr
                        c10 = table[r0, g0 + 1, b0, c] * (1 - dr) + table[r0 + 1, g0 + 1, b0, c] * dr
                        c01 = table[r0, g0, b0 + 1, c] * (1 - dr) + table[r0 + 1, g0, b0 + 1, c] * dr
                        c11 = table[r0, g0 + 1, b0 + 1, c] * (1 - dr) + c111 * dr
                        v = (c00 * (1 - dg) + c10 * dg) * (1 - db) + (c01 * (1 - dg) + c11 * dg) * db
                    out[i, j, c] = min(max(v, 0.0), 1.0)

    return apply3d


@lru_cache(maxsize=1)
def _apply3d():
    return _kernels()


def apply_lut(rgb: np.ndarray, lut: CubeLut, interpolation: str = "tetrahedral") -> np.ndarray:
    """``rgb`` through ``lut``; the result is clipped to [0, 1] (the image contract)."""
    check_rgb(rgb)
    if interpolation not in INTERPOLATIONS:
        raise AcutanceError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
    low, span = lut.domain[0], lut.domain[1] - lut.domain[0]
    if not lut.is_3d:  # three 1D curves, linear between entries
        grid = np.linspace(0.0, 1.0, lut.size, dtype=np.float32)
        scaled = np.clip((rgb - low) / span, 0, 1)
        out = np.stack([np.interp(scaled[..., c], grid, lut.table[:, c]) for c in range(3)], -1)
        return np.clip(out, 0, 1).astype(np.float32)
    out = np.empty_like(rgb)
    _apply3d()(np.ascontiguousarray(rgb), lut.table, low.astype(np.float32), span.astype(np.float32),
               interpolation == "tetrahedral", out)
    return out
