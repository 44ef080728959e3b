"""Start-up: the CLI imports only the chosen command's module, and a warm numba cache means no compiling.

Each check runs the command in a fresh interpreter (``sys.modules`` and numba's dispatchers are per process).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from acutance.cli.main import COMMANDS

# Modules of other commands that a command may import for their shared argument helpers.
SHARED_HELPERS = {"acutance.cli.upscale_cmd", "acutance.cli.degrade_cmd"}

# Prints, after running the CLI in-process on argv, the modules it imported (a JSON list).
PROBE = """
import json, sys
from acutance.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:  # --help
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _probe(*argv: str, env: dict | None = None) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, env=env
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["modules"]


def _command_modules(modules: list[str]) -> set[str]:
    return {m for m in modules if m.startswith("acutance.cli.") and m.endswith("_cmd")}


def test_help_imports_no_command_module():
    code, modules = _probe("--help")
    assert code == 0
    assert _command_modules(modules) == set()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_imports_only_its_own_module(command):
    code, modules = _probe(command, "--help")
    assert code == 0
    own = COMMANDS[command][0]
    assert own in modules
    assert _command_modules(modules) - {own} <= SHARED_HELPERS


def test_the_help_table_matches_what_the_modules_register():
    """The static table in main.py is the one list of commands: every command a module registers is in it,
    under that module, with the same one-line help."""
    registered: dict[str, tuple[str, str]] = {}
    for module in sorted({module for module, _help in COMMANDS.values()}):
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(subparsers)
        for action in subparsers._choices_actions:  # one per add_parser(..., help=...)
            registered[action.dest] = (module, action.help)
    assert registered == COMMANDS


def test_upscale_with_a_lut_imports_no_training_torch_or_faces(tmp_path):
    """Acceptance 1 of issue 16: inference of lut-x4 needs neither torch nor training nor face code."""
    from acutance.io import write_image

    image = tmp_path / "x.png"
    write_image(image, np.random.default_rng(0).random((32, 32, 3), dtype=np.float32))
    code, modules = _probe("upscale", str(image), "--model", "lut-x4", "-o", str(tmp_path / "out.png"))
    assert code == 0 and (tmp_path / "out.png").is_file()
    heavy = [
        m for m in modules
        if m.split(".")[0] in ("torch", "dlib", "onnx")
        or m.startswith("acutance.faces")
        or m.startswith("acutance.train")
        or any(part in ("train", "train_cli", "train_cmd", "lerf_train", "quality_train") for part in m.split("."))
    ]
    assert heavy == []


def test_help_is_fast():
    """``acutance --help`` in under 0.3 s, whole process: its CPU time (user + sys, what the process costs
    whatever else runs), and its wall time (best of five) when the machine is not overloaded."""
    import resource

    walls, cpus = [], []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "acutance", "--help"], capture_output=True, check=True, timeout=30)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    assert min(cpus) < 0.3, cpus
    if os.getloadavg()[0] <= (os.cpu_count() or 1):  # on a machine shared past its cores, wall time is noise
        assert min(walls) < 0.3, walls


def test_python_m_acutance_runs():
    done = subprocess.run([sys.executable, "-m", "acutance", "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("acutance ")
    done = subprocess.run([sys.executable, "-m", "acutance", "nope"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "invalid choice" in done.stderr


def _cache_events(env: dict, *argv: str) -> tuple[int, int]:
    """Run ``acutance ARGV`` with numba's cache debugging on: (kernels compiled and saved, kernels loaded)."""
    done = subprocess.run(
        [sys.executable, "-m", "acutance", *argv], capture_output=True, text=True, timeout=600,
        env=env | {"NUMBA_DEBUG_CACHE": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.count("data saved"), done.stdout.count("data loaded")


def _cache_env(folder: Path) -> dict:
    cache = folder / "numba-cache"  # an empty cache of our own: the tree's __pycache__ is left alone
    cache.mkdir(parents=True)
    return os.environ | {"NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}


def _write(path: Path, shape: tuple[int, ...], seed: int = 1) -> Path:
    from PIL import Image

    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def test_warm_compiles_what_a_run_then_only_loads(tmp_path):
    """After ``acutance warm -m lut-x4`` an upscale with lut-x4 compiles nothing: the warm step compiled the
    argument types real runs use. With an empty cache the same run compiles (so the check can fail)."""
    image = _write(tmp_path / "x64.png", (64, 64, 3))
    upscale = ("upscale", str(image), "-m", "lut-x4", "-o", str(tmp_path / "out.png"), "--overwrite")
    saved, _ = _cache_events(_cache_env(tmp_path / "cold"), *upscale)
    assert saved > 0
    env = _cache_env(tmp_path / "warm")
    saved, _ = _cache_events(env, "warm", "-m", "lut-x4", "--quiet")
    assert saved > 0
    saved, loaded = _cache_events(env, *upscale)
    assert saved == 0 and loaded > 0


@pytest.mark.slow
@pytest.mark.timeout(900)  # compiles a handful of kernel sets from nothing: minutes on a busy 2-core machine
def test_warm_covers_the_models_of_acceptance_2(tmp_path):
    """After ``acutance warm`` (``make install``/``make demo`` run it for every shipped image model; here the
    three of issue 16's acceptance 2) an upscale compiles nothing, untiled or tiled, nor for an RGBA, a
    grayscale or a 16-bit input."""
    from acutance.io import write_image

    env = _cache_env(tmp_path)
    models = ("raisr-x2", "lut-x4", "esr-max-c4-k5-x2")
    _cache_events(env, "warm", "--quiet", *(f"--model={m}" for m in models))
    rgb = _write(tmp_path / "rgb.png", (64, 64, 3))
    others = [_write(tmp_path / "rgba.png", (64, 64, 4)), _write(tmp_path / "gray.png", (64, 64))]
    write_image(tmp_path / "deep.png", np.random.default_rng(3).random((64, 64, 3), dtype=np.float32), bit_depth=16)
    others.append(tmp_path / "deep.png")
    runs = [(rgb, model, extra) for model in models for extra in ((), ("--tile", "48"))]
    runs += [(image, "lut-x4", ()) for image in others]
    compiled = []
    for image, model, extra in runs:
        out = tmp_path / f"{image.stem}-{model}-{len(extra)}.png"
        saved, _ = _cache_events(env, "upscale", str(image), "-m", model, "-o", str(out), *extra)
        if saved:
            compiled.append((image.name, model, extra, saved))
    assert compiled == []
