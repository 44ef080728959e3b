"""RAISR: bicubic upscale, then a learned k x k filter per pixel chosen by a structure-tensor hash.

Inference lives in ``runtime`` (numpy only); training in ``train`` (imported only by the benchmark script).
"""

from acutance.raisr.hashing import HashParams, hash_image, structure_features
from acutance.raisr.runtime import Raisr, RaisrModel, load, load_model_file, save_model, upscale

__all__ = [
    "HashParams",
    "Raisr",
    "RaisrModel",
    "hash_image",
    "load",
    "load_model_file",
    "save_model",
    "structure_features",
    "upscale",
]
