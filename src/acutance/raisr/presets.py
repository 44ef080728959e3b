"""Layer recipes of the shipped hashed-filter models, by name (chosen by measurement on BSD100; see
``docs/hashed_filters.md`` and ``benchmarks/results/hashed_filters.md``)."""

from __future__ import annotations

from acutance.errors import OptionError
from acutance.raisr.train import LayerSpec


def upscale_layers(preset: str, scale: int) -> tuple[LayerSpec, ...]:
    """RAISR layer recipes.

    quality: filter-then-pixel-shuffle on the LR grid, then two refinement passes on the HR luma;
    fast: the LR-grid layer alone (the real-time model);
    classic: the paper's upscale-then-filter (bicubic, then one 11x11 filter per HR pixel and pixel type).
    """
    # The LR-grid patch covers about 9 LR pixels at x2 and shrinks in LR pixels as the scale grows.
    k_lr = {2: 9, 3: 7, 4: 7}.get(scale, 7)
    first = LayerSpec(kind="shuffle", k=k_lr, window=5, sigma=1.0, n_strength=6, n_coherence=4)
    if preset == "fast":
        return (LayerSpec(kind="shuffle", k=7, window=5, sigma=1.0),)
    if preset == "quality":
        return (
            first,
            LayerSpec(kind="same", k=7, period=scale, window=9, sigma=2.0, n_strength=4, n_coherence=4, fraction=0.5),
            LayerSpec(kind="same", k=5, period=scale, window=5, sigma=1.0, fraction=0.5),
        )
    if preset == "classic":
        return (LayerSpec(kind="same", k=11, period=scale, window=9, sigma=2.0, fraction=0.25),)
    raise OptionError(f"unknown RAISR preset {preset!r} (known: {', '.join(UPSCALE_PRESETS)})")


UPSCALE_PRESETS = ("quality", "fast", "classic")


def restore_layers(task: str, multiscale: bool = False) -> tuple[LayerSpec, ...]:
    """BLADE recipes: the luma first, then the chroma guided by the restored luma, then a second luma pass;
    ``multiscale`` puts the same three steps at half size (``coarse`` layers) in front."""
    if task not in ("denoise", "deblock", "sharpen"):
        raise OptionError(f"unknown restoration task {task!r}")
    coarse = (
        LayerSpec(kind="coarse", k=7, window=7, sigma=1.5, fraction=0.5),
        LayerSpec(kind="coarse", channel=1, guide=0, k=7, window=7, sigma=1.5, fraction=0.25),
        LayerSpec(kind="coarse", channel=2, guide=0, k=7, window=7, sigma=1.5, fraction=0.25),
    ) if multiscale else ()
    # With 8-fold augmentation a quarter of the pixels of ~120 images is ample for 216 buckets x 49 taps.
    return coarse + (
        LayerSpec(kind="same", k=7, window=7, sigma=1.5, fraction=0.25),
        LayerSpec(kind="same", channel=1, guide=0, k=7, window=7, sigma=1.5, fraction=0.125),
        LayerSpec(kind="same", channel=2, guide=0, k=7, window=7, sigma=1.5, fraction=0.125),
        LayerSpec(kind="same", k=5, window=5, sigma=1.0, fraction=0.25),
    )
