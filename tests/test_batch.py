"""``acutance batch``: tree kept, non-images skipped, corrupt input reported, finished outputs kept
(resume), manifest, exit status, kill-and-rerun, local process pool identical to serial."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from acutance.batch import BatchOptions, run_batch
from acutance.cli.main import main
from acutance.io import Image, ImageMeta, read_image, write_image
from conftest import REPO_ROOT, smooth_test_image


def _png(path: Path, seed: int, size: tuple[int, int] = (40, 56)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, smooth_test_image(*size, seed=seed))
    return path


def _manifest(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {Path(row["input"]).name: row for row in csv.DictReader(handle)}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """in/a.png, in/sub/b.jpg, in/sub/deeper/c.png, in/sub/deeper/d.png (16-bit gray), a text file, a
    PNG cut in half."""
    root = tmp_path / "in"
    _png(root / "a.png", 1)
    (root / "sub").mkdir()
    write_image(root / "sub" / "b.jpg", smooth_test_image(33, 47, seed=2))
    _png(root / "sub" / "deeper" / "c.png", 3)
    gray = np.repeat(smooth_test_image(20, 24, seed=4)[..., :1], 3, axis=2)
    meta = ImageMeta(bit_depth=16, grayscale=True, format="PNG", icc_profile=None, exif=None)
    write_image(root / "sub" / "deeper" / "d.png", Image(rgb=gray, alpha=None, meta=meta))
    (root / "notes.txt").write_text("not an image")
    whole = _png(tmp_path / "whole.png", 5).read_bytes()
    (root / "sub" / "broken.png").write_bytes(whole[: len(whole) // 2])
    return root


def test_tree_resume_corrupt_and_exit_status(tree: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    # An output already done (by the single-file command): it must be kept, not recomputed.
    (out / "sub" / "deeper").mkdir(parents=True)
    done = out / "sub" / "deeper" / "c.png"
    assert main(["upscale", str(tree / "sub" / "deeper" / "c.png"), "-o", str(done), "-m", "bicubic"]) == 0
    os.utime(done, ns=(1_000_000_000, 1_000_000_000))  # a stamp no rewrite would keep
    before = done.stat()
    capsys.readouterr()

    assert main(["batch", str(tree), str(out), "-m", "bicubic", "-r"]) == 1  # only the corrupt file fails
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "notes.txt" in err
    assert "broken.png" in err and "error" in err

    produced = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert produced == ["a.png", "manifest.csv", "sub/b.jpg", "sub/deeper/c.png", "sub/deeper/d.png"]
    after = done.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # Every output equals what `acutance upscale` writes for that file.
    for name in ("a.png", "sub/b.jpg", "sub/deeper/d.png"):
        single = tmp_path / "single" / name
        single.parent.mkdir(parents=True, exist_ok=True)
        assert main(["upscale", str(tree / name), "-o", str(single), "-m", "bicubic"]) == 0
        assert (out / name).read_bytes() == single.read_bytes(), name
    assert read_image(out / "sub" / "deeper" / "d.png").meta.bit_depth == 16

    rows = _manifest(out / "manifest.csv")
    assert set(next(iter(rows.values()))) == {"input", "output", "model", "seconds", "status", "message"}
    assert rows["a.png"]["status"] == "done" and float(rows["a.png"]["seconds"]) > 0
    assert rows["c.png"]["status"] == "skipped"
    assert rows["broken.png"]["status"] == "failed" and "broken.png" in rows["broken.png"]["message"]
    assert rows["notes.txt"]["status"] == "ignored"
    assert {row["model"] for row in rows.values()} == {"bicubic"}

    # Without the corrupt file the rerun succeeds and recomputes nothing.
    (tree / "sub" / "broken.png").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.*g") if p.is_file()}
    capsys.readouterr()
    assert main(["batch", str(tree), str(out), "-m", "bicubic", "-r", "--manifest", str(tmp_path / "m.json")]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    rows = json.loads((tmp_path / "m.json").read_text())
    assert [row["status"] for row in rows if row["status"] != "ignored"] == ["skipped"] * 4


def test_not_recursive_and_folder_errors(tree: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "flat"
    assert main(["batch", str(tree), str(out), "-m", "bicubic", "-s", "3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "manifest.csv"]
    assert read_image(out / "a.png").rgb.shape[:2] == (120, 168)
    capsys.readouterr()
    for argv, fragment in [
        (["batch", str(tree), str(tree), "-m", "bicubic"], "must differ"),
        (["batch", str(tree), str(out), "-m", "nope"], "unknown model"),
        (["batch", str(tree), str(out), "-m", "raisr-x2", "-s", "3"], "supports x2"),
        (["batch", str(tree), str(out), "-m", "bicubic", "-j", "0"], "--workers"),
        (["batch", str(tmp_path / "missing"), str(out), "-m", "bicubic"], "missing"),
    ]:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("acutance: error:") and fragment in err[0], (argv, err)


def test_existing_output_that_is_not_complete(tmp_path: Path, capsys) -> None:
    source = _png(tmp_path / "in" / "a.png", 1)
    out = tmp_path / "out"
    out.mkdir()
    _png(out / "a.png", 2, size=(10, 10))  # wrong size: not an output of this run
    assert main(["batch", str(source.parent), str(out), "-m", "bicubic"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert read_image(out / "a.png").rgb.shape[:2] == (10, 10)  # kept
    assert main(["batch", str(source.parent), str(out), "-m", "bicubic", "--overwrite"]) == 0
    assert read_image(out / "a.png").rgb.shape[:2] == (80, 112)


def test_output_inside_input_is_not_taken_for_input(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _png(root / "a.png", 1)
    out = root / "x2"
    options = BatchOptions(model="bicubic", recursive=True, progress=False)
    assert run_batch(root, out, options, warn=lambda line: None).count("done") == 1
    summary = run_batch(root, out, options, warn=lambda line: None)
    assert [r.status for r in summary.records] == ["skipped"]
    assert not (out / "x2").exists()


def test_workers_pool_identical_to_serial(tree: Path, tmp_path: Path) -> None:
    (tree / "sub" / "broken.png").unlink()
    quiet = lambda line: None  # noqa: E731
    options = BatchOptions(model="cas-x2", recursive=True, progress=False)
    serial = run_batch(tree, tmp_path / "serial", options, warn=quiet)
    pool = run_batch(tree, tmp_path / "pool", dataclasses.replace(options, workers=2), warn=quiet)
    assert serial.exit_code == pool.exit_code == 0
    names = [r.output for r in serial.records if r.status == "done"]
    assert len(names) == 4
    for name in names:
        relative = Path(name).relative_to(tmp_path / "serial")
        assert (tmp_path / "pool" / relative).read_bytes() == Path(name).read_bytes(), relative
    assert len({r.worker for r in pool.records if r.status == "done"}) >= 1
    assert all(r.model_loads == 1 for r in pool.records if r.status == "done")


def test_killed_run_leaves_no_half_file_and_rerun_completes(tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    count = 16
    for i in range(count):
        _png(source / f"img_{i:02d}.png", i, size=(160, 160))
    out.mkdir()
    stale = out / ".img_03.0123456789ab.tmp.png"  # what an earlier kill during a write leaves
    stale.write_bytes(b"half")
    command = [sys.executable, "-m", "acutance", "batch", str(source), str(out), "-m", "lanczos", "-s", "3"]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.glob("img_*.png")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = {p.name: p.stat().st_ino for p in out.glob("img_*.png")}
    assert 0 < len(first) < count, f"the run was not cut in the middle ({len(first)} of {count} written)"
    for name in first:  # whatever has a final name is a whole image
        assert read_image(out / name).rgb.shape[:2] == (480, 480)
    assert not (out / "manifest.csv").exists()

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("img_*.png")) == [f"img_{i:02d}.png" for i in range(count)]
    assert {name: (out / name).stat().st_ino for name in first} == first  # not rewritten
    assert not stale.exists() and not list(out.glob(".*"))
    rows = _manifest(out / "manifest.csv")
    assert sum(row["status"] == "skipped" for row in rows.values()) == len(first)
    assert sum(row["status"] == "done" for row in rows.values()) == count - len(first)


def test_notices_limits_and_format_requests_reach_every_worker(tmp_path: Path, capsys) -> None:
    """Issue 15: an RGBA input into JPEG is composited with a notice (printed by the driver, kept in the
    manifest), the driver's --max-pixels applies in spawned workers too, and a request the format cannot meet
    (--bit-depth 16 into JPEG) fails before any work."""
    from PIL import Image as PILImage

    source = tmp_path / "in"
    source.mkdir()
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[..., 0], rgba[:, :12, 3] = 255, 255  # red, right half fully transparent
    PILImage.fromarray(rgba).save(source / "logo.png")
    out = tmp_path / "out"
    assert main(["batch", str(source), str(out), "-m", "bicubic", "--format", "jpg", "-j", "2"]) == 0
    err = capsys.readouterr().err
    assert "acutance: warning: " in err and "logo.png: JPEG holds no alpha" in err
    assert "holds no alpha" in _manifest(out / "manifest.csv")["logo.png"]["message"]
    assert np.asarray(PILImage.open(out / "logo.jpg"))[:, 30:].min() >= 240  # white, not the hidden red

    assert main(["batch", str(source), str(tmp_path / "small"), "-m", "bicubic", "-j", "2", "--max-pixels", "100"]) == 1
    err = capsys.readouterr().err
    assert "logo.png: 24x20 (0.0 MP) is over the input limit" in err and "--max-pixels" in err

    capsys.readouterr()
    argv = ["batch", str(source), str(tmp_path / "deep"), "-m", "bicubic", "--format", "jpg", "--bit-depth", "16"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["acutance: error: JPEG holds 8 bits per channel: --bit-depth 16 needs PNG or TIFF"]
    assert not (tmp_path / "deep").exists()


def test_animated_input_fails_unless_first_frame(tmp_path: Path, capsys) -> None:
    from PIL import Image as PILImage

    source = tmp_path / "in"
    source.mkdir()
    frames = [PILImage.fromarray(np.full((8, 10, 3), 60 * i, np.uint8)) for i in range(2)]
    frames[0].save(source / "anim.png", save_all=True, append_images=frames[1:])
    assert main(["batch", str(source), str(tmp_path / "out"), "-m", "bicubic"]) == 1
    assert "animated or multi-page image: 2 frames" in capsys.readouterr().err
    assert main(["batch", str(source), str(tmp_path / "first"), "-m", "bicubic", "--first-frame"]) == 0
    assert read_image(tmp_path / "first" / "anim.png").rgb.shape[:2] == (16, 20)
