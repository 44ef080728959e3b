"""Every registered model: tiled output equals untiled, and a wrong scale is refused (issues 15 and 16).

The tile is the smallest the model's context allows, on an image of several tiles each way, so a registry
``context`` smaller than the model's real reach shows up here as a seam.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_test_image

import acutance
from acutance.errors import AcutanceError
from acutance.models.registry import list_models
from acutance.pipeline import enhance
from acutance.pipeline.budget import min_tile

IMAGE_TASKS = ("upscale", "denoise", "deblock", "sharpen")  # face restorers and quality models make no tiles
MODELS = [info.name for info in list_models() if info.task in IMAGE_TASKS]


@pytest.mark.parametrize("name", MODELS)
def test_tiled_equals_untiled(name):
    model = acutance.load_model(name)
    tile = max(min_tile(model.info), 24)
    # About 2.5 tiles down and 2.2 across, so there are inner tiles, edge tiles and a short last tile.
    image = smooth_test_image(int(tile * 2.5) + 3, int(tile * 2.2) + 5, seed=3)
    whole = enhance(image, model, tile=0)
    tiled = enhance(image, model, tile=tile)
    assert tiled.shape == whole.shape
    difference = float(np.abs(tiled - whole).max())
    assert difference < 1e-5, f"{name}: tiled differs from untiled by {difference:.2e} (context {model.info.context})"


@pytest.mark.parametrize("name", MODELS)
def test_wrong_scale_is_refused(name):
    model = acutance.load_model(name)
    image = smooth_test_image(16, 16)
    info = model.info
    wrong = [0.0, float("nan"), float("inf"), -2.0, 1000.0]
    if info.scales is not None:
        wrong.append(max(info.scales) + 1.0)
    for scale in wrong:
        with pytest.raises(AcutanceError):
            enhance(image, model, scale)
