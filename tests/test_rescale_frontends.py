"""The IRN tag check in every front end that upscales: ``acutance upscale`` (tests/test_irn.py), ``acutance
batch``'s worker and the web page's jobs: an IRN LR upscaled by another model, or a plain LR by an IRN model,
gets a notice; a matching pair crops a padded original back to its size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import smooth_test_image

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def lr_files(tmp_path_factory) -> tuple[Path, bytes, bytes]:
    """(an x2 pair of a Haar net, its tagged LR of a 37x51 original as PNG bytes, an untagged PNG)."""
    from acutance.cli.downscale_cmd import downscale_image
    from acutance.io import encode_image
    from acutance.io.image import Image, ImageMeta
    from acutance.rescale.export import export_pair
    from acutance.rescale.irn import InvRescaleNet, IrnSpec

    folder = tmp_path_factory.mktemp("pair")
    up, _ = export_pair(InvRescaleNet(IrnSpec(scale=2, blocks=1, features=4)).eval(), folder / "irn-t.onnx", "irn-t", "test")
    meta = ImageMeta(bit_depth=8, grayscale=False, format="PNG", icc_profile=None, exif=None)
    rgb = smooth_test_image(37, 51)
    tagged = encode_image(downscale_image(Image(rgb, None, meta), str(up)), "PNG")
    plain = encode_image(Image(rgb[:18, :26], None, meta), "PNG")
    return up, tagged, plain


def _size(data: bytes) -> tuple[int, int]:
    from acutance.io import decode_image

    return decode_image(data, "out.png").rgb.shape[:2]


def test_batch_worker_checks_the_tag(lr_files):
    from acutance.batch.worker import EncodeOptions, process_bytes

    up, tagged, plain = lr_files
    own = process_bytes(tagged, "lr.png", "PNG", EncodeOptions(model=str(up), scale=2))
    assert own.notices == () and _size(own.data) == (37, 51)  # cropped back to the original
    other = process_bytes(tagged, "lr.png", "PNG", EncodeOptions(model="bicubic", scale=2))
    assert any("was downscaled by irn-t" in n for n in other.notices) and _size(other.data) == (38, 52)
    untagged = process_bytes(plain, "p.png", "PNG", EncodeOptions(model=str(up), scale=2))
    assert any("was not downscaled by irn-t" in n for n in untagged.notices)


def test_web_job_notes_the_tag(lr_files):
    pytest.importorskip("fastapi", reason="the web tests need the 'web' extra")
    from acutance.web import WebSettings
    from acutance.web.jobs import JobManager, JobSpec

    up, tagged, plain = lr_files
    manager = JobManager(WebSettings(jobs=1))
    try:
        def run(data: bytes, model: str):
            manager.reserve(len(data))
            job = manager.submit(JobSpec(data, "lr.png", model, 2.0), len(data))
            job.future.result(timeout=60)
            assert job.status == "done", job.message
            return job

        own = run(tagged, str(up))
        assert own.output_size == (51, 37) and not any("downscaled" in n for n in own.metrics["notes"])
        other = run(tagged, "bicubic")
        assert "was downscaled by irn-t" in other.metrics["notes"][0] and other.output_size == (52, 38)
        assert "was not downscaled by irn-t" in run(plain, str(up)).metrics["notes"][0]
    finally:
        manager.shutdown()
