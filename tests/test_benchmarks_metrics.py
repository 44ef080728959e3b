"""The benchmarks score through the metric registry (acutance.metrics.registry), so a metric is defined once:
no benchmark imports a metric function itself. The NIQE calibration scripts are the exception: they fit and
check the metric's own model."""

from __future__ import annotations

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
METRIC_FUNCTIONS = {"psnr", "ssim", "ms_ssim", "niqe", "face_quality", "vmaf"}
CALIBRATION = {"niqe_calibration.py", "fit_niqe.py"}


def direct_metric_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("acutance.metrics"):
            if node.module == "acutance.metrics.registry":
                continue
            found += [f"{node.module}.{a.name}" for a in node.names if a.name in METRIC_FUNCTIONS]
    return found


def test_benchmarks_read_metrics_from_the_registry():
    offenders = {
        path.name: names
        for path in sorted(BENCHMARKS.glob("*.py"))
        if path.name not in CALIBRATION and (names := direct_metric_imports(path))
    }
    assert offenders == {}


def test_the_check_sees_a_direct_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from acutance.metrics.psnr import psnr\n    from acutance.metrics import ssim\n")
    assert direct_metric_imports(sample) == ["acutance.metrics.psnr.psnr", "acutance.metrics.ssim"]
