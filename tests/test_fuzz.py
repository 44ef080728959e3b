"""Fuzzing, the short pass CI runs: mutated real files through every decoder and model-file loader.

The harness is ``benchmarks/fuzz.py`` (its benchmark runs 100,000 inputs per target; this runs a few hundred,
deterministically, at indices the benchmark does not use). Each input runs in a worker process under an
address-space bound, with a per-input time limit; anything but success or our one-line ``AcutanceError`` is
a failure, reported with the input's index and how it was made (``python benchmarks/fuzz.py --replay
TARGET:INDEX`` rebuilds it). The hypothesis test mutates images in this process and shrinks a failure.
The last tests pin the failures the fuzzer found, each failing on the code before its fix.
"""

from __future__ import annotations

import functools
import io
import os
import sys
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


sys.path.insert(0, str(ROOT / "benchmarks"))  # the harness, importable by name in its spawned workers too
import fuzz  # noqa: E402

_onnx_seeds = functools.cache(lambda: dict(fuzz.onnx_seeds()))  # an ONNX export each: build them once

# Inputs per target in CI: a few hundred where an input costs about a millisecond, fewer where a model loads.
SHORT_PASS = {"png": 300, "jpeg": 300, "tiff": 300, "webp": 300, "bmp": 300, "npz": 100, "onnx": 60,
              "safetensors": 100, "pth": 60}
START = 10_000_000  # beyond the benchmark's indices: CI looks at other inputs than the recorded run


@pytest.fixture(scope="module")
def supervisor():
    if sys.platform != "linux":
        pytest.skip("the fuzz harness's memory bound and output capture need Linux")
    sup = fuzz.Supervisor(timeout=20.0, memory_bytes=1536 << 20)
    yield sup
    sup.stop()


@pytest.mark.parametrize("target", fuzz.TARGETS)
def test_short_fuzz_pass(supervisor, target):
    if target in ("onnx", "safetensors", "pth"):
        pytest.importorskip("torch")
        pytest.importorskip("onnxruntime")
    failures, seeds = [], {}

    def on_event(kind, payload):
        if kind == "failure":
            failures.append(payload)
        elif kind == "seeds":
            seeds.update(payload)

    summary = supervisor.run(target, START, SHORT_PASS[target], on_event)
    # The seeds are real files: each must load (or, the deliberately unsafe ones, be refused by us).
    assert seeds and all(status in ("ok", "refused") for status in seeds.values()), seeds
    assert any(status == "ok" for status in seeds.values()), seeds
    report = [f"#{f['index']} {f['status']} {f['error_type']}: {f['message'][:150]} [{f['where']}] <- {f['reproducer']}"
              for f in failures]
    assert not failures, f"{target}: {len(failures)} failure(s):\n" + "\n".join(report)
    tallies = summary["tallies"]
    assert tallies.get("ok", 0) + tallies.get("refused", 0) == SHORT_PASS[target], tallies
    # Both outcomes occur: the mutations reach past the first check, and the seeds still load.
    assert tallies.get("ok", 0) > 0 and tallies.get("refused", 0) > 0, tallies


def test_mutated_images_in_process():
    """Hypothesis drives the same mutations in this process (shrinking a failure to a small edit list)."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from acutance.errors import AcutanceError
    from acutance.io import decode_image

    seeds = {target: fuzz.build_seeds(target) for target in fuzz.IMAGE_TARGETS}

    @hypothesis.settings(max_examples=150, deadline=5000, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(target=st.sampled_from(fuzz.IMAGE_TARGETS), rnd=st.randoms(use_true_random=False))
    def check(target, rnd):
        mutator = fuzz.Mutator(rnd, seeds[target], fuzz.STRUCTURAL[target])
        data = mutator.mutate()
        from acutance import limits

        with warnings.catch_warnings(record=True) as caught, limits.using(limits.Limits(max_input_pixels=fuzz.IMAGE_MAX_PIXELS)):
            warnings.simplefilter("always")
            try:
                decode_image(data, f"fuzz.{target}")
            except AcutanceError as error:
                assert "\n" not in str(error).strip(), (mutator.log, str(error))
        loud = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
        assert not loud, (mutator.log, [str(w.message) for w in loud])

    check()


# --- the failures the fuzzer found, pinned ---------------------------------------------------------------


def _npz(path: Path, entries) -> Path:
    path.write_bytes(fuzz._zip_raw(entries))
    return path


def _member(array: np.ndarray) -> tuple[bytes, int, int]:
    raw = fuzz._npy_bytes(array)
    return fuzz._deflate(raw), len(raw), zlib.crc32(raw)


def _meta(fmt: str = "acutance-lut-1") -> np.ndarray:
    return np.array('{"format": "%s"}' % fmt)


def _load_error(path: Path) -> str:
    from acutance.errors import AcutanceError
    from acutance.models.registry import load_model_file

    with pytest.raises(AcutanceError) as caught:
        load_model_file(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_npz_bomb_refused_before_decompressing(tmp_path):
    """A 1.2 MB file whose member inflates to 1.2 GiB: refused from the zip's sizes, before any allocation
    (before: decompressed in full)."""
    path = _npz(tmp_path / "bomb.npz", [("meta.npy", *_member(_meta())), ("s1_s.npy", *fuzz._bomb_member())])
    began = time.perf_counter()
    message = _load_error(path)
    assert time.perf_counter() - began < 2.0
    assert "memory limit" in message and "--max-memory" in message, message


def test_npz_header_declaring_more_than_its_member(tmp_path):
    """A .npy header declaring 10**10 elements in a 100-byte member: refused (before: numpy allocated the
    declared array first, 40 GB, a MemoryError or a machine brought to its knees)."""
    raw = fuzz._npy_bytes(np.zeros(4, np.float32))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**10,)})
    forged = header.getvalue() + raw[-16:]
    path = _npz(tmp_path / "big.npz", [("meta.npy", *_member(_meta())),
                                      ("s1_s.npy", fuzz._deflate(forged), len(forged), zlib.crc32(forged))])
    assert "declares" in _load_error(path)


@pytest.mark.parametrize("case", ["pickled", "huge-header", "corrupt-deflate", "bad-header-syntax", "bzip2"])
def test_npz_damage_is_one_line_of_ours(tmp_path, case):
    """Before the fix: numpy's multi-line advice to pass allow_pickle / max_header_size (pickled, huge
    header), an uncaught zlib.error, TokenError or NotImplementedError."""
    meta = ("meta.npy", *_member(_meta("acutance-edgesr-1")))
    if case == "pickled":
        entries = [meta, ("w0.npy", *_member(np.array([{"a": 1}], dtype=object)))]
    elif case == "huge-header":
        big = b"\x93NUMPY\x01\x00" + (20000).to_bytes(2, "little") + b"{" + b" " * 19998 + b"\n"
        entries = [meta, ("w0.npy", fuzz._deflate(big), len(big), zlib.crc32(big))]
    elif case == "corrupt-deflate":
        entries = [meta, ("w0.npy", b"\xff" * 64, 1000, 0)]
    elif case == "bad-header-syntax":
        bad = b"\x93NUMPY\x01\x00" + (16).to_bytes(2, "little") + b"{'descr': (    \n"
        entries = [meta, ("w0.npy", fuzz._deflate(bad), len(bad), zlib.crc32(bad))]
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_BZIP2) as archive:
            archive.writestr("meta.npy", fuzz._npy_bytes(_meta("acutance-edgesr-1")))
        (tmp_path / "m.npz").write_bytes(buffer.getvalue())
        message = _load_error(tmp_path / "m.npz")
        assert "compression method" in message
        return
    message = _load_error(_npz(tmp_path / "m.npz", entries))
    assert not any(word in message for word in fuzz.UNSAFE_ADVICE), message


def test_no_resource_warning_on_a_broken_npz(tmp_path):
    """Before: np.load left the file open when the zip did not parse (a ResourceWarning)."""
    path = tmp_path / "cut.npz"
    path.write_bytes(fuzz.build_seeds("npz")[0][1][:100])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _load_error(path)
        import gc

        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_hashed_filter_file_with_absurd_parameters(tmp_path):
    """'layers' not a list (before: TypeError), a hash window of 10**9 (before: loaded, then padded the
    image by 10**9 pixels), a scale of 10**6 with same-size layers (before: loaded)."""
    import json

    from acutance.raisr.model import load_model_file

    members = fuzz._npz_members(fuzz._small_npz(fuzz.WEIGHTS / "raisr-fast-x2.npz", shrink=True))
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
    for edit in ({"layers": None}, {"layers": [dict(meta["layers"][0], window=10**9 + 1)]}, {"scale": 10**6}):
        members["meta.npy"] = fuzz._npy_bytes(np.array(json.dumps(meta | edit)))
        path = tmp_path / "m.npz"
        path.write_bytes(fuzz._rezip(members))
        from acutance.errors import ModelError

        with pytest.raises(ModelError) as caught:
            load_model_file(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_onnx_description_with_bad_numbers(tmp_path):
    """An acutance ONNX description with scale Infinity, a list for tile, pad_multiple 0 (before: an
    OverflowError, a TypeError, a ZeroDivisionError at the first run), or not UTF-8."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    import json

    import onnx
    from onnx import helper

    seed = _onnx_seeds()["onnx-srvgg-x2"]
    for edit in ({"scale": float("inf")}, {"tile": [1]}, {"pad_multiple": 0}, {"scale": "2"}):
        model = onnx.load_from_string(seed)
        props = {p.key: p.value for p in model.metadata_props}
        props["acutance"] = json.dumps(json.loads(props["acutance"]) | edit)
        del model.metadata_props[:]
        helper.set_model_props(model, props)
        path = tmp_path / "m.onnx"
        path.write_bytes(model.SerializeToString())
        message = _load_error(path)
        assert "ONNX metadata" in message, message
    # A metadata entry that is not UTF-8 (before: onnxruntime's UnicodeDecodeError escaped).
    path.write_bytes(seed.replace(b"acutance-onnx-1", b"acutance-onnx-\xff"))
    assert "UTF-8" in _load_error(path)


def test_onnx_graph_failing_at_run_time(tmp_path):
    """A graph that loads but fails when run (a Conv whose group does not divide its channels): our one line
    (before: onnxruntime's Fail escaped from the enhancer)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    import onnx

    from acutance.errors import ModelError
    from acutance.models.registry import load_model_file

    model = onnx.load_from_string(_onnx_seeds()["onnx-srvgg-x2"])
    conv = next(node for node in model.graph.node if node.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "group").i = 2  # 3 input channels: not divisible by 2
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    enhancer = load_model_file(path)  # onnxruntime checks this only when it runs
    with pytest.raises(ModelError) as caught:
        enhancer(fuzz._test_image(8), 2)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", ["npz", "pth"])
def test_cli_never_advises_unsafe_loading(tmp_path, capsys, kind):
    """Defect 8: a pickled npz or a checkpoint that is not weights-only gets our line, never torch's or
    numpy's advice (weights_only=False, allow_pickle=True)."""
    from acutance.cli.main import main
    from acutance.io import write_image

    image = tmp_path / "in.png"
    write_image(image, fuzz._test_image(16))
    if kind == "npz":
        model = tmp_path / "evil.npz"
        model.write_bytes(dict(fuzz.npz_seeds())["npz-pickled-object-array"])
    else:
        torch = pytest.importorskip("torch")
        model = tmp_path / "evil.pth"
        torch.save({"params": {"w": torch.zeros(1)}, "evil": _Evil()}, model)
    code = main(["upscale", str(image), "--model", str(model), "-o", str(tmp_path / "out.png")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code != 0 and len(err) == 1 and err[0].startswith("acutance: error: "), err
    assert not any(word in err[0] for word in fuzz.UNSAFE_ADVICE), err[0]
    assert not (tmp_path / "out.png").exists()


class _Evil:
    """Pickles as a call to os.system: what weights-only loading exists to refuse."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("name, edit", [("lut-x2", {"scale": float("inf")}), ("lut-x2", {"scale": {"x": 1}}),
                                        ("niqe-pristine", {"patch_size": [96]}), ("face-quality", {"features": 7})])
def test_meta_values_of_the_wrong_type(tmp_path, name, edit):
    """Before: OverflowError / TypeError outside the loaders' checks (found by the fuzzer)."""
    import json

    members = fuzz._npz_members(fuzz._small_npz(fuzz.WEIGHTS / f"{name}.npz", shrink=True))
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
    members["meta.npy"] = fuzz._npy_bytes(np.array(json.dumps(meta | edit)))
    path = tmp_path / "m.npz"
    path.write_bytes(fuzz._rezip(members))
    _load_error(path)
