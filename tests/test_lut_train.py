"""LUT training: tiny nets train, tables sampled from them equal them at the grid points, the least-squares
fitter recovers a known table, LUT-aware fine-tuning and the ``train lut`` command run end to end."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from acutance.lut import kernels
from acutance.lut.runtime import LutModel, Stage, load_model_file, run_channel

from conftest import smooth_test_image

torch = pytest.importorskip("torch")


def _pairs(scale: int, n: int = 3):
    from acutance.color import rgb_to_ycbcr
    from acutance.metrics.sr_protocol import make_lr

    pairs = []
    for seed in range(n):
        hr = smooth_test_image(48, 48, seed=seed)
        lr = make_lr(hr, scale)
        pairs.append((rgb_to_ycbcr(lr)[:, :, 0] * 255.0, rgb_to_ycbcr(hr)[:, :, 0] * 255.0))
    return pairs


def test_tiny_net_trains_and_table_equals_net_at_grid_points():
    from acutance.lut.train import TrainConfig, _train_loop, build_net, net_to_tables

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = TrainConfig(scale=2, method="net", patterns=["s", "y"], hidden=8, steps=6, batch=4, crop=16, lr=1e-2)
    net = build_net(config)
    before = [p.detach().clone() for p in net.parameters()]
    lines = []
    _train_loop(net, net.modules, _pairs(2), config, config.steps, config.lr, lines.append, "net")
    assert lines and "mse" in lines[-1]
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters())), "training changed nothing"

    (tables,) = net_to_tables(net)
    assert tables.shape == (2, kernels.LEVELS**4, 4)
    # each table row is the net at that grid point
    rng = np.random.default_rng(0)
    cells = rng.integers(0, kernels.LEVELS, (50, 4))
    rows = ((cells[:, 0] * 17 + cells[:, 1]) * 17 + cells[:, 2]) * 17 + cells[:, 3]
    with torch.no_grad():
        for p, fn in enumerate(net.fns[0]):
            expected = fn(torch.tensor(cells * 16.0, dtype=torch.float32)).numpy()
            np.testing.assert_array_equal(tables[p][rows], expected)
    # and the runtime on an image of grid values (multiples of 16) gives the net's whole output
    image = (rng.integers(0, 16, (9, 11)) * 16).astype(np.float32)
    stage = Stage(("s", "y"), tables, scale=2, divisor=1.0, bias=0.0, round=False)
    got = run_channel(LutModel([stage], input="luma", padding="edge"), image)
    with torch.no_grad():
        expected = net(torch.from_numpy(image)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_two_stage_net_converts_to_int8_model():
    from acutance.lut.train import TrainConfig, build_net, net_to_tables, tables_to_model

    torch.manual_seed(0)
    config = TrainConfig(scale=2, method="net", patterns=["s"], stages=2, hidden=4)
    net = build_net(config)
    model = tables_to_model(net, net_to_tables(net))
    assert [s.scale for s in model.stages] == [1, 2] and model.stages[0].residual
    assert all(s.tables.dtype == np.int8 for s in model.stages)
    # an untrained cascade is identity then a 4-pixel mean: smooth input stays close
    image = smooth_test_image(10, 12)[:, :, 1] * 255
    out = run_channel(model, image)
    assert out.shape == (20, 24) and np.abs(out[::2, ::2] - image).mean() < 20


@pytest.mark.slow  # 5.5 s in the baseline run (--durations): the slow lane
def test_least_squares_fit_recovers_a_table():
    from acutance.lut.fit import FitOptions, Pair, _apply, fit_tables

    rng = np.random.default_rng(1)
    levels = np.arange(17, dtype=np.float64) * 16
    a, b, c, d = np.meshgrid(levels, levels, levels, levels, indexing="ij")
    # a smooth non-linear 'true' table, 2 outputs (x1 is enough to test the solver)
    true = np.stack([np.sqrt(a * b + 1.0) / 4 + 0.05 * c, 0.2 * d + 0.1 * np.abs(a - c)], -1).reshape(1, -1, 2)
    true = true[:, :, :1]
    pairs = []
    for _ in range(3):
        img = (rng.random((40, 40)) * 255).astype(np.float32)
        msb, lsb = kernels.split_levels(img, "edge")
        pairs.append(Pair(msb, lsb, np.zeros((40, 40))))
    offsets = kernels.rotated_offsets("s")[None]
    for pair, out in zip(pairs, _apply(pairs, true, (offsets, kernels.column_maps(1), 1))):
        pair.target = out
    options = FitOptions(scale=1, patterns=("s",), lam=1e-4, smooth=0.0, iterations=25)
    fitted = fit_tables(pairs, options, log=lambda line: None)
    residual = [p.target - o for p, o in zip(pairs, _apply(pairs, fitted, (offsets, kernels.column_maps(1), 1)))]
    rmse = np.sqrt(np.mean(np.concatenate([r.ravel() for r in residual]) ** 2))
    spread = np.std(np.concatenate([p.target.ravel() for p in pairs]))
    assert rmse < 0.05 * spread, (rmse, spread)


def test_finetune_and_cli_end_to_end(tmp_path):
    from acutance.io import write_image
    from acutance.cli import train_cmd

    data = tmp_path / "hr"
    data.mkdir()
    for seed in range(3):
        write_image(data / f"img{seed}.png", smooth_test_image(48, 56, seed=seed))
    config = tmp_path / "cfg.json"
    config.write_text(
        json.dumps(
            {"method": "fit", "patterns": ["s"], "fit_iterations": 2, "finetune_steps": 3, "batch": 2, "crop": 24}
        )
    )
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    train_cmd.register(sub)
    out = tmp_path / "lut.npz"
    args = parser.parse_args(["train", "lut", "--scale", "2", "--data", str(data), "-o", str(out), "--config", str(config)])
    assert args.func(args) == 0
    model = load_model_file(out)
    assert model.scale == 2 and model.input == "luma" and model.meta["config"]["finetune_steps"] == 3
    with pytest.raises(Exception, match="exists"):
        args.func(args)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nonsense": 1}))
    args = parser.parse_args(["train", "lut", "--data", str(data), "-o", str(tmp_path / "b.npz"), "--config", str(bad)])
    with pytest.raises(Exception, match="unknown training option"):
        args.func(args)


def test_identity_stage_passes_the_input_through_and_init_builds_a_cascade(tmp_path):
    """A fitted single stage becomes a 2-stage cascade: the prepended 1x stage starts as the identity (the
    cascade's output equals the single stage's exactly), and ``init`` + fine-tuning trains it."""
    from acutance.io import write_image
    from acutance.lut.runtime import save_model
    from acutance.lut.train import TrainConfig, add_identity_stages, train

    rng = np.random.default_rng(0)
    table = rng.integers(-100, 100, size=(1, kernels.LEVELS**4, 4)).astype(np.int8)
    single = LutModel([Stage(("s",), table, scale=2, divisor=8.0, bias=20.0)], input="luma")
    cascade = add_identity_stages(single, 2, ["s", "d"])
    assert [s.scale for s in cascade.stages] == [1, 2] and cascade.stages[0].residual
    channel = np.rint(rng.random((13, 17)) * 255).astype(np.float32)  # 8-bit input, as the runtime gets it
    assert np.array_equal(run_channel(cascade, channel), run_channel(single, channel))
    with pytest.raises(Exception, match="more than"):
        add_identity_stages(cascade, 1, ["s"])

    data = tmp_path / "hr"
    data.mkdir()
    for seed in range(3):
        write_image(data / f"img{seed}.png", smooth_test_image(48, 56, seed=seed))
    init = save_model(single, tmp_path / "single.npz")
    config = TrainConfig.load(None, scale=2, init=str(init), stages=2, patterns=["s"], finetune_steps=3, batch=2, crop=24)
    model = train(config, [data], log=lambda line: None)
    assert [s.scale for s in model.stages] == [1, 2] and model.meta["init"]["file"] == "single.npz"
    assert np.abs(model.stages[0].tables).max() > 0  # the 1x stage was trained
    with pytest.raises(Exception, match="finetune_steps"):
        TrainConfig.load(None, init=str(init), stages=2)
    # re-fitting the last stage by least squares on what the trained 1x stage outputs lowers the training error
    refit = train(
        TrainConfig.load(None, scale=2, init=str(out_path := save_model(model, tmp_path / "c.npz")), stages=2,
                         patterns=["s"], refit_iterations=4, lam=0.01),
        [data], log=lambda line: None,
    )  # fmt: skip
    assert refit.meta["refit"]["iterations"] == 4 and refit.meta["init"]["file"] == out_path.name
    assert np.array_equal(refit.stages[0].tables, model.stages[0].tables)
    from acutance.train.data import luma_pairs

    pairs = luma_pairs(sorted(data.iterdir()), 2, 10)
    error = lambda m: np.mean([np.mean((run_channel(m, lr) - hr) ** 2) for lr, hr in pairs])  # noqa: E731
    assert error(refit) < 0.9 * error(model)
    with pytest.raises(Exception, match="stages >= 2"):
        TrainConfig.load(None, refit_iterations=2)
    with pytest.raises(Exception, match="expected x4"):
        train(TrainConfig.load(None, scale=4, init=str(init), finetune_steps=1), [data], log=lambda line: None)


def test_options_files_are_checked(tmp_path):
    """JSON and TOML option files (shared reader: acutance.options): malformed or non-object files are one-line
    errors, TOML works as JSON does, command-line overrides win."""
    from acutance.errors import OptionError
    from acutance.lut.train import TrainConfig

    toml = tmp_path / "c.toml"
    toml.write_text('scale = 2\npatterns = ["s"]\n')
    assert TrainConfig.load(toml).scale == 2 and TrainConfig.load(toml, scale=3).scale == 3
    broken = tmp_path / "c.json"
    broken.write_text('{"scale": 2,')
    with pytest.raises(OptionError, match="cannot read the options file"):
        TrainConfig.load(broken)
    broken.write_text("[1, 2]")
    with pytest.raises(OptionError, match="object"):
        TrainConfig.load(broken)
