"""Model families: one face per family, registry facts read from the files, one dispatch path."""

from __future__ import annotations

import importlib
from importlib import resources

import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.errors import ModelError
from acutance.models import families
from acutance.models.descriptor import IMAGE_TASKS, ModelInfo
from acutance.models.registry import REGISTRY, ROWS, list_models, load_model
from acutance.pipeline.tiling import run_tiled

WEIGHTS = resources.files("acutance").joinpath("weights")
IMAGE_MODELS = [info.name for info in list_models() if info.task in IMAGE_TASKS]


@pytest.mark.parametrize("family", sorted(families.FAMILIES))
def test_every_family_has_the_one_face(family):
    module = importlib.import_module(families.FAMILIES[family].module)
    assert module.FORMAT == families.FAMILIES[family].format  # the dispatch table and the module agree
    for name in ("read", "describe", "Enhancer"):
        assert callable(getattr(module, name)), f"{family} lacks {name}"


@pytest.mark.parametrize("name", [row.name for row in ROWS.values() if row.file], ids=str)
def test_no_registry_fact_differs_from_its_file(name):
    """The facts a lookup gives (the file's header, perhaps from the cache) are those of the model read in
    full from the same file, and the loaded model carries the very descriptor ``list_models`` gives."""
    row = ROWS[name]
    family = families.module(row.family)
    with resources.as_file(WEIGHTS.joinpath(row.file)) as path:
        model = family.read(path)
    from_file = ModelInfo(name=name, **family.describe(dict(model.meta))).facts()
    assert REGISTRY[name].facts() == from_file
    assert load_model(name).info is REGISTRY[name]


def test_every_shipped_file_loads_by_name():
    files = sorted(entry.name for entry in WEIGHTS.iterdir() if entry.is_file())
    named = {row.file: row.name for row in ROWS.values() if row.file}
    for file in files:
        if file.endswith(".detail.safetensors"):  # a companion: the detail knob of its model
            name = named[file.removesuffix(".detail.safetensors") + ".onnx"]
            assert "detail" in REGISTRY[name].options
            assert load_model(name, detail=0.5).info.name == name
            continue
        if file.endswith(".down.onnx"):  # a companion: the downscaler of an IRN pair (acutance.rescale.runtime)
            from acutance.rescale.runtime import load_downscaler

            name = named[file.removesuffix(".down.onnx") + ".onnx"]
            assert (load_downscaler(name).scale,) == load_model(name).info.scales
            continue
        assert file in named, f"weights/{file} has no registry name"
        assert load_model(named[file]).info.name == named[file]


@pytest.mark.parametrize("name", [row.name for row in ROWS.values() if row.file], ids=str)
def test_a_shipped_file_loaded_as_a_file_is_the_same_model(name, tmp_path):
    """Names and files take one path: the file dispatches to its name's family and is described alike."""
    with resources.as_file(WEIGHTS.joinpath(ROWS[name].file)) as path:
        family = families.family_of_file(path)
        if family == "deep":
            assert ROWS[name].family == "deep-shipped"  # the detail knob is the shipped family's only
        else:
            assert family == ROWS[name].family
        info = load_model(str(path)).info
    registered = REGISTRY[name].facts()
    assert {k: v for k, v in info.facts().items() if k != "options"} == {k: v for k, v in registered.items() if k != "options"}


@pytest.mark.parametrize("name", IMAGE_MODELS, ids=str)
def test_the_described_context_covers_the_receptive_field_and_other_scales_are_refused(name):
    """Tiles with exactly the described context, no overlap to hide a seam, equal the whole image: a context
    below the true receptive field shows here (hashed filters pick other buckets, tables other entries)."""
    model = load_model(name)
    info = model.info
    scale = (info.scales or (2,))[0] if info.task == "upscale" else 1
    image = smooth_test_image(44, 52, seed=11)
    whole = model(image, scale)
    tiled = run_tiled(lambda x: model(x, scale), image, scale=scale, tile=16, overlap=0, context=info.context)
    assert np.abs(whole - tiled).max() <= 1e-5, f"{name}: context {info.context} is short of its receptive field"
    if info.scales is not None:  # a fixed-scale model refuses any other factor
        with pytest.raises(ModelError):
            model(image, scale + 1)


@pytest.mark.parametrize("name", [info.name for info in list_models() if info.task not in IMAGE_TASKS], ids=str)
def test_face_and_quality_models_are_named_but_not_run_as_image_models(name):
    model = load_model(name)
    with pytest.raises(ModelError, match="acutance (faces|metrics|style|inpaint|video)"):
        model(smooth_test_image(16, 16), 1)


def test_quality_models_score_by_name():
    scorer = load_model("niqe-pristine")
    value = scorer.score(smooth_test_image(192, 288, seed=5))
    assert np.isfinite(value) and value > 0
    from acutance.faces.quality import shipped_model
    from acutance.metrics.niqe import default_model

    assert default_model() is not None and shipped_model().meta["format"] == "acutance-face-quality"


def test_unknown_files_and_formats_get_one_line_errors(tmp_path):
    odd = tmp_path / "model.xyz"
    odd.write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model file type"):
        load_model(str(odd))
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": "somebody-else-1"}'))
    with pytest.raises(ModelError, match="format 'somebody-else-1'"):
        load_model(str(other))


def test_described_facts_are_kept_between_runs_until_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("ACUTANCE_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "m.npz"
    model.write_bytes(b"stand-in")
    calls = []

    def describe_now():
        calls.append(1)
        return {"task": "upscale", "scales": (2,), "context": 3}

    first = families.cached_describe("m", "lut", model, describe_now)
    again = families.cached_describe("m", "lut", model, describe_now)
    assert first == again == {"task": "upscale", "scales": (2,), "context": 3} and len(calls) == 1
    model.write_bytes(b"another stand-in")  # a retrained file: described afresh
    families.cached_describe("m", "lut", model, describe_now)
    assert len(calls) == 2
    (tmp_path / "cache" / "described.json").write_text("not json")  # a broken cache is ignored, then rewritten
    families.cached_describe("m", "lut", model, describe_now)
    assert len(calls) == 3
    monkeypatch.setenv("ACUTANCE_CACHE_DIR", "")  # off
    families.cached_describe("m", "lut", model, describe_now)
    assert len(calls) == 4


def test_onnx_weights_read_and_written_by_protobuf_match_the_onnx_package(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from acutance.deep.runtime import read_initializers

    with resources.as_file(WEIGHTS.joinpath("real-x4.onnx")) as path:
        ours = read_initializers(path)
        theirs = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
        data = path.read_bytes()
    assert ours.keys() == theirs.keys()
    for key, array in theirs.items():
        assert ours[key].dtype == array.dtype and np.array_equal(ours[key], array)
    with pytest.raises(ModelError, match="truncated or not ONNX"):
        read_initializers(data[: len(data) // 3])


def test_inference_needs_no_onnx_package():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import acutance

    code = (
        "import sys, numpy as np, acutance; sys.modules['onnx'] = None;"  # importing onnx now fails
        "x = np.random.default_rng(0).random((12, 12, 3), dtype=np.float32);"
        "acutance.load_model('esr-max-c4-k5-x2')(x, 2); acutance.load_model('real-x4', detail=0.3)(x, 4)"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(acutance.__file__).parents[1]))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)


@pytest.mark.parametrize("name", IMAGE_MODELS, ids=str)
def test_every_image_model_checks_its_input(name):
    from acutance.errors import OptionError

    model = load_model(name)
    scale = (model.info.scales or (2,))[0] if model.info.task == "upscale" else 1
    with pytest.raises(OptionError, match="float32"):
        model(np.zeros((8, 8, 3), np.uint8), scale)
