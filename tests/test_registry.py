"""The registry: lookups, lazy imports, descriptors, and every registered model on a small image."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_test_image

import acutance
from acutance.errors import ModelError, OptionError
from acutance.io import Image, ImageMeta
from acutance.models.descriptor import IMAGE_TASKS, TASKS
from acutance.pipeline import enhance, enhance_image


@pytest.mark.parametrize("info", [i for i in acutance.list_models() if i.task in IMAGE_TASKS], ids=lambda i: i.name)
def test_every_registered_model_runs(info):
    model = acutance.load_model(info.name)
    assert model.info is info and info.task in TASKS and info.summary and info.licence
    image = smooth_test_image(24, 32)
    scale = (info.scales or (2,))[0] if info.task == "upscale" else 1
    out = enhance(image, model, scale)
    assert out.dtype == np.float32 and out.shape == (24 * scale, 32 * scale, 3)
    assert out.min() >= 0 and out.max() <= 1


def test_unknown_model_lists_known_ones():
    with pytest.raises(ModelError, match="known models: .*bicubic"):
        acutance.load_model("esrgan-9000")


def test_import_is_lazy():
    # Importing the package (and listing models) must not import the resize code, torch or the CLI.
    code = (
        "import sys, acutance; acutance.list_models();"
        "print(','.join(m for m in ('acutance.resize', 'torch', 'acutance.cli.upscale_cmd') if m in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(acutance.__file__).parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""


def test_a_lookup_reads_one_file_and_imports_one_family():
    # Listing reads no file; looking up lut-x4's context reads its header alone: no torch, no face code, no
    # other family's module.
    code = (
        "import sys, acutance; names = [m.name for m in acutance.list_models()];"
        "assert not any(k.startswith(('acutance.lut', 'acutance.raisr')) for k in sys.modules), 'listing imported';"
        "assert acutance.model_info('lut-x4').context == 4;"
        "bad = ('torch', 'acutance.faces', 'acutance.raisr', 'acutance.deep', 'acutance.lut.lerf', 'onnxruntime');"
        "print(','.join(m for m in sys.modules if m.startswith(bad)))"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(acutance.__file__).parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""


def test_upscale_refuses_face_and_quality_models(tmp_path):
    from acutance.cli.main import main
    from acutance.io import write_image

    source = tmp_path / "x.png"
    write_image(source, Image(smooth_test_image(16, 16), None, ImageMeta(8, False, "PNG", None, None)))
    for name in ("face-quality", "niqe-pristine", "face-restore"):
        assert main(["upscale", str(source), "--model", name, "-o", str(tmp_path / f"{name}.png")]) != 0
        assert not (tmp_path / f"{name}.png").exists()


def test_interpolators_take_any_scale_and_check_input():
    model = acutance.load_model("bicubic")
    assert enhance(smooth_test_image(20, 30), model, 1.5).shape == (30, 45, 3)
    with pytest.raises(OptionError, match="float32"):
        model(np.zeros((4, 4, 3), np.uint8), 2)
    with pytest.raises(ModelError):
        enhance(smooth_test_image(8, 8), model, 0)


def test_alpha_is_resized_beside_the_colour():
    rgb = smooth_test_image(16, 20)
    alpha = np.zeros((16, 20), np.float32)
    alpha[:, 10:] = 1.0
    image = Image(rgb, alpha, ImageMeta(bit_depth=16, grayscale=False, format="PNG", icc_profile=None, exif=None))
    out = enhance_image(image, acutance.load_model("bicubic"), 2)
    assert out.rgb.shape == (32, 40, 3) and out.alpha.shape == (32, 40)
    assert out.alpha.min() >= 0 and out.alpha.max() <= 1
    assert out.alpha[:, :18].max() < 0.05 and out.alpha[:, 22:].min() > 0.95
    assert out.meta.bit_depth == 16


@pytest.mark.parametrize(
    "name, module",
    [("lut-x2", "acutance.lut.runtime"), ("lerf", "acutance.lut.lerf"), ("esr-max-c4-k5-x2", "acutance.edgesr.runtime"),
     ("raisr-x2", "acutance.raisr.model")],
)
def test_truncated_or_foreign_model_files_get_one_line_errors(name, module, tmp_path):
    """Every npz model format is read through models.weights.read_model_npz: a cut-off file, a file of another
    format and a non-model npz each give a ModelError naming the file, never a raw zipfile/numpy error."""
    import importlib

    import numpy as np

    from acutance.errors import ModelError
    from acutance.models.registry import load_model
    from acutance.models.weights import weight_path

    data = weight_path(name).read_bytes()
    cut = tmp_path / f"{name}.npz"
    cut.write_bytes(data[: len(data) // 2])
    bare = tmp_path / "bare.npz"
    np.savez(bare, x=np.zeros(3))
    read = importlib.import_module(module).load_model_file  # the format's own reader, past the registry
    for load in (load_model, read):
        with pytest.raises(ModelError, match="cannot read"):
            load(str(cut))
    with pytest.raises(ModelError):
        load_model(str(bare))
    with pytest.raises(ModelError, match="no 'meta'"):
        read(bare)
    assert load_model(name).info.name == name  # the shipped file itself loads
