"""``acutance batch --dask``: the same batch on a Dask cluster (a LocalCluster of 2 worker processes)
gives byte-identical outputs to the serial run, and each worker loads the model once."""

from __future__ import annotations

from pathlib import Path

import pytest

from acutance.batch import BatchOptions, run_batch
from acutance.io import write_image
from conftest import smooth_test_image

distributed = pytest.importorskip("distributed", reason="the Dask test needs the 'distributed' extra")


def test_dask_local_cluster_identical_to_serial(tmp_path: Path) -> None:
    source = tmp_path / "in"
    for i in range(8):
        folder = source / ("nested" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        write_image(folder / f"img_{i}.png", smooth_test_image(48 + 8 * i, 64, seed=i))
    quiet = lambda line: None  # noqa: E731
    serial = run_batch(source, tmp_path / "serial", BatchOptions(model="cas-x2", recursive=True, progress=False),
                       warn=quiet)  # fmt: skip
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        options = BatchOptions(model="cas-x2", recursive=True, dask=cluster.scheduler_address, progress=False)
        remote = run_batch(source, tmp_path / "dask", options, warn=quiet)
    assert serial.exit_code == remote.exit_code == 0
    assert [r.status for r in remote.records] == ["done"] * 8
    for record in serial.records:
        relative = Path(record.output).relative_to(tmp_path / "serial")
        assert (tmp_path / "dask" / relative).read_bytes() == Path(record.output).read_bytes(), relative
    workers = {r.worker for r in remote.records}
    assert 1 <= len(workers) <= 2
    assert {r.model_loads for r in remote.records} == {1}  # loaded once per worker, then cached
    assert not any(r.worker == serial.records[0].worker for r in remote.records)  # it really ran remotely


def test_dask_unreachable_scheduler_is_one_clear_error(tmp_path: Path) -> None:
    from acutance.errors import AcutanceError

    write_image(tmp_path / "a.png", smooth_test_image(16, 16))
    options = BatchOptions(model="bicubic", dask="tcp://127.0.0.1:9", dask_timeout=1.0, progress=False)
    with pytest.raises(AcutanceError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1:9"):
        run_batch(tmp_path, tmp_path / "out", options)
    assert not (tmp_path / "out").exists()
