"""ONNX export and onnxruntime inference of the deep nets; ``acutance upscale --model FILE`` and ``acutance export``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("safetensors")

from conftest import REPO_ROOT, smooth_test_image

from acutance.cli.main import main
from acutance.deep.arch.rrdb import RRDBNet
from acutance.deep.arch.srvgg import SRVGGNetCompact
from acutance.deep.arch.swinir import SwinIR
from acutance.deep.export import export_onnx, onnx_bytes
from acutance.deep.runtime import (
    load_checkpoint_file,
    load_onnx,
    make_session,
    read_initializers,
)
from acutance.errors import ModelError
from acutance.io import read_image, write_image
from acutance.models.registry import load_model
from acutance.pipeline import enhance


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    yield


def _swin(**options):
    return SwinIR(embed_dim=8, depths=(2,), num_heads=(2,), window_size=4, mlp_ratio=2.0, **options)


NETS = {
    "srvgg-x4-prelu": lambda: SRVGGNetCompact(num_feat=8, num_conv=2, upscale=4, act_type="prelu"),
    "srvgg-x2-bicubic": lambda: SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2, act_type="leakyrelu", skip="bicubic"),
    "rrdb-x4": lambda: RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=4),
    "rrdb-x2": lambda: RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2),
    "rrdb-x1": lambda: RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=1),
    "swinir-light-x2": lambda: _swin(upsampler="pixelshuffledirect", upscale=2),
    "swinir-classic-x3": lambda: _swin(upsampler="pixelshuffle", upscale=3, num_feat=8),
}
# (SwinIR's other reconstructions, nearest+conv and none, are checked against torch in the checkpoint tests;
# tracing a transformer for ONNX takes seconds, so only two variants are exported here.)


def _scale(net) -> int:
    hyper = net.hyper_parameters()
    return int(hyper.get("scale") or hyper["upscale"])


def _torch_reference(net, rgb: np.ndarray, multiple: int) -> np.ndarray:
    """The torch net on ``rgb`` reflect-padded to ``multiple`` (as the runtime does), cropped back."""
    h, w = rgb.shape[:2]
    x = np.pad(rgb, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="reflect")
    with torch.no_grad():
        out = net.eval()(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))[0].numpy()
    s = _scale(net)
    return out.transpose(1, 2, 0)[: h * s, : w * s]


@pytest.mark.parametrize("name", list(NETS))
def test_onnx_matches_torch_and_keeps_weight_names(name):
    net = NETS[name]().eval()
    scale = _scale(net)
    data = onnx_bytes(net, scale, {"name": name, "summary": "test net", "trained_on": "nothing"})
    enhancer = load_onnx(data)
    rgb = smooth_test_image(13, 10)  # odd sizes: padding to the window / unshuffle factor is exercised
    out = enhancer(rgb, scale)
    expected = _torch_reference(net, rgb, enhancer.pad_multiple)
    assert out.shape == (13 * scale, 10 * scale, 3) and out.dtype == np.float32
    assert float(np.max(np.abs(out - expected))) < 1e-4
    # Every parameter is an initializer named by its state-dict key, with its value.
    weights = read_initializers(data)
    for key, value in net.state_dict().items():
        assert np.array_equal(weights[key], value.numpy()), key
    # The description travels inside the file.
    meta = json.loads({p.key: p.value for p in onnx.load_from_string(data).metadata_props}["acutance"])
    assert meta["format"] == "acutance-onnx-1" and meta["arch"] == type(net).__name__
    assert meta["scale"] == scale and meta["name"] == name and meta["trained_on"] == "nothing"
    assert meta["hyper_parameters"] == json.loads(json.dumps(net.hyper_parameters()))
    assert enhancer.info.name == name and enhancer.info.scales == (scale,) and enhancer.info.task == "upscale"
    with pytest.raises(ModelError, match=f"not x{scale + 1}"):
        enhancer(rgb, scale + 1)


def test_dynamic_batch_and_size():
    net = NETS["rrdb-x2"]().eval()
    enhancer = load_onnx(onnx_bytes(net, 2))
    x = np.random.default_rng(0).random((3, 3, 6, 10), dtype=np.float32)
    out = enhancer.session.run(["output"], {"input": x})[0]
    with torch.no_grad():
        assert float(np.max(np.abs(out - net(torch.from_numpy(x)).numpy()))) < 1e-4


def test_blend_interpolates_weights_by_name(tmp_path):
    fidelity = NETS["srvgg-x4-prelu"]().eval()
    torch.manual_seed(1)
    gan = NETS["srvgg-x4-prelu"]().eval()
    path = export_onnx(gan, tmp_path / "gan.onnx", 4, {"name": "gan"})
    other = {key: value.numpy() for key, value in fidelity.state_dict().items()}
    rgb = smooth_test_image(12, 9)
    for alpha in (0.0, 0.3, 1.0):
        mixed = NETS["srvgg-x4-prelu"]().eval()
        mixed.load_state_dict({k: (1 - alpha) * fidelity.state_dict()[k] + alpha * v for k, v in gan.state_dict().items()})
        got = load_onnx(path, name="blend", blend=(other, alpha))(rgb, 4)
        assert float(np.max(np.abs(got - _torch_reference(mixed, rgb, 1)))) < 1e-4
    # The fallback for tensors not stored as raw bytes: overriding initializers in the session options.
    session, _keep = make_session(path, other)
    x = rgb.transpose(2, 0, 1)[None].copy()
    with torch.no_grad():
        assert float(np.max(np.abs(session.run(["output"], {"input": x})[0] - fidelity(torch.from_numpy(x)).numpy()))) < 1e-4
    plain = load_onnx(path)(rgb, 4)
    assert float(np.max(np.abs(plain - load_onnx(path, blend=(other, 0.0))(rgb, 4)))) > 1e-3  # blending did something
    with pytest.raises(ModelError, match="no weight of that name"):
        load_onnx(path, blend=({"body.99.weight": np.zeros(3, np.float32)}, 0.5))
    with pytest.raises(ModelError, match="shape"):
        load_onnx(path, blend=({"body.0.bias": np.zeros(3, np.float32)}, 0.5))
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        load_onnx(path, blend=(other, 1.5))


def test_tiled_equals_whole_within_the_advised_context():
    net = NETS["srvgg-x2-bicubic"]()
    enhancer = load_onnx(onnx_bytes(net, 2))
    rgb = smooth_test_image(40, 52)
    whole = enhance(rgb, enhancer, 2, tile=0)
    tiled = enhance(rgb, enhancer, 2, tile=16, overlap=4)
    # The advised context covers the receptive field exactly; only bicubic's border handling differs.
    assert float(np.max(np.abs(whole - tiled))) < 1e-4


def test_onnx_file_needs_no_torch(tmp_path):
    path = export_onnx(NETS["rrdb-x2"](), tmp_path / "net.onnx", 2)
    code = (
        "import sys, numpy as np\n"
        "from acutance.models.registry import load_model\n"
        f"model = load_model({str(path)!r})\n"
        "out = model(np.zeros((6, 7, 3), np.float32), 2)\n"
        "assert out.shape == (12, 14, 3), out.shape\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(model.info.name, model.info.scales)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "net (2,)"


def test_foreign_onnx_without_metadata(tmp_path):
    model = onnx.load_from_string(onnx_bytes(NETS["srvgg-x4-prelu"](), 4))
    del model.metadata_props[:]
    onnx.save(model, tmp_path / "foreign.onnx")
    enhancer = load_model(str(tmp_path / "foreign.onnx"))
    assert enhancer.info.scales == (4,) and enhancer.info.name == "foreign" and enhancer.meta == {}
    assert enhancer(smooth_test_image(5, 6), 4).shape == (20, 24, 3)


def test_truncated_onnx(tmp_path):
    data = onnx_bytes(NETS["srvgg-x4-prelu"](), 4)
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.onnx: cannot load as an ONNX model"):
        load_model(str(tmp_path / "cut.onnx"))


def test_checkpoint_without_torch_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "net.pth"
    torch.save(NETS["srvgg-x4-prelu"]().state_dict(), path)
    monkeypatch.setitem(sys.modules, "torch", None)  # 'import torch' now fails as if torch were absent
    with pytest.raises(ModelError, match="needs the 'train' extra"):
        load_checkpoint_file(path)


# --------------------------------------------------------------------------------------------- CLI


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _fails_cleanly(capsys, root: Path, argv: list[str], *fragments: str) -> str:
    before = _snapshot(root)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("acutance: error: "), err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    assert _snapshot(root) == before
    return err[0]


@pytest.fixture
def x2_checkpoint(tmp_path):
    net = NETS["rrdb-x2"]().eval()
    torch.save({"params_ema": net.state_dict(), "iter": 10}, tmp_path / "esrgan_x2.pth")
    write_image(tmp_path / "in.png", smooth_test_image(14, 18))
    return net, tmp_path


def test_cli_upscale_with_checkpoint_and_export(x2_checkpoint, capsys):
    net, root = x2_checkpoint
    assert main(["upscale", str(root / "in.png"), "--model", str(root / "esrgan_x2.pth")]) == 0
    result = read_image(root / "in_esrgan_x2_x2.png").rgb
    source = read_image(root / "in.png").rgb
    expected = np.clip(_torch_reference(net, source, 2), 0, 1)
    assert result.shape == (28, 36, 3)
    assert float(np.max(np.abs(result - expected))) <= 0.5 / 255 + 1e-6

    assert main(["export", str(root / "esrgan_x2.pth"), "-o", str(root / "esrgan_x2.onnx")]) == 0
    assert "RRDBNet x2 (1 blocks, 8 features, growth 4)" in capsys.readouterr().out
    _fails_cleanly(capsys, root, ["export", str(root / "esrgan_x2.pth"), "-o", str(root / "esrgan_x2.onnx")], "exists")
    assert main(["export", str(root / "esrgan_x2.pth"), "-o", str(root / "esrgan_x2.onnx"), "--overwrite"]) == 0
    assert main(["upscale", str(root / "in.png"), "--model", str(root / "esrgan_x2.onnx"), "-o", str(root / "b.png")]) == 0
    assert np.array_equal(read_image(root / "b.png").rgb, result)


def test_cli_scale_mismatch_writes_nothing(x2_checkpoint, capsys):
    _, root = x2_checkpoint
    _fails_cleanly(capsys, root, ["upscale", str(root / "in.png"), "--model", str(root / "esrgan_x2.pth"), "-s", "4"],
                   "supports x2, not x4")


def test_cli_truncated_and_incomplete_checkpoints_write_nothing(x2_checkpoint, capsys):
    net, root = x2_checkpoint
    data = (root / "esrgan_x2.pth").read_bytes()
    (root / "cut.pth").write_bytes(data[: len(data) // 3])
    _fails_cleanly(capsys, root, ["upscale", str(root / "in.png"), "--model", str(root / "cut.pth")], "cut.pth", "truncated")
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in net.state_dict().items() if k != "body.0.rdb3.conv2.bias"}
    save_file(state, str(root / "holes.safetensors"))
    _fails_cleanly(capsys, root, ["upscale", str(root / "in.png"), "--model", str(root / "holes.safetensors")],
                   "keys look like RRDBNet x2", "body.0.rdb3.conv2.bias is missing")
    _fails_cleanly(capsys, root, ["export", str(root / "holes.safetensors")], "body.0.rdb3.conv2.bias is missing")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cli_refuses_malicious_pickle(x2_checkpoint, capsys):
    _, root = x2_checkpoint
    marker = root.parent / f"{root.name}-pwned"
    torch.save({"params_ema": {}, "x": _Evil(marker)}, root / "evil.pth")
    # the pickled object is never built (the restricted unpickler keeps it as an inert stub): no tensors
    _fails_cleanly(capsys, root, ["upscale", str(root / "in.png"), "--model", str(root / "evil.pth")], "no tensors")
    _fails_cleanly(capsys, root, ["export", str(root / "evil.pth")], "no tensors")
    assert not marker.exists()
