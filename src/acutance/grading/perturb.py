"""Random colour perturbations for DNCM's self-supervised training: random tone curves, white balance, HSL
shifts, split-toning, film-like smooth 3D LUTs, channel mixing, and a colourist's primary tools (an ASC CDL
grade with saturation, a pivoted contrast curve, a tinted desaturation), composed at random.

Every function takes and returns ``float32 HxWx3 RGB in [0, 1]`` and draws only from the generator passed in,
so a training run is reproduced by its seed. The benchmark's held-out looks (``benchmarks/colour.py``) are a
different parametric family, never drawn here.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec. 601, as acutance.color


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ LUMA


def random_curve(rng: np.random.Generator, knots: int = 6, strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A monotone tone curve through ``knots`` points (random positive increments), blended with identity."""
    x = np.linspace(0.0, 1.0, knots + 1)
    steps = rng.gamma(3.0, 1.0, knots)
    y = np.concatenate([[0.0], np.cumsum(steps) / steps.sum()])
    lift, top = rng.uniform(0, 0.08) * strength, 1 - rng.uniform(0, 0.08) * strength
    y = lift + (top - lift) * y
    mix = strength * rng.uniform(0.2, 1.0)
    return x, (1 - mix) * x + mix * y


def curves(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    master = random_curve(rng, strength=strength)
    out = np.interp(rgb, *master).astype(np.float32)
    for c in range(3):  # per-channel curves, milder
        x, y = random_curve(rng, strength=0.5 * strength)
        out[..., c] = np.interp(out[..., c], x, y)
    return out


def white_balance(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    gains = np.exp(rng.normal(0.0, 0.15 * strength, 3)).astype(np.float32)
    gains /= gains @ LUMA  # keep the brightness
    return np.clip(rgb * gains, 0, 1)


def hsl_shift(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    import cv2

    hls = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2HLS)  # H in degrees
    hls[..., 0] = (hls[..., 0] + rng.normal(0.0, 12.0 * strength)) % 360.0
    hls[..., 2] = np.clip(hls[..., 2] * np.exp(rng.normal(0.0, 0.35 * strength)), 0, 1)
    hls[..., 1] = np.clip(hls[..., 1] ** np.exp(rng.normal(0.0, 0.2 * strength)), 0, 1)
    return np.clip(cv2.cvtColor(hls, cv2.COLOR_HLS2RGB), 0, 1)


def split_toning(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    y = luma(rgb)[..., None]
    shadow = rng.normal(0.0, 0.08 * strength, 3).astype(np.float32)
    highlight = rng.normal(0.0, 0.08 * strength, 3).astype(np.float32)
    out = rgb + (1 - y) ** 2 * (shadow - shadow @ LUMA) + y**2 * (highlight - highlight @ LUMA)
    return np.clip(out, 0, 1).astype(np.float32)


def film_lut(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0, size: int = 5) -> np.ndarray:
    """A smooth random 3D LUT: identity plus low-frequency offsets on a ``size``^3 grid (cross-channel)."""
    grid = np.linspace(0.0, 1.0, size, dtype=np.float32)
    r, g, b = np.meshgrid(grid, grid, grid, indexing="ij")
    table = np.stack([r, g, b], -1) + rng.normal(0.0, 0.05 * strength, (size, size, size, 3)).astype(np.float32)
    table[0, 0, 0] = np.clip(table[0, 0, 0], 0, 0.1)  # black stays near black
    return np.clip(trilinear(rgb, table), 0, 1).astype(np.float32)


def trilinear(rgb: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table`` (n x n x n x 3, indexed [r, g, b]) looked up with trilinear interpolation, vectorised (for
    thumbnails; full images go through ``acutance.grading.cube.apply_lut``)."""
    n = table.shape[0]
    x = np.clip(rgb, 0, 1).reshape(-1, 3) * (n - 1)
    low = np.minimum(x.astype(np.int64), n - 2)
    f = (x - low).astype(np.float32)
    out = np.zeros_like(x, dtype=np.float32)
    for dr in (0, 1):
        wr = f[:, 0] if dr else 1 - f[:, 0]
        for dg in (0, 1):
            wg = wr * (f[:, 1] if dg else 1 - f[:, 1])
            for db in (0, 1):
                w = wg * (f[:, 2] if db else 1 - f[:, 2])
                out += w[:, None] * table[low[:, 0] + dr, low[:, 1] + dg, low[:, 2] + db]
    return out.reshape(rgb.shape)


def channel_mix(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    mix = np.eye(3) + rng.normal(0.0, 0.08 * strength, (3, 3))
    mix /= mix.sum(axis=1, keepdims=True)  # rows sum to 1: grey stays grey
    return np.clip(rgb @ mix.T.astype(np.float32), 0, 1)


REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # the ASC CDL's saturation weights


def primary_grade(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """An ASC CDL grade: per-channel slope, offset and power, then the CDL saturation."""
    slope = np.exp(rng.normal(0.0, 0.15 * strength, 3)).astype(np.float32)
    offset = rng.normal(0.0, 0.04 * strength, 3).astype(np.float32)
    power = np.exp(rng.normal(0.0, 0.2 * strength, 3)).astype(np.float32)
    out = np.clip(rgb * slope + offset, 0, 1) ** power
    saturation = np.float32(np.exp(rng.normal(0.0, 0.4 * strength)))
    y = (out @ REC709)[..., None]
    return np.clip(y + saturation * (out - y), 0, 1).astype(np.float32)


def contrast(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Contrast around a pivot: a power curve below it, the mirrored one above (an S for ``c`` > 1)."""
    pivot = np.float32(rng.uniform(0.3, 0.6))
    c = np.float32(np.exp(rng.normal(0.0, 0.4 * strength)))
    x = np.clip(rgb, 0, 1)
    low = pivot * (x / pivot) ** c
    high = 1 - (1 - pivot) * ((1 - x) / (1 - pivot)) ** c
    return np.where(x < pivot, low, high).astype(np.float32)


def tinted_desaturation(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A blend toward a tinted monochrome (duotone-like): ``amount`` of luma times a colour of luma 1."""
    tint = np.exp(rng.normal(0.0, 0.12 * strength, 3)).astype(np.float32)
    tint /= tint @ LUMA
    amount = np.float32(min(1.0, rng.uniform(0.1, 0.8) * strength))
    mono = luma(rgb)[..., None] * tint
    return np.clip(rgb + amount * (mono - rgb), 0, 1).astype(np.float32)


PERTURBATIONS = (curves, white_balance, hsl_shift, split_toning, film_lut, channel_mix)
# "broad": with a colourist's primaries too, each drawn less often (about three per look, as "basic")
FAMILIES = {"basic": (PERTURBATIONS, 0.5),
            "broad": (PERTURBATIONS + (primary_grade, contrast, tinted_desaturation), 0.35)}


def random_look(rgb: np.ndarray, rng: np.random.Generator, family: str = "basic") -> np.ndarray:
    """A random composition of the ``family``'s perturbations: each applied with the family's probability, at a
    random strength, in a random order (at least one)."""
    functions, probability = FAMILIES[family]
    chosen = [f for f in functions if rng.random() < probability] or [functions[rng.integers(len(functions))]]
    out = rgb
    for index in rng.permutation(len(chosen)):
        out = chosen[index](out, rng, float(rng.uniform(0.3, 1.3)))
    return np.ascontiguousarray(out, dtype=np.float32)
