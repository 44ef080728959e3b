"""``acutance train raisr|blade``: trains from folders, writes a model that ``upscale --model FILE`` runs;
bad data folders, bad options and existing outputs fail cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.cli.main import main
from acutance.io import read_image, write_image
from acutance.raisr import load_model_file
from acutance.resize import imresize


def _dataset(root: Path, count: int = 4) -> Path:
    root.mkdir(parents=True)
    for seed in range(count):
        write_image(root / f"img{seed}.png", smooth_test_image(64, 72, seed=seed))
    (root / "notes.txt").write_text("not an image")
    return root


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("acutance: error: "), err
    return err[0]


def test_train_raisr_then_upscale_with_the_file(tmp_path: Path, capsys):
    data = _dataset(tmp_path / "data")
    model_path = tmp_path / "mine.npz"
    argv = ["train", "raisr", "--scale", "2", "--preset", "fast", "--data", str(data), "-o", str(model_path),
            "--workers", "1"]
    assert main(argv) == 0
    model = load_model_file(model_path)
    assert model.scale == 2 and model.task == "upscale" and model.meta["training_images"] == 4
    assert not list(tmp_path.glob(".*partial*"))
    # the model file runs through upscale like a registered model, and beats plain bicubic on its data
    image = tmp_path / "in.png"
    write_image(image, smooth_test_image(40, 48, seed=9))
    assert main(["upscale", str(image), "--model", str(model_path), "-o", str(tmp_path / "out.png")]) == 0
    out = read_image(tmp_path / "out.png").rgb
    assert out.shape == (80, 96, 3)
    assert np.abs(out - imresize(read_image(image).rgb, 2)).mean() > 1e-3  # the filters did something
    # existing output needs --overwrite
    capsys.readouterr()
    assert main(argv) == 1
    assert "exists" in _error_line(capsys)


def test_train_blade_denoise_writes_a_restorer(tmp_path: Path):
    data = _dataset(tmp_path / "data", count=3)
    out = tmp_path / "denoise.npz"
    assert main(["train", "blade", "--task", "denoise", "--sigma", "15", "--data", str(data), "-o", str(out),
                 "--workers", "1"]) == 0
    model = load_model_file(out)
    assert model.task == "denoise" and model.scale == 1 and len(model.layers) == 4


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--data", "EMPTY"], "no training images"),
        (["--data", "MISSING"], "not a folder"),
        (["--data", "DATA", "--scale", "2", "-o", "OUT.bin"], ".npz"),
        (["--data", "DATA", "--scale", "2", "--workers", "0"], "--workers"),
    ],
)
def test_bad_training_input_fails_cleanly(tmp_path: Path, capsys, extra, fragment):
    data = _dataset(tmp_path / "data", count=1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    names = {"EMPTY": tmp_path / "empty", "MISSING": tmp_path / "missing", "DATA": data, "OUT.bin": tmp_path / "m.bin"}
    extra = [str(names.get(a, a)) for a in extra]
    argv = ["train", "raisr"] + extra
    if "--scale" not in argv:
        argv += ["--scale", "2"]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "m.npz")]
    capsys.readouterr()
    assert main(argv) == 1
    assert fragment in _error_line(capsys)
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "m.bin").exists()


def test_model_files_dispatch_by_format(tmp_path: Path):
    from acutance.errors import ModelError
    from acutance.models.registry import load_model
    from acutance.models.weights import weight_path

    for name in ("lut-x2", "raisr-fast-x2"):  # a LUT file and a hashed-filter file, loaded by path
        loaded = load_model(str(weight_path(name)))
        assert loaded.info.scales == (2,) and loaded.info.name == name
    odd = tmp_path / "odd.npz"
    np.savez(odd, meta=np.array('{"format": "something-else"}'))
    with pytest.raises(ModelError, match="not a model file of a known format"):
        load_model(str(odd))
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ModelError, match="notes.npz"):
        load_model(str(text))
    (tmp_path / "m.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model file type"):
        load_model(str(tmp_path / "m.bin"))
    (tmp_path / "m.pth").write_bytes(b"x")  # a known type (deep checkpoints), but no valid file
    with pytest.raises(ModelError, match="m.pth"):
        load_model(str(tmp_path / "m.pth"))
    with pytest.raises(ModelError, match="not found"):
        load_model(str(tmp_path / "absent.npz"))
