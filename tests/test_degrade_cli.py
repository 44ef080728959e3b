"""``acutance degrade`` and ``acutance pairs``: files on disk, sidecar replay, workers, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from acutance.cli.main import main
from acutance.contract import to_uint
from acutance.degrade import get_preset, load_config, replay
from acutance.io import read_image, write_image
from conftest import smooth_test_image


def make_folder(root: Path, count: int = 3, size: tuple[int, int] = (96, 80)) -> Path:
    folder = root / "hr"
    (folder / "sub").mkdir(parents=True)
    for i in range(count):
        where = folder / "sub" if i == count - 1 else folder
        write_image(where / f"img{i}.png", smooth_test_image(*size, seed=i))
    return folder


def pixels(path: Path) -> np.ndarray:
    with PILImage.open(path) as image:
        return np.asarray(image)


def test_degrade_file_writes_8bit_lr_and_a_replayable_sidecar(tmp_path, capsys):
    source = tmp_path / "photo.png"
    write_image(source, smooth_test_image(100, 60, seed=7))
    out = tmp_path / "lr.png"
    assert main(["degrade", str(source), str(out), "--preset", "realesrgan", "--scale", "4", "--seed", "5"]) == 0
    lr = pixels(out)
    assert lr.dtype == np.uint8 and lr.shape == (25, 15, 3)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["seed"] == 5 and sidecar["lr_shape"] == [25, 15] and sidecar["params"]["scale"] == 4
    again = replay(read_image(source).rgb, sidecar)
    assert np.array_equal(to_uint(again), lr)
    # the same command again gives the same bytes (into a folder: OUT/<stem>.png)
    (tmp_path / "again").mkdir()
    assert main(["degrade", str(source), str(tmp_path / "again"), "--seed", "5"]) == 0
    assert (tmp_path / "again" / "photo.png").read_bytes() == out.read_bytes()
    assert main(["degrade", str(source), str(tmp_path / "again"), "--seed", "6", "--overwrite"]) == 0
    assert not np.array_equal(pixels(tmp_path / "again" / "photo.png"), lr)


def test_degrade_folder_does_not_depend_on_workers(tmp_path, capsys):
    folder = make_folder(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["degrade", str(folder), str(one), "-r", "--seed", "3"]) == 0
    assert main(["degrade", str(folder), str(two), "-r", "--seed", "3", "--workers", "2"]) == 0
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert [str(f) for f in files] == ["img0.json", "img0.png", "img1.json", "img1.png", "sub/img2.json", "sub/img2.png"]
    for name in files:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    # a file degraded alone is keyed by its name: it matches the same file at the folder's top level
    alone = tmp_path / "alone.png"
    assert main(["degrade", str(folder / "img0.png"), str(alone), "--seed", "3"]) == 0
    assert alone.read_bytes() == (one / "img0.png").read_bytes()
    assert (one / "img0.png").read_bytes() != (one / "img1.png").read_bytes()


def test_pairs_builds_a_replayable_dataset_with_gallery(tmp_path, capsys):
    folder = make_folder(tmp_path, size=(100, 120))
    out, gallery = tmp_path / "ds", tmp_path / "gallery.png"
    args = ["pairs", str(folder), str(out), "-r", "--preset", "realesrgan", "--patch", "48", "--per-image", "2", "--scale", "4"]
    assert main(args + ["--sampling-aug", "0.5", "--gallery", str(gallery)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["images"] == 3 and not manifest["failed"]
    assert load_config(out / "config.toml") == get_preset("realesrgan")
    for entry in manifest["entries"]:
        hr, lr = pixels(out / entry["hr"]), pixels(out / entry["lr"])
        assert hr.shape == (48, 48, 3) and lr.shape == (12, 12, 3) and lr.dtype == np.uint8
        sidecar = json.loads((out / entry["sidecar"]).read_text())
        assert np.array_equal(to_uint(replay(read_image(out / entry["hr"]).rgb, sidecar)), lr)
        top, left, size, _ = entry["box"]
        source = read_image(folder / entry["source"]).rgb
        assert np.array_equal(to_uint(source[top : top + size, left : left + size]), hr)
    assert pixels(gallery).shape[1] > 4 * 48
    from acutance.degrade import dataset_pairs

    listed = dataset_pairs(out)
    assert len(listed) == 6 and all(hr.is_file() and lr.is_file() for hr, lr in listed)
    # the same run again refuses to overwrite, and with --overwrite and 2 workers gives the same files
    assert main(args) == 1
    assert "already holds a dataset" in capsys.readouterr().err
    assert main(args + ["--sampling-aug", "0.5", "--overwrite", "--workers", "2"]) == 0
    again = json.loads((out / "manifest.json").read_text())
    assert again["entries"] == manifest["entries"]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["degrade", "{img}", "{out}/x.png", "--preset", "realesrgan2"], "unknown degradation preset 'realesrgan2'"),
        (["degrade", "{img}", "{out}/x.png", "--config", "{toml_key}"], "unknown config key 'rounds[0].noise_sigmaa'"),
        (["degrade", "{img}", "{out}/x.png", "--config", "{toml_sigma}"], "rounds[0].noise_sigma: values must be >= 0"),
        (["degrade", "{img}", "{out}/x.png", "--config", "{out}/missing.toml"], "missing.toml does not exist"),
        (["degrade", "{empty}", "{out}/y"], "no images found"),
        (["degrade", "{img}", "{out}/x.png", "--scale", "0"], "--scale must be a positive integer"),
        (["degrade", "{img}", "{out}/x.png", "--seed", "-1"], "seed must be a non-negative integer"),
        (["degrade", "{img}", "{out}/x.png", "--workers", "0"], "--workers must be a positive integer"),
        (["pairs", "{folder}", "{out}/ds", "--patch", "50", "--scale", "4"], "--patch 50 is not a multiple of --scale 4"),
        (["pairs", "{empty}", "{out}/ds"], "no images found"),
        (["pairs", "{folder}", "{out}/ds", "--sampling-aug", "2"], "--sampling-aug must be a fraction in (0, 1]"),
        (["pairs", "{folder}", "{out}/ds", "--preset", "nope"], "unknown degradation preset 'nope'"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, argv, message):
    folder = make_folder(tmp_path, count=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    toml_key, toml_sigma = tmp_path / "key.toml", tmp_path / "sigma.toml"
    toml_key.write_text("[[rounds]]\nnoise_sigmaa = [1.0, 2.0]\n")
    toml_sigma.write_text("[[rounds]]\nnoise_sigma = [-5.0, 2.0]\n")
    names = {"img": folder / "img0.png", "out": tmp_path, "folder": folder, "empty": empty, "toml_key": toml_key, "toml_sigma": toml_sigma}
    assert main([a.format(**names) for a in argv]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("acutance: error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "ds" / "manifest.json").exists()


def test_dump_config_prints_loadable_toml(tmp_path, capsys):
    assert main(["degrade", "--preset", "realesrgan-light", "--dump-config"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "light.toml"
    path.write_text(text)
    assert load_config(path) == get_preset("realesrgan-light")


def test_same_stem_different_formats_do_not_collide(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "photo.png", smooth_test_image(64, 64, seed=1))
    write_image(folder / "photo.jpg", smooth_test_image(64, 64, seed=2))
    write_image(folder / "other.png", smooth_test_image(64, 64, seed=3))
    assert main(["degrade", str(folder), str(tmp_path / "out"), "--preset", "bicubic"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["other.png", "photo.jpg.png", "photo.png.png"]
    assert main(["pairs", str(folder), str(tmp_path / "ds"), "--preset", "bicubic", "--patch", "32", "--per-image", "1"]) == 0
    names = sorted(p.stem for p in (tmp_path / "ds" / "lr").glob("*.png"))
    assert len(names) == 3 and names[0].startswith("other_") and {n.split("_")[1] for n in names[1:]} == {"jpg", "png"}
