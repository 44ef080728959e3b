"""``.cube`` 3D LUTs: colour-science reads and writes them, our kernels match its interpolation, malformed
files are one line naming the line, ``lut apply`` keeps bit depth and alpha, ffmpeg's lut3d agrees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_test_image

pytest.importorskip("colour")

from acutance.grading.cube import LutError, apply_lut, read_cube, write_cube  # noqa: E402


def look_table(size: int = 9, seed: int = 0) -> np.ndarray:
    """A non-separable look (cross-channel terms and noise), so a wrong axis order or interpolation shows."""
    grid = np.linspace(0, 1, size)
    r, g, b = np.meshgrid(grid, grid, grid, indexing="ij")
    table = np.stack([r**0.8 * 0.9 + 0.1 * b, g * 0.85 + 0.1 * r**2, b**1.3 * 0.8 + 0.15 * g], -1)
    return np.clip(table + np.random.default_rng(seed).normal(0, 0.02, table.shape), 0, 1)


@pytest.fixture
def cube_file(tmp_path) -> Path:
    return write_cube(tmp_path / "look.cube", look_table(), title="test look")


def test_write_read_round_trip(cube_file):
    lut = read_cube(cube_file)
    assert lut.is_3d and lut.size == 9 and lut.title == "test look"
    np.testing.assert_allclose(lut.table, look_table(), atol=1e-6)
    text = cube_file.read_text()
    assert "LUT_3D_SIZE 9" in text


@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_kernels_match_colour_science(cube_file, interpolation):
    import colour
    from colour.algebra import table_interpolation_tetrahedral, table_interpolation_trilinear

    image = smooth_test_image(40, 56)
    lut = read_cube(cube_file)
    reference = colour.LUT3D(look_table()).apply(
        image, interpolator={"trilinear": table_interpolation_trilinear,
                             "tetrahedral": table_interpolation_tetrahedral}[interpolation])  # fmt: skip
    np.testing.assert_allclose(apply_lut(image, lut, interpolation), np.clip(reference, 0, 1), atol=2e-6)


def test_the_two_interpolations_differ_and_identity_is_exact(tmp_path, cube_file):
    image = smooth_test_image(32, 32)
    lut = read_cube(cube_file)
    assert np.abs(apply_lut(image, lut, "trilinear") - apply_lut(image, lut, "tetrahedral")).max() > 1e-4
    grid = np.linspace(0, 1, 5)
    identity = write_cube(tmp_path / "id.cube", np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1))
    for interpolation in ("trilinear", "tetrahedral"):
        np.testing.assert_allclose(apply_lut(image, read_cube(identity), interpolation), image, atol=1e-6)


def test_domain_and_resolve_input_range(tmp_path):
    grid = np.linspace(0, 1, 2)
    rows = "\n".join(f"{r} {g} {b}" for b in grid for g in grid for r in grid)  # identity, red fastest
    path = tmp_path / "range.cube"
    path.write_text(f"LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0 2\n{rows}\n")
    lut = read_cube(path)
    np.testing.assert_allclose(lut.domain, [[0, 0, 0], [2, 2, 2]])
    image = np.full((1, 1, 3), 0.5, np.float32)
    np.testing.assert_allclose(apply_lut(image, lut), 0.25, atol=1e-6)  # 0.5 is a quarter of 0..2


def test_one_d_cube_is_three_curves(tmp_path):
    path = tmp_path / "curve.cube"
    path.write_text("LUT_1D_SIZE 3\n0 0 0\n0.25 0.5 0.75\n1 1 1\n")
    out = apply_lut(np.full((1, 1, 3), 0.5, np.float32), read_cube(path))
    np.testing.assert_allclose(out[0, 0], [0.25, 0.5, 0.75], atol=1e-6)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 3 + "0 zero 0\n" + "1 1 1\n" * 4, "line 5: expected three finite numbers"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7, "LUT_3D_SIZE 2 needs 8 table rows, found 7 (the last at line 8)"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 9, "line 10: more table rows than LUT_3D_SIZE 2"),
        ("LUT_3D_SIZE 300\n", "line 1: LUT_3D_SIZE must be one integer in 2..256"),
        ("# a comment\n0 0 0\n", "line 2: table data before LUT_3D_SIZE"),
        ("LUT_3D_SIZE 2\nLUT_3D_SIZE 2\n", "line 2: a second size keyword"),
        ("LUT_3D_SIZE 2\nGAMMA 2.2\n", "line 2: unknown keyword 'GAMMA'"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7 + "nan 0 0\n", "line 9: expected three finite numbers"),
        ("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0\n", "line 2: DOMAIN_MIN needs 3 numbers"),
        ("TITLE \"only a title\"\n", "no LUT_3D_SIZE"),
    ],
)
def test_malformed_cube_is_one_line_naming_the_line(tmp_path, text, fragment):
    path = tmp_path / "bad.cube"
    path.write_text(text)
    with pytest.raises(LutError) as error:
        read_cube(path)
    message = str(error.value)
    assert fragment in message and "\n" not in message and str(path) in message


# ------------------------------------------------------------------------------------------------- CLI


def _main(argv):
    from acutance.cli.main import main

    return main([str(a) for a in argv])


def test_lut_apply_keeps_16_bit_and_alpha(tmp_path, cube_file):
    import cv2

    from acutance.io import read_image

    image = smooth_test_image(24, 30)
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), np.round(image[..., ::-1] * 65535).astype(np.uint16))
    assert _main(["lut", "apply", deep, "--lut", cube_file, "-o", tmp_path / "deep_out.png"]) == 0
    out = cv2.imread(str(tmp_path / "deep_out.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16
    expected = apply_lut(read_image(deep).rgb, read_cube(cube_file))
    np.testing.assert_allclose(out[..., ::-1] / 65535.0, expected, atol=1 / 65535)

    alpha = (np.arange(24 * 30).reshape(24, 30) % 256).astype(np.uint8)
    rgba = np.dstack([np.round(image * 255).astype(np.uint8), alpha])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert _main(["lut", "apply", tmp_path / "rgba.png", "--lut", cube_file, "--interpolation", "trilinear"]) == 0
    written = np.asarray(Image.open(tmp_path / "rgba_look.png"))
    assert written.shape == (24, 30, 4)
    np.testing.assert_array_equal(written[..., 3], alpha)


def test_lut_apply_bad_cube_is_one_line_error_and_writes_nothing(tmp_path, capsys):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in.png")
    (tmp_path / "bad.cube").write_text("LUT_3D_SIZE 2\n0 0 0\n1 2\n")
    assert _main(["lut", "apply", tmp_path / "in.png", "--lut", tmp_path / "bad.cube", "-o", tmp_path / "o.png"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("acutance: error:") and "line 3" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_lut_apply_folder(tmp_path, cube_file):
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.round(smooth_test_image(8, 8) * 255).astype(np.uint8)).save(folder / name)
    assert _main(["lut", "apply", folder, "--lut", cube_file, "-o", tmp_path / "graded"]) == 0
    assert sorted(p.name for p in (tmp_path / "graded").iterdir()) == ["a.png", "b.png"]


def test_ffmpeg_lut3d_loads_our_file_and_agrees(tmp_path):
    """The bundled ffmpeg's lut3d reads the file we write; its tetrahedral result is ours within 1/255 mean."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    cube = write_cube(tmp_path / "look.cube", look_table(17))
    image = np.round(smooth_test_image(64, 96) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(tmp_path / "in.png"),
         "-vf", f"lut3d=file={cube}:interp=tetrahedral", "-pix_fmt", "rgb24", str(tmp_path / "ff.png")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    theirs = np.asarray(Image.open(tmp_path / "ff.png").convert("RGB")).astype(np.float64) / 255
    ours = apply_lut(image.astype(np.float32) / 255, read_cube(cube))
    assert np.abs(theirs - image / 255).mean() > 5 / 255  # the look did something
    assert np.abs(theirs - ours).mean() <= 1 / 255
