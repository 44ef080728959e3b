"""The memory budget of ``acutance.pipeline``: checks before work, automatic tiles, measured estimates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO_ROOT, smooth_test_image

import acutance
from acutance import limits
from acutance.errors import AcutanceError, ModelError
from acutance.limits import Limits, LimitError
from acutance.models.registry import list_models
from acutance.pipeline import enhance, run_tiled
from acutance.pipeline.budget import call_bytes, min_tile, plan
from acutance.pipeline.enhance import plan_enhance


def test_output_limit_is_checked_before_any_work():
    model = acutance.load_model("bicubic")
    with pytest.raises(LimitError, match="--max-output-pixels"):
        plan_enhance(model, (1000, 1000, 3), 32.0)  # 32000^2: over the default 16384^2
    with limits.using(Limits(max_output_pixels=1000)):
        with pytest.raises(LimitError, match="output limit"):
            enhance(smooth_test_image(20, 20), model, 2)
        assert enhance(smooth_test_image(10, 10), model, 2).shape == (20, 20, 3)


def test_absurd_scales_are_refused_by_the_model_check():
    model = acutance.load_model("bicubic")
    for scale in (1e-8, 1000, float("inf"), float("nan"), 0):
        with pytest.raises(ModelError):
            plan_enhance(model, (288, 288, 3), scale)
    with pytest.raises(ModelError):
        plan_enhance(model, (288, 288, 3), (2.0, 1e-9))


def test_auto_tiles_fit_the_budget_and_shrink_with_it():
    model = acutance.load_model("compact-x4")
    shape = (540, 960, 3)
    default = plan_enhance(model, shape)
    assert min_tile(model.info) <= default.tile < 540 and default.memory <= limits.DEFAULT.max_memory
    with limits.using(Limits(max_memory=600 * limits.MIB)):
        smaller = plan_enhance(model, shape)
    assert smaller.tile < default.tile and smaller.memory <= 600 * limits.MIB
    with limits.using(Limits(max_memory=200 * limits.MIB)):  # the 4K output and its encoding need more
        assert plan_enhance(model, shape).tile  # not written: the output alone fits
        with pytest.raises(LimitError, match="--max-memory"):
            plan_enhance(model, shape, writes=True)
    # a small image fits whole: no tiles
    assert plan_enhance(model, (64, 64, 3)).tile == 0


def test_untiled_and_fractional_requests_are_checked_whole():
    bicubic = acutance.load_model("bicubic")
    with pytest.raises(LimitError, match="cannot be tiled"):
        plan_enhance(bicubic, (4000, 4000, 3), 2.5)  # 10000^2 floats: over 1 GiB
    compact = acutance.load_model("compact-x4")
    with pytest.raises(LimitError, match="--tile auto"):
        plan_enhance(compact, (1080, 1920, 3), tile=0)
    assert plan_enhance(compact, (1080, 1920, 3), tile=256).tile == 256


def test_a_tile_too_small_for_the_context_is_refused():
    model = acutance.load_model("raisr-x2")
    minimum = min_tile(model.info)
    assert minimum >= 2 * model.info.context
    with pytest.raises(LimitError, match=f"at least {minimum}"):
        plan_enhance(model, (200, 200, 3), tile=1)
    with pytest.raises(AcutanceError, match=f"at least {minimum}"):
        enhance(smooth_test_image(50, 50), model, tile=minimum - 1)


def test_outscale_checks_the_final_size_and_resizes():
    model = acutance.load_model("raisr-x2")
    image = smooth_test_image(20, 30)
    assert enhance(image, model, outscale=3).shape == (60, 90, 3)
    assert enhance(image, model, outscale=0.5).shape == (10, 15, 3)
    with limits.using(Limits(max_output_pixels=2000)):
        with pytest.raises(LimitError, match="output limit"):
            enhance(image, model, outscale=3)  # the model's x2 (2400 px) and the final 5400 px are over


def test_tile_windows_have_one_shape_and_progress_starts_at_zero():
    image = smooth_test_image(150, 230)
    shapes, progress = set(), []
    out = run_tiled(lambda t: (shapes.add(t.shape), t)[1], image, scale=1, tile=64, overlap=8, context=10,
                    on_tile=lambda done, total: progress.append((done, total)))
    np.testing.assert_allclose(out, image, atol=1e-6)
    assert shapes == {(84, 84, 3)}  # tile + 2 x context everywhere, shifted inward at the edges
    assert progress[0] == (0, progress[-1][1]) and progress[-1][0] == progress[-1][1]


def test_estimates_cover_every_shipped_model():
    for info in list_models():
        if info.task not in ("upscale", "denoise", "deblock", "sharpen"):
            continue
        scale = float(info.scales[0]) if info.scales else 2.0
        assert call_bytes(info, 1, scale, scale) >= 12 * scale * scale  # at least the float32 output


# ---------------------------------------------------------------------------- measured against the estimate

_MEASURE = """
import gc, json, resource, sys
import numpy as np
import acutance
from acutance.pipeline.budget import call_bytes
from acutance.pipeline.enhance import resolve_scale
name, size = sys.argv[1], int(sys.argv[2])
model = acutance.load_model(name)
scale = resolve_scale(model, None)
rng = np.random.default_rng(0)
model(rng.random((24, 24, 3), dtype=np.float32), scale)  # compile and warm up first
image = rng.random((size, size, 3), dtype=np.float32)
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = model(image, scale)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
meta = getattr(model, "meta", None)
print(json.dumps({"measured": peak - before, "estimate": call_bytes(model.info, size * size, scale, scale, meta)}))
"""


def _measure(name: str, size: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_MEASURE), name, str(size)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["bicubic", "lut-x2", "compact-x2"])
def test_estimate_is_above_the_measured_peak(name):
    result = _measure(name, 384)
    assert result["estimate"] >= result["measured"], result


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [i.name for i in list_models() if i.task in ("upscale", "denoise", "deblock", "sharpen")]
)
def test_estimate_is_above_the_measured_peak_for_every_model(name):
    result = _measure(name, 512)
    assert result["estimate"] >= result["measured"], result
