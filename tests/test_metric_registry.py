"""The metric registry (acutance.metrics.registry): one row per metric, read by the CLI and the evaluation."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from acutance.errors import OptionError
from acutance.metrics import registry
from conftest import smooth_test_image


def test_the_table_holds_every_metric_we_ship():
    names = {info.name: info for info in registry.list_metrics()}
    assert set(names) == {"psnr", "ssim", "ms_ssim", "niqe", "face_quality", "vmaf"}
    assert [m.name for m in registry.list_metrics("full-reference")] == ["psnr", "ssim", "ms_ssim"]
    assert [m.name for m in registry.list_metrics("no-reference")] == ["niqe", "face_quality"]
    assert [m.name for m in registry.list_metrics("video")] == ["vmaf"]
    assert names["niqe"].lower_is_better and not names["psnr"].lower_is_better
    assert names["psnr"].range == (0.0, math.inf) and names["vmaf"].range == (0.0, 100.0)
    assert names["psnr"].column == "psnr_db" and names["ssim"].column == "ssim"
    for info in names.values():
        low, high = info.range
        assert low < high and info.kind in registry.KINDS and info.summary


def test_every_loader_names_a_function():
    """Each ``module:function`` resolves (the extras are installed in the test environment)."""
    for info in registry.list_metrics():
        assert callable(registry.load_metric(info.name)), info.name


def test_names_are_read_as_users_write_them():
    assert registry.metric_info("MS-SSIM").name == "ms_ssim"
    with pytest.raises(OptionError, match="choose from psnr, ssim, ms_ssim, niqe, face_quality, vmaf"):
        registry.metric_info("lpips")
    with pytest.raises(OptionError, match="unknown full-reference metric 'niqe': choose from psnr, ssim, ms_ssim"):
        registry.metric_info("niqe", "full-reference")
    with pytest.raises(OptionError, match="unknown metric kind"):
        registry.list_metrics("paired")


def test_compute_dispatches_to_the_metric_functions():
    from acutance.metrics import ms_ssim, psnr, ssim
    from acutance.metrics.niqe import niqe

    ref = smooth_test_image(200, 200, seed=1)
    dist = np.clip(ref + np.random.default_rng(0).normal(0, 0.02, ref.shape), 0, 1).astype(np.float32)
    options = {"crop_border": 4, "y_channel": True}
    assert registry.compute("psnr", ref, dist, **options) == psnr(ref, dist, **options)
    assert registry.compute("ssim", ref, dist, **options) == ssim(ref, dist, **options)
    assert registry.compute("ms-ssim", ref, dist, gray=True) == ms_ssim(ref, dist, gray=True)
    assert registry.compute("niqe", dist) == niqe(dist)
    # inside its stated range, and the direction is right: more noise, lower PSNR
    worse = np.clip(ref + np.random.default_rng(1).normal(0, 0.1, ref.shape), 0, 1).astype(np.float32)
    assert 0 < registry.compute("psnr", ref, worse) < registry.compute("psnr", ref, dist)
    assert -1 <= registry.compute("ssim", ref, worse) <= 1


def test_compute_refuses_wrong_inputs_and_options():
    image = smooth_test_image(64, 64)
    with pytest.raises(OptionError, match="takes REF and DIST images, got 1"):
        registry.compute("psnr", image)
    with pytest.raises(OptionError, match="takes one image, got 2"):
        registry.compute("niqe", image, image)
    with pytest.raises(OptionError, match="no option y_channel"):
        registry.compute("niqe", image, y_channel=True)


def test_a_missing_extra_is_one_line(monkeypatch):
    from acutance.errors import ModelError

    monkeypatch.setitem(sys.modules, "acutance.faces.quality", None)  # as without the 'faces' extra
    with pytest.raises(ModelError, match=r"face quality needs the 'faces' extra: pip install 'acutance\[faces\]'"):
        registry.load_metric("face_quality")


def test_the_registry_imports_no_metric_module():
    """Listing the metrics loads none of them: NIQE's numba, dlib and ffmpeg wait until a metric is used."""
    code = (
        "import sys; from acutance.metrics import registry; registry.list_metrics(); registry.describe();"
        "print(sorted(m for m in sys.modules if m.startswith(('acutance.metrics.niqe', 'acutance.faces',"
        " 'acutance.video', 'numba', 'dlib'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_the_cli_reads_the_registry(capsys):
    from acutance.cli.main import main

    assert main(["metrics", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["metric", "inputs", "better", "range"]
    assert [line.split()[0] for line in out[1:]] == [m.name for m in registry.list_metrics()]
    with pytest.raises(SystemExit):
        main(["metrics", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "comma-separated metrics from psnr, ssim, ms_ssim" in help_text
    assert "(lower is better)" in help_text and "(higher is better; extra 'faces')" in help_text


def test_the_metrics_help_line_is_a_whole_phrase():
    """Issue 15 defect 10: the one-line help ended on "... NIQE and face quality without"."""
    from acutance.cli.main import COMMANDS

    assert COMMANDS["metrics"][1] == "PSNR, SSIM, MS-SSIM against a reference; NIQE and face quality with no reference"
