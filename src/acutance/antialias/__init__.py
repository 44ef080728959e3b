"""Anti-aliasing: learned hashed filters (``aa-x1``), FXAA-style post-process AA and a matched blur.

``model``: the ``aa-x1`` model, inference and model file; ``kernels``: numba kernels (the hashed pass, FXAA);
``classical``: FXAA and the Gaussian baseline; ``render``: aliased / anti-aliased training and test pairs
(vector scenes, downscaled frames, line art with its anti-aliasing undone); ``measure``: 10-90% edge width
on slanted edges; ``api``: the methods by name; ``runtime``: the registry family; ``video``: the video
stage; ``train``: the ``acutance train aa`` recipe (never imported by inference). Guide: docs/antialias.md.
"""

from acutance.antialias.api import METHODS, method_function
from acutance.antialias.classical import fxaa, gaussian
from acutance.antialias.model import AAModel, antialias, load_model_file, save_model

__all__ = ["METHODS", "AAModel", "antialias", "fxaa", "gaussian", "load_model_file", "method_function", "save_model"]
