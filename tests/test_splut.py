"""SPLUT: runtime against a plain numpy reference of the authors' inference, tiling, the model file, the
converter of the authors' checkpoints (their published Set5 figures), and bad inputs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from acutance.errors import ModelError
from acutance.lut import splut
from acutance.models.descriptor import ModelInfo
from tests.conftest import smooth_test_image

PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers" / "splut"
PUBLISHED = {"S": ("318000", 30.01), "M": ("222000", 30.23), "L": ("560000", 30.52)}  # Set5 x4 Y-PSNR


def _random_model(variant="M", scale=4, seed=0, dtype=np.int16, rotations=1) -> splut.SplutModel:
    rng = np.random.default_rng(seed)
    channels, groups, inputs = splut.VARIANTS[variant]
    stages = [[(g[2], g[3]) for g in groups]] * 2
    tables, steps = {}, {}
    for branch in splut.BRANCHES:
        shapes = [(1, splut.ENTRIES, channels), (len(groups), splut.ENTRIES, channels), (len(groups), splut.ENTRIES, scale**2)]
        if dtype == np.int16:
            tables[branch] = [rng.integers(-3000, 3000, shape).astype(np.int16) for shape in shapes]
            steps[branch] = [2.0**-9, 2.0**-9, 2.0**-14]
        else:
            tables[branch] = [(rng.standard_normal(shape) * (0.02 if n == 2 else 3)).astype(np.float32) for n, shape in enumerate(shapes)]
            steps[branch] = [1.0, 1.0, 1.0]
    return splut.SplutModel(scale, channels, stages, tables, steps, dict(inputs), rotations=rotations, meta={"name": "t"})


# --- an independent numpy reference, written from the authors' inference script -----------------------------


def _reference(model: splut.SplutModel, plane: np.ndarray) -> np.ndarray:
    L = splut.LEVELS

    def look(table, a, b, c, d):
        return table[((a * L + b) * L + c) * L + d]

    def shifted_pairs(x, c0, kernel):  # x (C, h, w): two sums of a channel and another one pixel back, mirrored
        if kernel == "221":
            return (np.pad(x[c0 : c0 + 2], ((0, 0), (0, 1), (0, 0)), mode="reflect")
                    + np.pad(x[c0 + 2 : c0 + 4], ((0, 0), (1, 0), (0, 0)), mode="reflect"))
        return (np.pad(x[c0 : c0 + 2], ((0, 0), (0, 0), (0, 1)), mode="reflect")
                + np.pad(x[c0 + 2 : c0 + 4], ((0, 0), (0, 0), (1, 0)), mode="reflect"))

    def quantised_lookup(table, y, kernel):
        q = (np.clip(y, -8, 8 - 0.01) + L / 2).astype(np.int64)
        if kernel == "221":
            return look(table, q[0, :-1], q[0, 1:], q[1, :-1], q[1, 1:])
        return look(table, q[0, :, :-1], q[0, :, 1:], q[1, :, :-1], q[1, :, 1:])

    v = np.pad(plane.astype(np.int64), ((0, 1), (0, 1)), mode="reflect")
    total = 0
    for branch, levels in (("msb", v // 16), ("lsb", v % 16)):
        tables = [t.astype(np.float32) * np.float32(s) for t, s in zip(model.tables[branch], model.steps[branch])]
        seen = splut.level_inputs(*model.inputs[branch])[levels[:-1, :-1]]
        x = look(tables[0][0], levels[:-1, :-1], levels[:-1, 1:], levels[1:, :-1], levels[1:, 1:]).transpose(2, 0, 1) + seen
        for n, groups in enumerate(model.stages, start=1):
            acc = 0
            for g, (kernel, c0) in enumerate(groups):
                acc = acc + quantised_lookup(tables[n][g], shifted_pairs(x, c0, kernel), kernel).transpose(2, 0, 1)
            x = acc / np.float32(len(groups)) + (x if n < len(model.stages) else seen)
        total = total + x
    s = model.scale
    h, w = plane.shape
    return np.clip(total.reshape(s, s, h, w).transpose(2, 0, 3, 1).reshape(h * s, w * s), 0, 1)


@pytest.mark.parametrize("variant, scale, dtype", [("S", 4, np.int16), ("M", 2, np.float32), ("L", 4, np.int16)])
def test_runtime_matches_the_reference(variant, scale, dtype):
    model = _random_model(variant, scale, dtype=dtype)
    plane = (smooth_test_image(13, 17, seed=2)[:, :, 1] * 255).round().astype(np.uint8)
    np.testing.assert_allclose(splut.run_channel(model, plane), _reference(model, plane), atol=2e-6)


def test_rgb_rotations_and_tiny_images():
    model = _random_model("S")
    rgb = smooth_test_image(9, 12, seed=4)
    out = splut.upscale(model, rgb)
    assert out.shape == (36, 48, 3) and out.dtype == np.float32
    levels = np.rint(rgb * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[:, :, 2], splut.run_channel(model, levels[:, :, 2]))
    model.rotations = 4
    turned = splut.upscale(model, np.ascontiguousarray(np.rot90(rgb)))
    np.testing.assert_allclose(np.rot90(splut.upscale(model, rgb)), turned, atol=1e-6)  # rotation-equivariant
    for shape in ((1, 1, 3), (1, 5, 3), (2, 2, 3)):
        assert splut.upscale(model, np.full(shape, 0.5, np.float32)).shape == (shape[0] * 4, shape[1] * 4, 3)


def _enhancer(model):
    meta = {"scale": model.scale}
    return splut.Enhancer(ModelInfo(name="splut-test", loader="acutance.lut.splut", **splut.describe(meta)), model)


def test_tiled_equals_untiled():
    from acutance.pipeline import enhance

    enhancer = _enhancer(_random_model("L"))
    rgb = smooth_test_image(70, 53, seed=1)
    whole = enhance(rgb, enhancer, 4, tile=None)
    np.testing.assert_allclose(enhance(rgb, enhancer, 4, tile=24), whole, atol=1e-5)
    with pytest.raises(ModelError, match="x4"):
        enhancer(rgb, 2)


def test_file_round_trip_and_bad_files(tmp_path):
    model = _random_model("S", seed=3)
    path = splut.save_atomically(model, tmp_path / "m.npz")
    again = splut.read(path)
    assert again.meta["format"] == splut.FORMAT and splut.describe(again.meta)["scales"] == (4,)
    rgb = smooth_test_image(8, 8)
    np.testing.assert_array_equal(splut.upscale(again, rgb), splut.upscale(model, rgb))
    with pytest.raises(Exception, match="exists"):
        splut.save_atomically(model, path)
    # truncated
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.npz: cannot read SPLUT model file"):
        splut.read(tmp_path / "cut.npz")
    # a table missing, a table of the wrong shape (rewritten npz)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for name, change, message in (("lsb_s2", None, "without table lsb_s2"),
                                  ("msb_s1", np.zeros((2, 10, 4), np.int16), r"msb_s1 has shape \(2, 10, 4\)")):
        bad = dict(arrays)
        if change is None:
            del bad[name]
        else:
            bad[name] = change
        target = tmp_path / f"bad-{name}.npz"
        np.savez(target, **bad)
        with pytest.raises(ModelError, match=message):
            splut.read(target)
    assert zipfile.is_zipfile(path)


# --- the converter on synthetic checkpoints (torch only to write them) --------------------------------------


def _branch_state(variant="S", scale=4, seed=0, drop=None) -> dict:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(seed)
    channels, groups, _ = splut.VARIANTS[variant]
    state = {}

    def net(name, kernel, outputs, width=8, depth=3):
        sizes = [width] * (depth - 1) + [outputs]
        shape_in = {"122": (1, 2, 2), "221": (2, 2, 1), "212": (2, 1, 2)}[kernel]
        previous = shape_in
        for i, out in enumerate(sizes):
            state[f"{name}.{2 * i}.weight"] = torch.randn(out, *previous, generator=gen) * 0.5
            state[f"{name}.{2 * i}.bias"] = torch.randn(out, generator=gen) * 0.1
            previous = (out, 1, 1)

    net("lut122", "122", channels, depth=3)
    for mid, last, kernel, _ in groups:
        net(mid, kernel, channels, depth=4)
        net(last, kernel, scale * scale, depth=4)
    return {k: v for k, v in state.items() if not (drop and k.startswith(drop + "."))}


def _torch_net(state, name, x):
    import torch.nn.functional as F

    layers = sorted({int(k.split(".")[1]) for k in state if k.startswith(name + ".")})
    for n, i in enumerate(layers):
        x = F.conv2d(F.gelu(x) if n else x, state[f"{name}.{i}.weight"], state[f"{name}.{i}.bias"])
    return x


def test_converter_transfers_the_networks(tmp_path):
    torch = pytest.importorskip("torch")
    a, b = _branch_state("S", seed=1), _branch_state("S", seed=2)
    torch.save({"params": a}, tmp_path / "model_G_A_i1.pth")  # a wrapped dict works as well as a module
    torch.save(b, tmp_path / "model_G_B_i1.pth")
    model = splut.convert(tmp_path / "model_G_A_i1.pth", tmp_path / "model_G_B_i1.pth", dtype="float32")
    assert (model.scale, model.channels, model.meta["variant"]) == (4, 4, "S")
    # the rows of the tables are the networks on the 4 inputs of the row: first table on (level * 16) / 255,
    # the series tables on the quantised levels -8 .. 7, with the paper's index layout ((a L + b) L + c) L + d
    a_, b_, c_, d_ = 3, 15, 0, 7
    row = ((a_ * 16 + b_) * 16 + c_) * 16 + d_
    with torch.no_grad():
        window = torch.tensor([[a_, b_], [c_, d_]], dtype=torch.float32).reshape(1, 1, 2, 2) * 16 / 255
        np.testing.assert_allclose(model.tables["msb"][0][0][row], _torch_net(a, "lut122", window).flatten(), atol=1e-5)
        pair = torch.tensor([a_, b_, c_, d_], dtype=torch.float32) - 8
        np.testing.assert_allclose(model.tables["lsb"][1][1][row], _torch_net(b, "lut212", pair.reshape(1, 2, 1, 2)).flatten(), atol=1e-5)
        np.testing.assert_allclose(model.tables["lsb"][2][0][row], _torch_net(b, "lut221_c12", pair.reshape(1, 2, 2, 1)).flatten(), atol=1e-5)
    quantised = splut.convert(tmp_path / "model_G_A_i1.pth", tmp_path / "model_G_B_i1.pth")
    assert quantised.tables["msb"][2].dtype == np.int16
    np.testing.assert_allclose(quantised.tables["msb"][2] * quantised.steps["msb"][2], model.tables["msb"][2],
                               atol=quantised.steps["msb"][2])


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(_branch_state("S", seed=1), tmp_path / "s_G_A.pth")
    torch.save(_branch_state("S", seed=2), tmp_path / "s_G_B.pth")
    torch.save(_branch_state("M", seed=3), tmp_path / "m_G_B.pth")
    torch.save(_branch_state("S", scale=2, seed=4), tmp_path / "s2_G_B.pth")
    torch.save(_branch_state("S", seed=5, drop="lut212"), tmp_path / "broken_G_B.pth")
    data = (tmp_path / "s_G_B.pth").read_bytes()
    (tmp_path / "cut_G_B.pth").write_bytes(data[: len(data) // 3])
    a = tmp_path / "s_G_A.pth"
    cases = [
        ("m_G_B.pth", {}, r"a SPLUT-M x4 branch, but .*s_G_A.pth is SPLUT-S x4: both branches must come from the same model"),
        ("s2_G_B.pth", {}, r"a SPLUT-S x2 branch, but .* is SPLUT-S x4"),
        ("s_G_B.pth", {"variant": "L"}, r"s_G_A.pth: a SPLUT-S x4 checkpoint, expected SPLUT-L x4"),
        ("s_G_B.pth", {"scale": 2}, r"a SPLUT-S x4 checkpoint, expected SPLUT-S x2"),
        ("broken_G_B.pth", {}, r"a SPLUT-S branch \(4 channels\) without lut212"),
        ("cut_G_B.pth", {}, r"cut_G_B.pth: cannot read the SPLUT checkpoint: not a torch checkpoint, or corrupt"),
        ("missing_G_B.pth", {}, r"SPLUT checkpoint .*missing_G_B.pth not found"),
        ("s_G_A.pth", {}, r"given twice"),
    ]
    for other, expect, message in cases:
        with pytest.raises(ModelError, match=message) as info:
            splut.convert(a, tmp_path / other, **expect)
        assert "\n" not in str(info.value)


def test_cli_convert(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from acutance.cli.main import main

    torch.save(_branch_state("S", seed=1), tmp_path / "x_G_A_1.pth")
    torch.save(_branch_state("S", seed=2), tmp_path / "x_G_B_1.pth")
    out = tmp_path / "splut-s.npz"
    assert main(["convert-splut", str(tmp_path / "x_G_A_1.pth"), str(tmp_path / "x_G_B_1.pth"), "-o", str(out)]) == 0
    assert splut.read(out).meta["name"] == "splut-s"
    assert main(["convert-splut", str(tmp_path / "x_G_B_1.pth"), str(tmp_path / "x_G_A_1.pth"), "-o", str(tmp_path / "y.npz")]) == 1
    assert "give model_G_A first" in capsys.readouterr().err


# --- the published models -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    if not PEERS.is_dir():
        pytest.skip(f"../shared/peers/splut not found at {PEERS}: the SPLUT checkpoints are needed")
    folder = tmp_path_factory.mktemp("splut")
    files = {}
    for variant, (iteration, _) in PUBLISHED.items():
        model = splut.convert(PEERS / f"SPLUT_{variant}_model_G_A_i{iteration}.pth",
                              PEERS / f"SPLUT_{variant}_model_G_B_i{iteration}.pth")
        files[variant] = splut.save_model(model, folder / f"splut-{variant.lower()}.npz")
    return files


@pytest.mark.parametrize("variant", PUBLISHED)
def test_published_models_reach_their_set5_figures(converted, variant, shared_data):
    from acutance.metrics.sr_protocol import evaluate_sr_image

    model = splut.read(converted[variant])
    files = sorted((shared_data / "sr" / "Set5").glob("*.png"))
    assert len(files) == 5
    score = np.mean([evaluate_sr_image(lambda lr: splut.upscale(model, lr), path, 4).psnr for path in files])
    assert abs(score - PUBLISHED[variant][1]) <= 0.03, f"SPLUT-{variant}: Set5 x4 {score:.3f} dB"


def test_strip_rows_balance_the_threads_within_the_byte_budget():
    from acutance.lut.splut import STRIP_BYTES, strip_rows

    for planes, height, width, channels, threads in [(3, 256, 256, 16, 2), (3, 540, 960, 16, 2),
                                                     (3, 2160, 3840, 16, 2), (1, 5, 7, 4, 2), (3, 1, 1, 16, 4)]:
        rows = strip_rows(planes, height, width, channels, threads)
        strips = -(-height // rows)
        assert 1 <= rows <= height
        assert rows * width * channels * 4 <= max(STRIP_BYTES, 8 * width * channels * 4)
        assert (planes * strips) % threads == 0 or strips == height  # even, unless the rows run out
    assert strip_rows(3, 256, 256, 16, 2) == 128  # 6 tasks of 128 rows, not 24 of 32 (less halo)
