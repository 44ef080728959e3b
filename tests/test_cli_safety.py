"""The CLI's data-loss and resource defects of issue 15, and --outscale of issue 16.

Each test here failed on the code before the fix: ``upscale IN/ -o IN/ --overwrite`` replaced the inputs, a
recursive rerun into a folder inside IN wrote ``x2/x2``, and absurd scales or sizes took gigabytes before an
``ArrayMemoryError`` traceback (or ran for minutes with ``--tile 1``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, smooth_test_image

from acutance.cli.main import main
from acutance.io import read_image
from acutance.contract import to_uint

PEAK_LIMIT = 1.5e9  # bytes: issue 15's bound for every reproduction


def _png(path: Path, height: int = 24, width: int = 32, seed: int = 0) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint(smooth_test_image(height, width, seed))).save(path)
    return path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _error_line(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("acutance: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------ data loss


@pytest.mark.parametrize("spelling", ["same", "trailing-slash", "dot-dot"])
def test_output_folder_that_is_the_input_is_refused(tmp_path, capsys, spelling):
    folder = tmp_path / "in"
    _png(folder / "a.png")
    _png(folder / "b.png", seed=1)
    before = _snapshot(tmp_path)
    output = {"same": str(folder), "trailing-slash": f"{folder}/", "dot-dot": f"{folder}/../in"}[spelling]
    assert main(["upscale", str(folder), "-o", output, "--overwrite", "--scale", "2"]) != 0
    _error_line(capsys, "input folder")
    assert _snapshot(tmp_path) == before  # nothing replaced, nothing added


def test_output_that_lands_on_an_input_is_refused(tmp_path, capsys):
    # With -o the parent of IN, IN/sub/a.png's output would be IN/a.png: another input of the same run.
    folder = tmp_path / "parent" / "in"
    _png(folder / "a.png")
    _png(folder / "in" / "a.png", seed=1)
    before = _snapshot(tmp_path)
    assert main(["upscale", str(folder), "-o", str(folder.parent), "-r", "--overwrite", "--scale", "2"]) != 0
    _error_line(capsys, "which is an input")
    assert _snapshot(tmp_path) == before


def test_single_file_onto_itself_is_refused(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    before = _snapshot(tmp_path)
    assert main(["upscale", str(source), "-o", str(source), "--overwrite"]) != 0
    _error_line(capsys, "is the input")
    assert _snapshot(tmp_path) == before


def test_recursive_rerun_leaves_its_output_tree_out(tmp_path, capsys):
    folder = tmp_path / "dir"
    _png(folder / "a.png")
    _png(folder / "sub" / "b.png", seed=1)
    argv = ["upscale", str(folder), "-o", str(folder / "x2"), "-r", "--scale", "2"]
    assert main(argv) == 0
    assert main(argv + ["--overwrite"]) == 0  # the rerun reads only the two inputs again
    capsys.readouterr()
    outputs = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png"))
    assert outputs == ["a.png", "sub/b.png", "x2/a.png", "x2/sub/b.png"]
    assert not (folder / "x2" / "x2").exists()
    assert read_image(folder / "x2" / "a.png").rgb.shape == (48, 64, 3)  # from the input, not upscaled twice


# ------------------------------------------------------------------------------------------ resources


def _peak_of(argv: list[str], tmp_path: Path) -> tuple[int, str, int]:
    """Run ``acutance ARGV`` in a child process: (exit status, stderr, the child's peak RSS in bytes)."""
    script = textwrap.dedent(
        f"""
        import resource, subprocess, sys
        child = subprocess.run([sys.executable, "-m", "acutance", *{argv!r}], capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
        sys.stderr.write(child.stderr)
        print(child.returncode, peak)
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)
    code, peak = done.stdout.split()
    return int(code), done.stderr, int(peak)


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--scale", "1e-8"], "--scale"),
        (["--scale", "60"], "--scale"),
        (["--scale", "1000"], "--scale"),
        (["--size", "100000x100000"], "output limit"),
        (["--model", "lerf", "--scale", "30"], "working memory"),  # in range, but 8640x8640 floats
        (["--model", "compact-x4", "--tile", "1"], "minimum is 24"),
    ],
)
def test_absurd_requests_are_one_line_and_small(tmp_path, options, fragment):
    source = _png(tmp_path / "a.png", 288, 288)
    before = _snapshot(tmp_path)
    code, err, peak = _peak_of(["upscale", str(source), *options], tmp_path)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("acutance: error:"), err
    assert fragment in lines[0], lines[0]
    assert peak < PEAK_LIMIT, f"peak RSS {peak / 1e6:.0f} MB"
    assert _snapshot(tmp_path) == before


@pytest.mark.slow
def test_4k_compact_x4_tiles_itself_under_1gb(tmp_path):
    """Issue 15 acceptance 3: 960x540 -> 3840x2160 with compact-x4, tiled automatically, peak under 1 GB."""
    source = _png(tmp_path / "frame.png", 540, 960)
    code, err, peak = _peak_of(["upscale", str(source), "--model", "compact-x4", "-o", "out.png"], tmp_path)
    assert code == 0, err
    assert read_image(tmp_path / "out.png").rgb.shape == (2160, 3840, 3)
    assert peak < 1e9, f"peak RSS {peak / 1e6:.0f} MB"


# ------------------------------------------------------------------------------------------ --outscale


def test_outscale_runs_the_native_factor_then_resizes(tmp_path, capsys):
    source = _png(tmp_path / "a.png", 24, 32)
    assert main(["upscale", str(source), "--model", "raisr-x2", "--outscale", "3"]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out.name == "a_raisr-x2_x3.png"
    assert read_image(out).rgb.shape == (72, 96, 3)
    # the same as the model at x2 followed by MATLAB bicubic to 3x the input
    import acutance
    from acutance.pipeline import enhance
    from acutance.resize import imresize

    rgb = read_image(source).rgb
    expected = np.clip(imresize(enhance(rgb, acutance.load_model("raisr-x2")), size=(72, 96)), 0, 1)
    assert np.abs(read_image(out).rgb - expected).max() <= 1 / 255 + 1e-6


def test_wrong_scale_of_a_fixed_model_points_to_outscale(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    assert main(["upscale", str(source), "--model", "raisr-x2", "--scale", "3"]) != 0
    _error_line(capsys, "supports x2", "--outscale 3")


def test_outscale_with_an_any_scale_model_is_its_scale(tmp_path, capsys):
    source = _png(tmp_path / "a.png", 20, 30)
    assert main(["upscale", str(source), "--model", "bicubic", "--outscale", "1.5"]) == 0
    assert read_image(Path(capsys.readouterr().out.strip())).rgb.shape == (30, 45, 3)
    assert main(["upscale", str(source), "--outscale", "1e9"]) != 0
    _error_line(capsys, "--outscale")


# ------------------------------------------------------------------------------------------ start-up


def test_upscale_parser_imports_no_face_code():
    code = (
        "import argparse, sys\n"
        "from acutance.cli import upscale_cmd\n"
        "upscale_cmd.register(argparse.ArgumentParser().add_subparsers())\n"
        "print(','.join(m for m in sys.modules if m.startswith('acutance.faces') or m == 'torch'))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == ""


def test_limit_flags_on_the_image_commands(tmp_path, capsys):
    source = _png(tmp_path / "a.png")
    for command in (["upscale"], ["denoise"], ["deblock"], ["sharpen"]):
        assert main([*command, str(source), "--max-output-pixels", "100", "--overwrite"]) != 0
        _error_line(capsys, "--max-output-pixels")


# ------------------------------------------------------------------------------------------ progress


class _Terminal:
    """A stand-in stderr that says it is a terminal (tqdm shows bars only there)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("command", [["upscale", "--scale", "2"], ["sharpen"], ["denoise"]])
def test_progress_over_tiles_on_a_terminal_only(tmp_path, capsys, monkeypatch, command):
    source = _png(tmp_path / "a.png", 100, 120)
    argv = [command[0], str(source), *command[1:], "--tile", "48", "--overwrite"]
    assert main(argv) == 0
    assert "tile" not in capsys.readouterr().err  # not a terminal: silent
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(argv) == 0
    assert "a.png" in terminal.text and "tile" in terminal.text and "<" in terminal.text  # name, unit, ETA
