"""Hashed learned filters: RAISR upscaling and BLADE restoration (denoise, deblock, sharpen).

``hashing``: the structure-tensor hash; ``kernels``: compiled per-pixel kernels; ``model``: layers, inference
and the model file; ``runtime``: the registry loader; ``train``: normal-equation training (never imported
by inference).
"""

from acutance.raisr.hashing import HashParams, hash_image, structure_features
from acutance.raisr.model import HashedModel, Layer, load_model_file, run, save_model
from acutance.raisr.runtime import HashedEnhancer, load

__all__ = [
    "HashParams",
    "HashedEnhancer",
    "HashedModel",
    "Layer",
    "hash_image",
    "load",
    "load_model_file",
    "run",
    "save_model",
    "structure_features",
]
