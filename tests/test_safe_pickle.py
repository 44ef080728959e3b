"""The restricted unpickler: tensors out of torch pickles (zip and legacy, whole modules), nothing executed."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from acutance.models.safe_pickle import SafePickleError, Stub, load, read_tensors, state_dict

PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers" / "splut"


class _Marker:
    """Unpickling this the normal way creates the marker file (through __reduce__)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _SetState:
    """Unpickling this the normal way creates the marker file (through __setstate__)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        open(state["marker"], "w").close()


def test_plain_pickle_globals_are_inert_stubs(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps({"a": _Marker(marker), "b": _SetState(marker), "c": [1, 2]}, protocol=2)
    obj, stubbed = load(data)
    assert not marker.exists()
    assert isinstance(obj["a"], Stub) and obj["a"]._global_name in ("posix.system", "nt.system")
    assert obj["b"].state == {"marker": str(marker)}  # recorded, not applied
    assert obj["c"] == [1, 2]
    assert any(name.endswith("_SetState") for name in stubbed)


torch = pytest.importorskip("torch")


class _Module(torch.nn.Module):
    def __init__(self, marker):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 2)
        self.norm = torch.nn.BatchNorm2d(2)
        self.register_buffer("scratch", torch.ones(1), persistent=False)
        self.marker = str(marker)

    def __setstate__(self, state):  # runs on a normal torch.load(weights_only=False)
        open(state["marker"], "w").close()
        super().__setstate__(state)


@pytest.mark.parametrize("zip_format", [True, False])
def test_whole_module_gives_its_state_dict_and_runs_nothing(tmp_path, zip_format):
    marker = tmp_path / "ran"
    module = _Module(marker)
    path = tmp_path / "m.pth"
    torch.save(module, path, _use_new_zipfile_serialization=zip_format)
    state, stubbed = read_tensors(path)
    assert not marker.exists()
    want = module.state_dict()
    assert list(state) == list(want)  # the non-persistent buffer is left out, as state_dict() does
    for key, value in want.items():
        np.testing.assert_array_equal(state[key], value.numpy())
    assert any(name.endswith("_Module") for name in stubbed)


@pytest.mark.parametrize("zip_format", [True, False])
def test_layouts_and_dtypes(tmp_path, zip_format):
    t = torch.arange(24.0).reshape(4, 6)
    tensors = {"view": t[:, 1:4], "transposed": t.t(), "half": t.half(), "bf16": t.bfloat16(), "long": torch.arange(5),
               "empty": torch.zeros(0, 3), "bool": t > 3, "scalar": torch.tensor(2.5)}
    path = tmp_path / "t.pth"
    torch.save({"params_ema": tensors, "iter": 3}, path, _use_new_zipfile_serialization=zip_format)
    obj, _ = read_tensors(path)
    assert obj["iter"] == 3
    for key, value in tensors.items():
        np.testing.assert_array_equal(obj["params_ema"][key], value.float().numpy() if key == "bf16" else value.numpy())


def test_damaged_files_are_one_line_errors(tmp_path):
    path = tmp_path / "t.pth"
    torch.save({"w": torch.arange(100.0)}, path)
    data = path.read_bytes()
    with pytest.raises(SafePickleError):
        load(data[: len(data) // 2])
    torch.save({"w": torch.arange(100.0)}, path, _use_new_zipfile_serialization=False)
    legacy = path.read_bytes()
    for cut in (len(legacy) - 10, len(legacy) // 2, 20):
        with pytest.raises(SafePickleError) as info:
            load(legacy[:cut])
        assert "\n" not in str(info.value)
    # a storage whose bytes do not match its declared size (rewritten zip)
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            target.writestr(name, content[:40] if "/data/" in name else content)
    with pytest.raises(SafePickleError, match="bytes, expected"):
        load(out.getvalue())
    with pytest.raises(SafePickleError):
        load(b"\x80\x02}q\x00.garbage"[:5])
    # a tensor that repeats a one-element storage (stride 0) a million times: refused, not copied out
    torch.save({"w": torch.zeros(1).expand(1000, 1000)}, path)
    with pytest.raises(SafePickleError, match="over a storage of 1"):
        load(path)


def test_state_dict_of_plain_dicts_keeps_names():
    arrays = {"a": np.zeros(2), "b": {"c": np.ones(1)}}
    assert list(state_dict(arrays)) == ["a", "b.c"]


@pytest.mark.skipif(not PEERS.is_dir(), reason="../shared/peers/splut is absent (the SPLUT peer checkpoints)")
def test_splut_peer_files_read_without_running_their_pickles():
    files = sorted(PEERS.glob("SPLUT_*_model_G_*.pth"))
    assert len(files) == 6
    for path in files:
        state, stubbed = read_tensors(path)
        assert "__main__.SRNet" in stubbed  # the authors' class: stubbed, never imported
        assert state["lut122.0.weight"].shape == (64, 1, 2, 2)
        assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in state.values())
        assert any(key.startswith("lut221_c12.") for key in state)
