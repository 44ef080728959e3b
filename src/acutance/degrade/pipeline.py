"""The seeded degradation pipeline: sample every random choice first, then apply them.

``sample_params(config, scale, rng)`` draws all parameters (kernel types and shapes, resize factors and
modes, noise kinds, levels and a seed for the noise field, JPEG qualities, the final order) into a plain
JSON-ready dict; ``apply_params(hr, params)`` is a pure function of the image and that dict. So a pair is
reproduced exactly from its recorded parameters (the JSON sidecar), statistics of the sampler can be
checked without touching pixels, and the same seed gives the same bytes in any process.
"""

from __future__ import annotations

import hashlib

import numpy as np

from acutance.contract import check_rgb
from acutance.degrade.config import DegradeConfig, FinalConfig, KernelConfig, RoundConfig
from acutance.degrade.jpeg import jpeg_compress
from acutance.degrade.kernels import filter_image, make_kernel, sinc_kernel
from acutance.degrade.noise import add_gaussian_noise, add_poisson_noise
from acutance.degrade.resize_ops import resize
from acutance.errors import OptionError

PARAMS_VERSION = 1
DIRECTIONS = ("up", "down", "keep")


def make_rng(seed: int, key: str = "") -> np.random.Generator:
    """A PCG64 generator from ``seed`` and a text ``key`` (a file's relative path, a patch id).

    Folder runs draw each file's parameters from its own generator, so results do not depend on the
    order files are processed in or on the number of workers.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"seed must be a non-negative integer, got {seed!r}")
    words = np.frombuffer(hashlib.sha256(key.encode("utf-8")).digest()[:16], dtype="<u4")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *map(int, words)])))


# --- sampling -----------------------------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _pick(rng: np.random.Generator, probs: tuple[float, ...]) -> int:
    """An index drawn with the given probabilities (normalised: the config allows a sum off by 1e-6)."""
    cdf = np.cumsum(probs, dtype=np.float64)
    index = int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right"))
    return min(index, len(probs) - 1)


def _beta(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    # As Real-ESRGAN: half the draws below 1 (heavier tails), half above, whatever the range's midpoint.
    if lo < 1.0 < hi:
        return _uniform(rng, (lo, 1.0)) if rng.random() < 0.5 else _uniform(rng, (1.0, hi))
    return _uniform(rng, bounds)


def sample_kernel(k: KernelConfig, rng: np.random.Generator) -> dict:
    size = int(k.sizes[rng.integers(len(k.sizes))])
    if rng.random() < k.sinc_prob:
        cutoff = _uniform(rng, k.sinc_cutoff_small if size < k.sinc_small_below else k.sinc_cutoff_large)
        return {"type": "sinc", "size": size, "cutoff": cutoff}
    kind = k.types[_pick(rng, k.probs)]
    sigma_x = _uniform(rng, k.sigma)
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = _uniform(rng, k.sigma), _uniform(rng, k.rotation)
    params = {"type": kind, "size": size, "sigma_x": sigma_x, "sigma_y": sigma_y, "theta": theta}
    if kind.startswith("generalized"):
        params["beta"] = _beta(rng, k.beta_generalized)
    elif kind.startswith("plateau"):
        params["beta"] = _beta(rng, k.beta_plateau)
    return params


def _sample_round(r: RoundConfig, rng: np.random.Generator) -> dict | None:
    if rng.random() >= r.prob:
        return None
    blur = sample_kernel(r.kernel, rng) if rng.random() < r.blur_prob else None
    direction = DIRECTIONS[_pick(rng, r.resize_probs)]
    lo, hi = r.resize_range
    factor = {"up": lambda: _uniform(rng, (1.0, hi)), "down": lambda: _uniform(rng, (lo, 1.0)), "keep": lambda: 1.0}
    resize_params = {
        "direction": direction,
        "factor": factor[direction](),
        "mode": r.resize_modes[int(rng.integers(len(r.resize_modes)))],
        "relative_to": r.resize_relative_to,
    }
    noise = None
    if rng.random() < r.noise_prob:
        gaussian = rng.random() < r.gaussian_noise_prob
        noise = {
            "type": "gaussian" if gaussian else "poisson",
            "gray": bool(rng.random() < r.gray_noise_prob),
            "level": _uniform(rng, r.noise_sigma if gaussian else r.poisson_scale),  # sigma (0-255) or scale
            "seed": int(rng.integers(2**63)),  # the noise field itself comes from its own generator
        }
    jpeg = {"quality": int(rng.integers(r.jpeg_quality[0], r.jpeg_quality[1] + 1))} if rng.random() < r.jpeg_prob else None
    return {"blur": blur, "resize": resize_params, "noise": noise, "jpeg": jpeg}


def _sample_final(f: FinalConfig, rng: np.random.Generator) -> dict:
    if f.order == "random":
        resize_first = bool(rng.random() < f.resize_first_prob)
    else:
        resize_first = f.order == "resize_first"
    mode = f.resize_modes[int(rng.integers(len(f.resize_modes)))]
    sinc = None
    if rng.random() < f.sinc_prob:
        sinc = {"size": int(f.sinc_sizes[rng.integers(len(f.sinc_sizes))]), "cutoff": _uniform(rng, f.sinc_cutoff)}
    jpeg = {"quality": int(rng.integers(f.jpeg_quality[0], f.jpeg_quality[1] + 1))} if rng.random() < f.jpeg_prob else None
    return {"order": "resize_first" if resize_first else "jpeg_first", "resize_mode": mode, "sinc": sinc, "jpeg": jpeg}


def sample_params(config: DegradeConfig, scale: int, rng: np.random.Generator) -> dict:
    """Every random choice of one degradation, as a JSON-ready dict (no pixels touched)."""
    scale = check_scale(scale)
    return {
        "version": PARAMS_VERSION,
        "scale": scale,
        "quantize": config.quantize,
        "rounds": [_sample_round(r, rng) for r in config.rounds],
        "final": _sample_final(config.final, rng),
    }


# --- applying -----------------------------------------------------------------------------------------------


def check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise OptionError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def lr_size(height: int, width: int, scale: int) -> tuple[int, int]:
    """The LR size for an HR image: floor division, as Real-ESRGAN (exact when the scale divides the size)."""
    out = (height // scale, width // scale)
    if min(out) < 1:
        raise OptionError(f"image of {height}x{width} is smaller than the scale {scale}")
    return out


def _apply_noise(image: np.ndarray, noise: dict) -> np.ndarray:
    rng = np.random.default_rng(noise["seed"])
    if noise["type"] == "gaussian":
        return add_gaussian_noise(image, noise["level"], rng, gray=noise["gray"])
    if noise["type"] == "poisson":
        return add_poisson_noise(image, noise["level"], rng, gray=noise["gray"])
    raise OptionError(f"unknown noise type {noise['type']!r} in degradation parameters")


def _apply_round(image: np.ndarray, r: dict, target: tuple[int, int]) -> np.ndarray:
    if r["blur"] is not None:
        blur = dict(r["blur"])
        image = filter_image(image, make_kernel(blur.pop("type"), blur.pop("size"), **blur))
    rz = r["resize"]
    ref = image.shape[:2] if rz["relative_to"] == "input" else target
    size = (max(1, int(ref[0] * rz["factor"])), max(1, int(ref[1] * rz["factor"])))
    image = resize(image, size, rz["mode"])
    if r["noise"] is not None:
        image = _apply_noise(image, r["noise"])
    if r["jpeg"] is not None:
        image = jpeg_compress(image, r["jpeg"]["quality"])
    return image


def _apply_final(image: np.ndarray, f: dict, target: tuple[int, int]) -> np.ndarray:
    def resize_and_sinc(img: np.ndarray) -> np.ndarray:
        img = resize(img, target, f["resize_mode"])
        if f["sinc"] is not None:
            img = filter_image(img, sinc_kernel(f["sinc"]["size"], f["sinc"]["cutoff"]))
        return img

    def compress(img: np.ndarray) -> np.ndarray:
        return jpeg_compress(img, f["jpeg"]["quality"]) if f["jpeg"] is not None else img

    if f["order"] == "resize_first":
        return compress(resize_and_sinc(image))
    return resize_and_sinc(compress(image))


def apply_params(hr: np.ndarray, params: dict) -> np.ndarray:
    """Degrade ``hr`` (float32 HxWx3 in [0, 1]) with recorded parameters; a pure function of its inputs.

    Returns float32 of size ``(H // scale, W // scale)`` in [0, 1] (rounded to 8-bit levels if ``quantize``).
    """
    check_rgb(hr, "HR image")
    if params.get("version") != PARAMS_VERSION:
        raise OptionError(f"degradation parameters of version {params.get('version')!r}; expected {PARAMS_VERSION}")
    scale = check_scale(params["scale"])
    target = lr_size(hr.shape[0], hr.shape[1], scale)
    out = hr
    for r in params["rounds"]:
        if r is not None:
            out = _apply_round(out, r, target)
    out = _apply_final(out, params["final"], target)
    out = np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
    if params["quantize"]:
        out = np.rint(out * np.float32(255.0)) * np.float32(1.0 / 255.0)
    return np.ascontiguousarray(out, dtype=np.float32)


def degrade_pair(
    hr: np.ndarray, config: DegradeConfig, rng: np.random.Generator, *, scale: int = 4
) -> tuple[np.ndarray, dict]:
    """``(lr, params)``: one random degradation of ``hr``; the call training code makes on the fly."""
    params = sample_params(config, scale, rng)
    return apply_params(hr, params), params


def degrade(hr: np.ndarray, preset: str = "realesrgan", *, scale: int = 4, seed: int = 0, key: str = "") -> np.ndarray:
    """The LR image of ``hr`` under a named preset, reproducible from ``seed`` (and an optional ``key``)."""
    from acutance.degrade.presets import get_preset

    lr, _ = degrade_pair(hr, get_preset(preset), make_rng(seed, key), scale=scale)
    return lr


def replay(hr: np.ndarray, sidecar: dict) -> np.ndarray:
    """Recompute the LR image recorded by a sidecar (its ``params`` entry) from the same HR image."""
    params = sidecar.get("params", sidecar)
    if not isinstance(params, dict) or "rounds" not in params:
        raise OptionError("not a degradation sidecar: no 'params' with 'rounds'")
    return apply_params(hr, params)
