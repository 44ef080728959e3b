"""Shared fixtures. Tests that need the real data sets skip cleanly when ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder next to the repository, or skip the test."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"../shared/data not found at {path}: the real-data tests need it")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test lanes: every test on the shared data sets (one that uses ``shared_data``, directly or through
    another fixture) is ``slow``, with the tests marked so by hand. ``make test`` runs the rest (the fast lane),
    ``make test-slow`` these; CI runs both."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def smooth_test_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A float32 HxWx3 image in [0, 1] with edges, gradients and texture: a fair resize/metric input."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.5 * np.sin(xx / 7.0 + yy / 11.0)
    g = (xx + yy) / float(height + width)
    b = ((xx // 16 + yy // 16) % 2).astype(np.float32) * 0.8 + 0.1
    noise = rng.random((height, width, 3), dtype=np.float32) * 0.1
    return np.clip(np.stack([r, g, b], axis=-1) * 0.9 + noise, 0.0, 1.0).astype(np.float32)


@pytest.fixture
def torch_one_thread():
    """Seeded torch on one thread for the tiny test nets (more threads only contend on a 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
