"""The ``acutance`` command end to end: clear one-line errors that write nothing, folder runs, output
naming, bit depth / alpha / grayscale through the CLI, ``list``, ``demo`` and ``metrics``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from acutance.cli.main import main
from acutance.contract import to_uint
from acutance.io import read_image, write_image
from acutance.models.registry import load_model
from acutance.pipeline import enhance
from acutance.resize import imresize
from conftest import REPO_ROOT, smooth_test_image

H, W = 48, 64


# --------------------------------------------------------------------------------------------- helpers


def _png(path: Path, seed: int = 0, size: tuple[int, int] = (H, W)) -> Path:
    """An 8-bit RGB PNG written with the library."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, smooth_test_image(*size, seed=seed))
    return path


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included) with its bytes: a before/after snapshot."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def _folders(root: Path) -> set[str]:
    return {str(Path(folder).relative_to(root)) for folder, _, _ in os.walk(root)}


def _one_line_error(capsys, *fragments: str) -> str:
    """The captured stderr is exactly one line starting 'acutance: error:' and naming every fragment."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("acutance: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert captured.out == ""
    return lines[0]


def _fails_cleanly(capsys, root: Path, argv: list[str], *fragments: str) -> str:
    """Run ``argv``: non-zero exit, one-line error, and nothing under ``root`` created or changed."""
    before, folders = _tree(root), _folders(root)
    assert main(argv) != 0
    line = _one_line_error(capsys, *fragments)
    assert _tree(root) == before
    assert _folders(root) == folders
    return line


# --------------------------------------------------------------------------------------------- entry point


def test_entry_point_runs_as_a_program(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH")]))
    commands = [[sys.executable, "-m", "acutance", "--help"]]
    script = Path(sys.executable).with_name("acutance")  # the console script, where the package is installed
    if script.is_file():
        commands.append([str(script), "--help"])
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: acutance")
        for name in ("upscale", "metrics", "list", "demo"):
            assert name in done.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: acutance" in capsys.readouterr().out


def test_version(capsys):
    from acutance import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"acutance {__version__}"


# --------------------------------------------------------------------------------------------- bad input


def test_missing_input(tmp_path, capsys):
    _fails_cleanly(capsys, tmp_path, ["upscale", str(tmp_path / "nope.png")], "nope.png", "no such file")


def test_text_file_named_png(tmp_path, capsys):
    source = tmp_path / "x.png"
    source.write_text("this is not an image\n")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "--model", "bicubic", "--scale", "2"], "x.png")


def test_truncated_png(tmp_path, capsys):
    data = _png(tmp_path / "whole.png").read_bytes()
    source = tmp_path / "cut.png"
    source.write_bytes(data[: len(data) // 2])
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "--scale", "2"], "cut.png", "truncated")


def test_truncated_png_written_by_pillow(tmp_path, capsys):
    rgb = (smooth_test_image(H, W) * 255).astype(np.uint8)
    PILImage.fromarray(rgb).save(tmp_path / "pil.png")
    data = (tmp_path / "pil.png").read_bytes()
    (tmp_path / "pil.png").write_bytes(data[: len(data) // 2])
    _fails_cleanly(capsys, tmp_path, ["upscale", str(tmp_path / "pil.png")], "pil.png")


def test_unknown_model_lists_the_known_ones(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    _fails_cleanly(
        capsys, tmp_path, ["upscale", str(source), "--model", "nosuch"], "nosuch", "bicubic", "lanczos", "nearest"
    )


def test_existing_output_needs_overwrite(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    target = tmp_path / "a_bicubic_x2.png"
    target.write_bytes(b"keep me")
    argv = ["upscale", str(source), "--model", "bicubic", "--scale", "2"]
    _fails_cleanly(capsys, tmp_path, argv, "a_bicubic_x2.png", "--overwrite")
    assert target.read_bytes() == b"keep me"

    assert main([*argv, "--overwrite"]) == 0
    capsys.readouterr()
    assert read_image(target).rgb.shape == (2 * H, 2 * W, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_existing_output_named_with_o_needs_overwrite(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "-o", str(target)], "out.png", "--overwrite")
    assert target.read_bytes() == b"keep me"


def test_output_in_a_missing_folder(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "-o", str(tmp_path / "nodir" / "x.png")], "nodir")
    assert not (tmp_path / "nodir").exists()


def test_output_under_a_regular_file(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    (tmp_path / "file.txt").write_text("a file, not a folder\n")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "-o", str(tmp_path / "file.txt" / "x.png")], "file.txt")


def test_output_with_unknown_extension(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "-o", str(tmp_path / "out.xyz")], "out.xyz")


def test_output_into_a_missing_folder_with_trailing_slash(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    line = _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "-o", str(tmp_path / "newdir") + "/"], "newdir")
    assert "does not exist" in line


@pytest.mark.parametrize("scale", ["0", "-2", "nan", "inf"])
def test_bad_scale(tmp_path, capsys, scale):
    source = _png(tmp_path / "a.png")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), f"--scale={scale}"], "--scale", "positive")


def test_bad_quality_and_tile(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "--quality", "0"], "--quality")
    _fails_cleanly(capsys, tmp_path, ["upscale", str(source), "--tile", "-1"], "--tile")


# --------------------------------------------------------------------------------------------- folders


def test_folder_skips_non_images_with_a_warning(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _png(folder / "a.png", seed=1)
    _png(folder / "b.png", seed=2)
    (folder / "notes.txt").write_text("not an image\n")
    assert main(["upscale", str(folder), "--scale", "2"]) == 0
    captured = capsys.readouterr()
    assert "acutance: warning:" in captured.err and "notes.txt" in captured.err
    assert "error" not in captured.err
    out = tmp_path / "imgs_bicubic_x2"
    assert sorted(_tree(out)) == ["a.png", "b.png"]
    assert read_image(out / "a.png").rgb.shape == (2 * H, 2 * W, 3)
    assert "2 of 2 images" in captured.out


def test_folder_with_a_corrupt_image_writes_the_others(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _png(folder / "a.png", seed=1)
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    _png(folder / "c.png", seed=3)
    out = tmp_path / "out"
    assert main(["upscale", str(folder), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("acutance: error:")]
    assert len(errors) == 1 and "bad.png" in errors[0]
    assert sorted(_tree(out)) == ["a.png", "c.png"]  # no temp files, no partial bad.png
    assert "2 of 3 images" in captured.out and "1 failed" in captured.out


def test_folder_recursive_keeps_the_tree(tmp_path, capsys):
    folder = tmp_path / "imgs"
    _png(folder / "a.png", seed=1)
    _png(folder / "sub" / "deep" / "b.png", seed=2)
    _png(folder / "sub" / "c.png", seed=3)
    out = tmp_path / "out"
    assert main(["upscale", str(folder), "-o", str(out), "--recursive"]) == 0
    capsys.readouterr()
    assert sorted(_tree(out)) == ["a.png", "sub/c.png", "sub/deep/b.png"]
    assert read_image(out / "sub" / "deep" / "b.png").rgb.shape == (2 * H, 2 * W, 3)

    flat = tmp_path / "flat"
    assert main(["upscale", str(folder), "-o", str(flat)]) == 0  # without -r: the top level only
    capsys.readouterr()
    assert sorted(_tree(flat)) == ["a.png"]


def test_folder_given_as_dot(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "imgs"
    _png(folder / "a.png")
    monkeypatch.chdir(folder)
    assert main(["upscale", "."]) == 0
    capsys.readouterr()
    assert sorted(_tree(tmp_path / "imgs_bicubic_x2")) == ["a.png"]


def test_folder_without_images(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    assert main(["upscale", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "acutance: error:" in err and "no images" in err
    assert not (tmp_path / "empty_bicubic_x2").exists()


# --------------------------------------------------------------------------------------------- naming


def test_default_output_name_next_to_input(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source), "--model", "bicubic", "--scale", "2"]) == 0
    target = tmp_path / "a_bicubic_x2.png"
    assert capsys.readouterr().out.strip() == str(target)
    assert sorted(_tree(tmp_path)) == ["a.png", "a_bicubic_x2.png"]
    with PILImage.open(target) as pil:
        assert pil.format == "PNG" and pil.size == (2 * W, 2 * H)


def test_default_model_and_scale(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source)]) == 0
    capsys.readouterr()
    assert read_image(tmp_path / "a_bicubic_x2.png").rgb.shape == (2 * H, 2 * W, 3)


def test_output_into_a_folder(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    folder = tmp_path / "somefolder"
    folder.mkdir()
    assert main(["upscale", str(source), "-o", str(folder) + "/", "--model", "nearest", "--scale", "3"]) == 0
    capsys.readouterr()
    assert sorted(_tree(folder)) == ["a_nearest_x3.png"]
    assert read_image(folder / "a_nearest_x3.png").rgb.shape == (3 * H, 3 * W, 3)
    # an existing folder without the trailing slash is a folder too
    assert main(["upscale", str(source), "-o", str(folder), "--model", "lanczos"]) == 0
    capsys.readouterr()
    assert sorted(_tree(folder)) == ["a_lanczos_x2.png", "a_nearest_x3.png"]


def test_output_file_name(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source), "-o", str(tmp_path / "big.png")]) == 0
    capsys.readouterr()
    assert read_image(tmp_path / "big.png").rgb.shape == (2 * H, 2 * W, 3)


def test_format_changes_the_extension(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source), "--format", "jpg"]) == 0
    capsys.readouterr()
    target = tmp_path / "a_bicubic_x2.jpg"
    with PILImage.open(target) as pil:
        assert pil.format == "JPEG" and pil.size == (2 * W, 2 * H)


def test_fractional_scale_in_the_name(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source), "--scale", "1.5"]) == 0
    capsys.readouterr()
    assert read_image(tmp_path / "a_bicubic_x1.5.png").rgb.shape == (72, 96, 3)


def test_bit_depth_16(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source), "--bit-depth", "16"]) == 0
    capsys.readouterr()
    data = (tmp_path / "a_bicubic_x2.png").read_bytes()
    assert data[24] == 16  # IHDR bit depth
    assert read_image(tmp_path / "a_bicubic_x2.png").meta.bit_depth == 16


# --------------------------------------------------------------------------------------------- pixels through the CLI


def test_16bit_rgba_keeps_depth_and_alpha(tmp_path, capsys):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = (0.2 + 0.6 * xx / (W - 1) + 0.2 * (yy > H // 2)).astype(np.float32)
    rgba = np.concatenate([smooth_test_image(H, W), alpha[..., None]], axis=2)
    source = tmp_path / "rgba16.png"
    write_image(source, rgba, bit_depth=16)
    original = read_image(source)
    assert original.meta.bit_depth == 16 and original.alpha is not None

    assert main(["upscale", str(source), "--scale", "2"]) == 0
    capsys.readouterr()
    target = tmp_path / "rgba16_bicubic_x2.png"
    data = target.read_bytes()
    assert (data[24], data[25]) == (16, 6)  # 16-bit, colour type RGBA
    result = read_image(target)
    assert result.meta.bit_depth == 16 and not result.meta.grayscale
    assert result.rgb.shape == (2 * H, 2 * W, 3)
    assert result.alpha is not None and result.alpha.shape == (2 * H, 2 * W)
    expected = np.clip(imresize(original.alpha, size=(2 * H, 2 * W), method="bicubic"), 0, 1)
    assert np.abs(to_uint(result.alpha, 16).astype(int) - to_uint(expected, 16).astype(int)).max() <= 1


def test_grayscale_stays_grayscale(tmp_path, capsys):
    gray = smooth_test_image(H, W)[..., 0]
    source = tmp_path / "gray.png"
    write_image(source, gray)
    assert main(["upscale", str(source)]) == 0
    capsys.readouterr()
    target = tmp_path / "gray_bicubic_x2.png"
    with PILImage.open(target) as pil:
        assert pil.mode == "L" and pil.size == (2 * W, 2 * H)
    result = read_image(target)
    assert result.meta.grayscale and result.alpha is None


@pytest.mark.slow
def test_real_16bit_rgba_png(shared_data, tmp_path, capsys):
    source = shared_data / "real" / "RealESRGAN_inputs" / "tree_alpha_16bit.png"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    original = read_image(source)
    target = tmp_path / "tree.png"
    assert main(["upscale", str(source), "--model", "bicubic", "--scale", "2", "-o", str(target)]) == 0
    capsys.readouterr()
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert (data[24], data[25]) == (16, 6)
    height, width = original.rgb.shape[:2]
    assert int.from_bytes(data[16:20], "big") == 2 * width and int.from_bytes(data[20:24], "big") == 2 * height
    result = read_image(target)
    assert result.meta.bit_depth == 16 and result.alpha is not None
    assert result.alpha.shape == (2 * height, 2 * width)


def test_pixels_equal_the_library_result(tmp_path, capsys):
    source = _png(tmp_path / "a.png", seed=7)
    assert main(["upscale", str(source), "--model", "bicubic", "--scale", "2"]) == 0
    capsys.readouterr()
    expected = to_uint(enhance(read_image(source).rgb, load_model("bicubic"), 2), 8)
    with PILImage.open(tmp_path / "a_bicubic_x2.png") as pil:
        written = np.asarray(pil.convert("RGB"))
    np.testing.assert_array_equal(written, expected)


# --------------------------------------------------------------------------------------------- list, demo


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("bicubic", "lanczos", "nearest"):
        assert name in out


def test_list_json(capsys):
    assert main(["list", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    by_name = {m["name"]: m for m in models}
    assert {"bicubic", "lanczos", "nearest"} <= set(by_name)
    for model in models:
        assert "task" in model and "scales" in model
    assert by_name["bicubic"]["task"] == "upscale"
    assert by_name["bicubic"]["scales"] is None  # any scale


def test_demo(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["demo", "-o", str(out), "--scale", "4"]) == 0
    stdout = capsys.readouterr().out
    expected = {"comparison.png", "reference.png", "input_x4_smaller.png"}
    expected |= {f"{m}_x4.png" for m in ("nearest", "bicubic", "lanczos", "raisr")}
    assert set(_tree(out)) == expected
    for name in ("nearest", "bicubic", "lanczos"):
        assert name in stdout
    assert read_image(out / "bicubic_x4.png").rgb.shape == read_image(out / "reference.png").rgb.shape

    _fails_cleanly(capsys, tmp_path, ["demo", "-o", str(out)], "--overwrite")

    assert main(["demo", "-o", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    assert set(_tree(out)) == expected


def test_demo_into_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("a file\n")
    _fails_cleanly(capsys, tmp_path, ["demo", "-o", str(tmp_path / "f")], "f")


# --------------------------------------------------------------------------------------------- metrics


def test_metrics_of_an_image_with_itself(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    other = tmp_path / "b.png"
    write_image(other, np.clip(smooth_test_image(H, W) + 0.05, 0, 1))
    assert main(["metrics", str(source), str(source)]) == 0
    out = capsys.readouterr().out
    assert "psnr_db" in out and "inf" in out.splitlines()[-1]
    assert main(["metrics", str(source), str(other), "--y", "--crop", "2"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[0] == "b" and 15 < float(row[1]) < 60 and 0 < float(row[2]) <= 1


def test_metrics_size_mismatch(tmp_path, capsys):
    a = _png(tmp_path / "a.png")
    b = _png(tmp_path / "b.png", size=(H // 2, W // 2))
    _fails_cleanly(capsys, tmp_path, ["metrics", str(a), str(b)], "size mismatch", "a.png", "b.png")


def test_metrics_missing_file(tmp_path, capsys):
    a = _png(tmp_path / "a.png")
    _fails_cleanly(capsys, tmp_path, ["metrics", str(a), str(tmp_path / "nope.png")], "nope.png")
