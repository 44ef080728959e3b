"""Shared pieces of the benchmark scripts: where the data is, and how results are written."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = Path(os.environ.get("ACUTANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing


def machine() -> dict:
    import cv2
    import numpy

    return {
        "date": _dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "platform": platform.platform(),
    }


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine()} | payload, indent=2) + "\n", encoding="utf-8")
    return path


def read_result(name: str) -> dict:
    """The stored results of ``name`` (empty when there are none), without the machine record, which
    ``write_result`` writes afresh: for a benchmark that reruns one part into its earlier results."""
    path = RESULTS / f"{name}.json"
    result = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    result.pop("machine", None)
    return result


def require_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        sys.exit(f"benchmark needs the data sets at {SHARED_DATA} (set ACUTANCE_SHARED_DATA)")
    return SHARED_DATA
