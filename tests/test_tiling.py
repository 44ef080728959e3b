"""Tiling: tiled == untiled, seams are blended, shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_test_image

import acutance
from acutance.errors import ModelError, OptionError
from acutance.pipeline import enhance, run_tiled
from acutance.pipeline.tiling import _ramp, _starts


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["bicubic", "lanczos", "nearest"])
def test_tiled_equals_untiled(name, scale):
    # Larger than several tiles in both directions, with sizes that do not divide evenly.
    image = smooth_test_image(301, 437)
    model = acutance.load_model(name)
    whole = enhance(image, model, scale, tile=0)
    tiled = enhance(image, model, scale, tile=96, overlap=12)
    assert tiled.shape == whole.shape == (301 * scale, 437 * scale, 3)
    assert np.abs(tiled - whole).max() < 1e-5


def test_every_tile_is_visited_and_progress_reported():
    image = smooth_test_image(100, 150)
    calls = []
    seen = []
    out = run_tiled(lambda t: (calls.append(t.shape), t)[1], image, scale=1, tile=40, overlap=8, context=4,
                    on_tile=lambda d, n: seen.append((d, n)))
    np.testing.assert_allclose(out, image, atol=1e-6)  # identity survives blending exactly
    assert len(calls) == len(_starts(100, 40, 8)) * len(_starts(150, 40, 8))
    assert seen[-1] == (len(calls), len(calls))


def test_feathering_hides_a_per_tile_offset():
    # An enhancer with a per-tile bias (like a network's tile-dependent output) must not leave a step.
    image = np.full((64, 200, 3), 0.5, np.float32)
    biased = lambda t: t + np.float32(0.01 * (t.shape[1] % 7))  # bias depends on the tile's width
    out = run_tiled(biased, image, scale=1, tile=64, overlap=32, context=0)
    steps = np.abs(np.diff(out[32, :, 0]))
    assert steps.max() < 0.003  # a hard seam would jump by up to 0.06


def test_starts_and_ramps():
    assert _starts(100, 40, 8) == [0, 32, 60]
    assert _starts(30, 40, 8) == [0]
    ramp = _ramp(10, 4, 4)
    assert ramp[0] > 0 and ramp[4] == 1 and ramp[-1] > 0
    # Where two tiles overlap by exactly the ramp width, the falling and rising weights sum to 1.
    np.testing.assert_allclose(_ramp(10, 0, 4)[-4:] + _ramp(10, 4, 0)[:4], 1.0, atol=1e-6)


def test_errors():
    image = smooth_test_image(50, 50)
    with pytest.raises(OptionError, match="integer scale"):
        run_tiled(lambda t: t, image, scale=1.5, tile=16)
    with pytest.raises(OptionError, match="overlap"):
        run_tiled(lambda t: t, image, scale=1, tile=16, overlap=16)
    with pytest.raises(ModelError, match="expected"):
        run_tiled(lambda t: t[:-1], image, scale=1, tile=16, overlap=4)
