"""Community checkpoints: safe reading, unwrapping, architecture detection, strict loading, clear errors."""

from __future__ import annotations

import os
import pickle

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from safetensors.torch import save_file

from acutance.deep.arch.rrdb import RRDBNet
from acutance.deep.arch.srvgg import SRVGGNetCompact
from acutance.deep.arch.swinir import SwinIR
from acutance.deep.checkpoint import (
    detect,
    load_checkpoint,
    normalise_keys,
    read_checkpoint,
    save_safetensors,
)
from acutance.errors import ModelError


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    yield


def _swin(**options):
    return SwinIR(embed_dim=8, depths=(2, 1), num_heads=(2, 4), window_size=4, mlp_ratio=1.5, **options)


# (module, the hyper-parameters detection must find)
NETS = {
    "rrdb-x4-1": lambda: RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4),
    "rrdb-x4-3": lambda: RRDBNet(num_feat=8, num_block=3, num_grow_ch=6, scale=4),
    "rrdb-x2-2": lambda: RRDBNet(num_feat=12, num_block=2, num_grow_ch=4, scale=2),
    "rrdb-x1-2": lambda: RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=1),
    "srvgg-x4-prelu": lambda: SRVGGNetCompact(num_feat=8, num_conv=3, upscale=4, act_type="prelu"),
    "srvgg-x2-leaky": lambda: SRVGGNetCompact(num_feat=6, num_conv=2, upscale=2, act_type="leakyrelu"),
    "swinir-light-x3": lambda: _swin(upsampler="pixelshuffledirect", upscale=3),
    "swinir-classic-x4": lambda: _swin(upsampler="pixelshuffle", upscale=4, num_feat=8),
    "swinir-real-x2-3conv": lambda: _swin(upsampler="nearest+conv", upscale=2, num_feat=8, resi_connection="3conv"),
    "swinir-denoise": lambda: _swin(upsampler="", upscale=1, qkv_bias=False),
}


def _community(net) -> dict:
    """The state dict as community files have it (SwinIR files also carry the derived buffers)."""
    state = {key: value.clone() for key, value in net.state_dict().items()}
    if isinstance(net, SwinIR):
        for name, module in net.named_modules():
            if hasattr(module, "relative_position_index"):
                state[f"{name}.relative_position_index"] = module.relative_position_index.clone()
            if name.endswith("blocks.1"):
                state[f"{name}.attn_mask"] = torch.zeros(16, 16, 16)  # as saved for a 16x16 training size
    return state


WRAPS = {
    "plain": lambda s: s,
    "params_ema": lambda s: {"params_ema": s, "params": {k: torch.zeros_like(v) for k, v in s.items()}, "iter": 7},
    "params": lambda s: {"params": s},
    "module": lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}, "epoch": 3},
    "model": lambda s: {"model": {f"_orig_mod.{k}": v for k, v in s.items()}},
    "prefixed": lambda s: {f"module.{k}": v for k, v in s.items()},  # flat, for safetensors
}


def _save(state, path, wrap):
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in WRAPS[wrap](state).items()}, str(path))
    else:
        torch.save(WRAPS[wrap](state), str(path))


def _check_same(net, loaded, size=(1, 3, 12, 16)):
    x = torch.rand(*size)
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))


# Every net once as a wrapped torch file and once as safetensors; the wrappers rotate over the nets.
_PTH_WRAPS = [("params_ema", ".pth"), ("module", ".pt"), ("params", ".pth"), ("model", ".pth")]
_ST_WRAPS = [("plain", ".safetensors"), ("prefixed", ".safetensors")]
CASES = [(name, *_PTH_WRAPS[i % 4]) for i, name in enumerate(NETS)] + [(name, *_ST_WRAPS[i % 2]) for i, name in enumerate(NETS)]


@pytest.mark.parametrize("name, wrap, suffix", CASES)
def test_round_trip_detects_hyper_parameters(tmp_path, name, wrap, suffix):
    net = NETS[name]()
    path = tmp_path / f"{name}{suffix}"
    _save(_community(net), path, wrap)
    loaded = load_checkpoint(path)
    expected = net.hyper_parameters()
    got = dict(loaded.description.hyper_parameters)
    assert loaded.description.arch == type(net).__name__
    assert loaded.description.scale == (expected.get("scale") or expected.get("upscale"))
    for key in ("depths", "num_heads"):
        if key in expected:
            expected[key] = list(expected[key])
    assert got == expected
    _check_same(net, loaded.module)


def test_params_ema_preferred_over_params(tmp_path):
    net = NETS["srvgg-x4-prelu"]()
    _save(net.state_dict(), tmp_path / "w.pth", "params_ema")  # 'params' holds zeros
    _check_same(net, load_checkpoint(tmp_path / "w.pth").module)


def test_old_esrgan_key_names(tmp_path):
    net = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=4)
    old = {}
    for key, value in net.state_dict().items():
        parts = key.split(".")
        if parts[0] == "body":
            key = f"model.1.sub.{parts[1]}.RDB{parts[2][3]}.{parts[3]}.0.{parts[4]}"
        elif parts[0] == "conv_body":
            key = f"model.1.sub.2.{parts[1]}"
        else:
            index = {"conv_first": 0, "conv_up1": 3, "conv_up2": 6, "conv_hr": 8, "conv_last": 10}[parts[0]]
            key = f"model.{index}.{parts[1]}"
        old[key] = value
    torch.save(old, tmp_path / "RRDB_ESRGAN_x4.pth")
    loaded = load_checkpoint(tmp_path / "RRDB_ESRGAN_x4.pth")
    assert loaded.description.hyper_parameters["num_block"] == 2
    _check_same(net, loaded.module)


def test_half_precision_weights_read_as_float32(tmp_path):
    net = NETS["srvgg-x2-leaky"]()
    torch.save({k: v.half() for k, v in net.state_dict().items()}, tmp_path / "half.pth")
    loaded = load_checkpoint(tmp_path / "half.pth")
    assert all(v.dtype == torch.float32 for v in loaded.module.state_dict().values())


def test_our_description_wins_over_detection(tmp_path):
    # SRVGG's bicubic skip does not show in the keys: the safetensors metadata carries it.
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2, act_type="prelu", skip="bicubic")
    save_safetensors(net, tmp_path / "ours.safetensors")
    loaded = load_checkpoint(tmp_path / "ours.safetensors")
    assert loaded.description.hyper_parameters["skip"] == "bicubic"
    _check_same(net, loaded.module)
    # Without the description, the same weights are detected as a community (nearest-skip) net.
    plain = {k: v for k, v in net.state_dict().items()}
    assert detect(plain).hyper_parameters["skip"] == "nearest"
    with pytest.raises(Exception, match="exists"):
        save_safetensors(net, tmp_path / "ours.safetensors")


class _Evil:
    """Unpickling this would run a shell command that creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_pickle(obj, path, zip_format):
    if zip_format:
        torch.save(obj, path)
    else:
        with open(path, "wb") as handle:  # a bare pickle, as in old checkpoints
            pickle.dump(obj, handle, protocol=2)


@pytest.mark.parametrize("zip_format", [True, False])
def test_malicious_pickle_never_runs(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    _write_pickle({"params_ema": {"conv_first.weight": torch.zeros(1)}, "payload": _Evil(marker)}, path, zip_format)
    with pytest.raises(ModelError):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("zip_format", [True, False])
def test_weights_beside_a_malicious_object_load_without_running_it(tmp_path, zip_format):
    # weights_only refuses the file; the restricted unpickler keeps the tensors and stubs the payload
    marker = tmp_path / "pwned"
    net = NETS["srvgg-x2-leaky"]()
    path = tmp_path / "evil.pth"
    _write_pickle({"params": net.state_dict(), "payload": _Evil(marker)}, path, zip_format)
    _check_same(net, load_checkpoint(path).module)
    assert not marker.exists()


class _Net(torch.nn.Module):
    """A user's class: pickling the whole module stores a reference to it, as old checkpoints did."""

    def __init__(self, marker=None):
        super().__init__()
        self.body = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4)
        self.marker = str(marker)

    def __setstate__(self, state):  # would run on a normal unpickle
        open(state["marker"], "w").close()
        super().__setstate__(state)


@pytest.mark.parametrize("legacy", [False, True])
def test_whole_module_pickle_read_safely(tmp_path, legacy):
    marker = tmp_path / "ran"
    net = _Net(marker)
    path = tmp_path / "whole.pth"
    torch.save(net.body, path, _use_new_zipfile_serialization=not legacy)  # a whole nn.Module
    loaded = load_checkpoint(path)
    assert loaded.description.arch == "RRDBNet"
    _check_same(net.body, loaded.module)
    torch.save(net, path, _use_new_zipfile_serialization=not legacy)
    state, _ = read_checkpoint(path)  # keys as net.state_dict() has them; __setstate__ never ran
    assert set(state) == set(net.state_dict())
    assert not marker.exists()


def test_errors_never_advise_unsafe_loading(tmp_path):
    # issue 15 defect 8: our own line, never torch's "weights_only=False" advice
    path = tmp_path / "damaged.pth"
    torch.save({"x": torch.zeros(3)}, path)
    data = path.read_bytes()
    for name, content in (("damaged.pth", data[: len(data) // 2]), ("junk.pt", b"\x80\x02junk" * 9),
                          ("text.pth", b"not a checkpoint")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelError) as info:
            read_checkpoint(tmp_path / name)
        message = str(info.value)
        assert "not a weights-only checkpoint, or corrupt" in message
        assert "weights_only" not in message and "unsafe" not in message.lower() and "\n" not in message


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file(tmp_path, suffix):
    path = tmp_path / f"net{suffix}"
    _save(NETS["rrdb-x4-1"]().state_dict(), path, "plain")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cannot read the checkpoint: not a .* or corrupt"):
        read_checkpoint(path)


def test_missing_key_names_the_architecture(tmp_path):
    state = NETS["rrdb-x4-3"]().state_dict()
    del state["body.1.rdb2.conv5.weight"]
    torch.save({"params_ema": state}, tmp_path / "net.pth")
    with pytest.raises(ModelError, match=r"keys look like RRDBNet x4 .* but body\.1\.rdb2\.conv5\.weight is missing"):
        load_checkpoint(tmp_path / "net.pth")


def test_missing_key_needed_for_detection():
    state = NETS["swinir-light-x3"]().state_dict()
    del state["conv_first.weight"]
    with pytest.raises(ModelError, match="keys look like SwinIR but conv_first.weight is missing"):
        detect(normalise_keys(state))


def test_unexpected_and_misshapen_keys(tmp_path):
    state = NETS["rrdb-x4-1"]().state_dict()
    torch.save({**state, "conv_up3.weight": torch.zeros(8, 8, 3, 3)}, tmp_path / "a.pth")  # an x8 variant
    with pytest.raises(ModelError, match="unexpected keys conv_up3.weight"):
        load_checkpoint(tmp_path / "a.pth")
    state = NETS["rrdb-x4-1"]().state_dict()
    state["conv_hr.weight"] = torch.zeros(8, 8, 1, 1)
    torch.save(state, tmp_path / "b.pth")
    with pytest.raises(ModelError, match=r"conv_hr.weight has shape \(8, 8, 1, 1\), expected \(8, 8, 3, 3\)"):
        load_checkpoint(tmp_path / "b.pth")


def test_unknown_layout_lists_keys_and_known_archs(tmp_path):
    torch.save({"encoder.conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "x.pth")
    with pytest.raises(ModelError, match=r"unknown super-resolution layout; first keys: encoder.conv.weight; known: SwinIR, RRDBNet, SRVGGNetCompact"):
        load_checkpoint(tmp_path / "x.pth")


def test_no_tensors_and_wrong_type(tmp_path):
    torch.save({"iter": 3, "lr": 0.1}, tmp_path / "empty.pth")
    with pytest.raises(ModelError, match="no tensors found"):
        load_checkpoint(tmp_path / "empty.pth")
    (tmp_path / "net.ckpt").write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown checkpoint type"):
        load_checkpoint(tmp_path / "net.ckpt")
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "missing.pth")
