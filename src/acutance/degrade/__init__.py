"""Degradation synthesis: turn clean images into realistic low-quality ones, reproducibly.

Plain operations (``kernels``, ``noise``, ``jpeg``, ``resize_ops``), the seeded Real-ESRGAN high-order
pipeline (``pipeline``) configured by a typed, TOML-backed ``DegradeConfig`` (``config``) with named
``presets``; ``pairs`` builds HR/LR patch datasets, with ``sampling_aug`` patch selection and a ``gallery``.
"""

from acutance.degrade.config import DegradeConfig, FinalConfig, KernelConfig, RoundConfig, load_config, save_config
from acutance.degrade.pairs import PairsOptions, build_pairs, dataset_pairs
from acutance.degrade.pipeline import apply_params, degrade, degrade_pair, make_rng, replay, sample_params
from acutance.degrade.presets import PRESETS, get_preset

__all__ = [
    "PRESETS",
    "DegradeConfig",
    "FinalConfig",
    "KernelConfig",
    "PairsOptions",
    "RoundConfig",
    "apply_params",
    "build_pairs",
    "dataset_pairs",
    "degrade",
    "degrade_pair",
    "get_preset",
    "load_config",
    "make_rng",
    "replay",
    "sample_params",
    "save_config",
]
