"""``acutance faces`` and ``acutance upscale --face-enhance`` end to end, with a stand-in restorer (the
pipeline is under test here, not a network): notices, one-line errors, fidelity 0 bit-exact, folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_test_image
from test_faces_pipeline import brighten_and_texture

from acutance.cli.main import main
from acutance.contract import to_uint
from acutance.io import read_image, write_image

pytest.importorskip("dlib")


@pytest.fixture
def stand_in_restorer(monkeypatch):
    """Every restorer name loads the brighten-and-texture stand-in; the names asked for are recorded."""
    from acutance.faces import enhance

    asked: list[str] = []

    def load(name):
        asked.append(str(name))
        return brighten_and_texture

    monkeypatch.setattr(enhance, "load_restorer", load)
    return asked


def _png(path: Path, seed: int = 0, size: tuple[int, int] = (72, 96)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, smooth_test_image(*size, seed=seed))
    return path


def _pixels(path: Path) -> np.ndarray:
    return to_uint(read_image(path).rgb)


def _one_line_error(capsys, *fragments: str) -> None:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("acutance: error: "), captured.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_no_face_is_written_unchanged_with_a_notice(tmp_path, capsys, stand_in_restorer):
    source = _png(tmp_path / "scene.png")
    target = tmp_path / "out.png"
    assert main(["faces", str(source), "-o", str(target), "--fidelity", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(target)
    assert f"acutance: notice: {source}: no face found" in captured.err
    assert np.array_equal(_pixels(target), _pixels(source))
    assert stand_in_restorer == ["face-restore"]


def test_default_output_name_and_restorer_option(tmp_path, capsys, stand_in_restorer):
    source = _png(tmp_path / "scene.png")
    assert main(["faces", str(source), "--restorer", "my.onnx"]) == 0
    assert (tmp_path / "scene_faces.png").is_file()
    assert stand_in_restorer == ["my.onnx"]


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--fidelity", "1.5"], "--fidelity must be in 0..1"),
        (["--min-size", "-3"], "--min-size"),
        (["--quality", "0"], "--quality"),
    ],
)
def test_bad_options_are_one_line_errors_that_write_nothing(tmp_path, capsys, stand_in_restorer, options, fragment):
    source = _png(tmp_path / "scene.png")
    assert main(["faces", str(source), "-o", str(tmp_path / "out.png"), *options]) == 1
    _one_line_error(capsys, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.png"]


def test_existing_output_needs_overwrite(tmp_path, capsys, stand_in_restorer):
    source = _png(tmp_path / "scene.png")
    target = _png(tmp_path / "out.png", seed=5)
    before = target.read_bytes()
    assert main(["faces", str(source), "-o", str(target)]) == 1
    _one_line_error(capsys, "exists", "--overwrite")
    assert target.read_bytes() == before
    assert main(["faces", str(source), "-o", str(target), "--overwrite"]) == 0
    assert np.array_equal(_pixels(target), _pixels(source))


def test_unknown_restorer_is_a_one_line_error(tmp_path, capsys):
    source = _png(tmp_path / "scene.png")
    assert main(["faces", str(source), "-o", str(tmp_path / "out.png"), "--restorer", "no-such-restorer"]) == 1
    _one_line_error(capsys, "no-such-restorer")
    assert not (tmp_path / "out.png").exists()


def test_folder_run(tmp_path, capsys, stand_in_restorer):
    _png(tmp_path / "in" / "a.png", seed=1)
    _png(tmp_path / "in" / "sub" / "b.png", seed=2)
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert main(["faces", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-r"]) == 0
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "sub" / "b.png").is_file()
    captured = capsys.readouterr()
    assert "2 of 2 images written" in captured.out
    assert "skipping" in captured.err and captured.err.count("no face found") == 2
    assert stand_in_restorer == ["face-restore"]  # loaded once for the folder


def test_upscale_face_enhance_without_faces_equals_plain_upscale(tmp_path, capsys, stand_in_restorer):
    source = _png(tmp_path / "scene.png")
    assert main(["upscale", str(source), "--scale", "2", "-o", str(tmp_path / "plain.png")]) == 0
    assert main(["upscale", str(source), "--scale", "2", "--face-enhance", "--fidelity", "1"]) == 0
    enhanced = tmp_path / "scene_bicubic_x2_faces.png"
    assert enhanced.is_file()
    assert np.array_equal(_pixels(enhanced), _pixels(tmp_path / "plain.png"))
    assert "no face found" in capsys.readouterr().err


def test_upscale_face_enhance_rejects_a_bad_fidelity(tmp_path, capsys, stand_in_restorer):
    source = _png(tmp_path / "scene.png")
    assert main(["upscale", str(source), "--scale", "2", "--face-enhance", "--fidelity", "-1"]) == 1
    _one_line_error(capsys, "--fidelity")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.png"]


# --------------------------------------------------------------------------------------------- real faces


def _lfw_png(shared_data: Path, tmp_path: Path) -> Path:
    folder = sorted(p for p in (shared_data / "faces" / "lfw").iterdir() if p.is_dir())[0]
    image = read_image(sorted(folder.iterdir())[0])
    path = tmp_path / "face.png"
    write_image(path, image.rgb)
    return path


@pytest.mark.slow
def test_fidelity_zero_is_bit_exact_and_one_restores(shared_data, tmp_path, capsys, stand_in_restorer):
    """Acceptance 4 through the CLI: --fidelity 0 writes the input's pixels; 1 changes the face only."""
    source = _lfw_png(shared_data, tmp_path)
    assert main(["faces", str(source), "-o", str(tmp_path / "f0.png"), "--fidelity", "0"]) == 0
    assert np.array_equal(_pixels(tmp_path / "f0.png"), _pixels(source))
    assert main(["faces", str(source), "-o", str(tmp_path / "f1.png"), "--fidelity", "1"]) == 0
    assert "notice" not in capsys.readouterr().err
    changed = np.any(_pixels(tmp_path / "f1.png") != _pixels(source), axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.mean() > 0.1  # the face of an LFW image covers a good part of it
    assert 80 < xs.mean() < 170 and 80 < ys.mean() < 170  # LFW faces are centred in 250x250
    assert not changed[:20].any() and not changed[:, :20].any()  # corners: background untouched


@pytest.mark.slow
def test_upscale_face_enhance_pastes_on_the_upscaled_image(shared_data, tmp_path, capsys, stand_in_restorer):
    source = _lfw_png(shared_data, tmp_path)
    assert main(["upscale", str(source), "--scale", "2", "-o", str(tmp_path / "plain.png")]) == 0
    assert main(["upscale", str(source), "--scale", "2", "--face-enhance", "-o", str(tmp_path / "faces.png")]) == 0
    plain, faces = _pixels(tmp_path / "plain.png"), _pixels(tmp_path / "faces.png")
    assert faces.shape == plain.shape == (500, 500, 3)
    changed = np.any(faces != plain, axis=2)
    assert changed.mean() > 0.05 and not changed[:40].any()
    assert (
        main(
            [
                "upscale",
                str(source),
                "--scale",
                "2",
                "--face-enhance",
                "--fidelity",
                "0",
                "-o",
                str(tmp_path / "f0.png"),
            ]
        )
        == 0
    )
    assert np.array_equal(_pixels(tmp_path / "f0.png"), plain)
