"""The one training home (``acutance.train``): every trainer, stopped part-way and started again, ends with the
same weights, bit for bit, as one uninterrupted run (tiny generated data, a few steps each); the checkpoint is
safetensors (no pickle); the schedule; a changed config is refused; every method is an ``acutance train``
sub-command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.errors import OptionError
from acutance.io import write_image

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hr")
    for i in range(5):
        write_image(root / f"img{i}.png", smooth_test_image(48 + 8 * (i % 2), 56, seed=i))
    return root


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    yield


def _same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.shape == y.shape and np.array_equal(x, y), key


def _state(module) -> dict:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _interrupted(run, first: int):
    """``run(stop_after, folder)`` once stopped after ``first`` steps and once to the end, in the same folder."""

    def go(folder):
        from acutance.train.loop import Stopped

        try:
            run(first, folder)
        except Stopped:
            pass
        return run(None, folder)

    return go


# ---------------------------------------------------------------------------------------------- the loop


def test_schedule_warmup_then_cosine():
    from acutance.train.loop import LoopOptions, lr_at

    options = LoopOptions(steps=10, lr=1.0, lr_min=0.1, warmup=2)
    rates = [lr_at(s, options) for s in range(10)]
    assert rates[:2] == [0.5, 1.0] and rates[2] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(rates[2:], rates[3:])) and rates[-1] > 0.1
    assert lr_at(10, options) == pytest.approx(0.1)
    with pytest.raises(OptionError):
        LoopOptions(steps=0, lr=1.0)


def test_loop_resumes_bit_exactly_with_ema_validation_and_best(tmp_path):
    from acutance.train.loop import LoopOptions, fit, run_files

    options = LoopOptions(steps=6, lr=0.05, lr_min=0.001, warmup=2, ema=0.9, checkpoint_every=2, val_every=2,
                          log_every=1, keep_best=True)

    def run(stop_after, folder):
        torch.manual_seed(3)
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
        rng = np.random.default_rng(5)
        x_val = torch.from_numpy(np.random.default_rng(9).normal(size=(16, 4)).astype(np.float32))

        def losses(step):
            x = torch.from_numpy(rng.normal(size=(8, 4)).astype(np.float32))
            return {"mse": ((net(x) - x.sum(1, keepdim=True)) ** 2).mean()}

        checkpoint, log_path = run_files(folder) if folder else (None, None)
        return fit(net, torch.optim.Adam(net.parameters(), lr=0.05), losses, options, rng=rng,
                   checkpoint=checkpoint, log_path=log_path, config={"seed": 3}, progress=False,
                   validate=lambda m: {"neg_mse": -float(((m(x_val) - x_val.sum(1, keepdim=True)) ** 2).mean())},
                   stop_after=stop_after, log=None)  # fmt: skip

    straight = run(None, None)
    resumed = _interrupted(run, 3)(tmp_path / "run")
    _same_arrays(_state(straight.model), _state(resumed.model))
    assert resumed.best == straight.best and resumed.step == 6
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6] and log[-1]["finished"]
    assert [r["mse"] for r in log] == [r["mse"] for r in straight.history]
    # a safetensors file: an 8-byte header length, then JSON; no pickle anywhere
    raw = (tmp_path / "run" / "checkpoint.safetensors").read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert "rng.torch" in header and "optimiser.state.0.exp_avg" in header and b"\x80\x04" not in raw[:2]
    # another config in the same folder is refused
    with pytest.raises(OptionError, match="another"):
        fit(torch.nn.Linear(4, 1), torch.optim.Adam(torch.nn.Linear(4, 1).parameters(), lr=0.05), None, options,
            checkpoint=tmp_path / "run" / "checkpoint.safetensors", config={"seed": 4}, progress=False, log=None)


# --------------------------------------------------------------------------------------------- each recipe


def test_deep_sr_resumes_bit_exactly(folder, tmp_path):
    """GAN + EMA + random degradations with a pool of reused crops (the pool is in the checkpoint too)."""
    from acutance.deep.train.config import config_from_dict
    from acutance.deep.train.recipe import read_weights, train

    config = config_from_dict({
        "model": {"name": "tiny", "scale": 2, "num_feat": 4, "num_conv": 1},
        "data": {"train": [str(folder)], "patch": 8, "batch": 2, "degradation": "noise", "reuse": 2},
        "train": {"iterations": 4, "checkpoint_every": 2, "warmup": 1, "threads": 1, "gan_weight": 0.1},
        "gan": {"disc_feat": 4},
    })  # fmt: skip
    straight = read_weights(train(config, tmp_path / "a", progress=False, log=lambda _: None))[1]
    train(config, tmp_path / "b", progress=False, stop_after=1, log=lambda _: None)
    resumed = read_weights(train(config, tmp_path / "b", progress=False, log=lambda _: None))[1]
    _same_arrays({k: v.numpy() for k, v in straight.items()}, {k: v.numpy() for k, v in resumed.items()})


def test_edgesr_resumes_bit_exactly(folder, tmp_path):
    from acutance.edgesr.train import TrainConfig, train

    config = TrainConfig(kind="max", channels=2, kernel=3, steps=6, batch=2, crop=16, val_images=1, val_every=2)
    run = lambda stop, run_dir: train(config, [folder], log=lambda _: None, run=run_dir, stop_after=stop)  # noqa: E731
    straight, resumed = run(None, None), _interrupted(run, 3)(tmp_path / "run")
    _same_arrays(straight.arrays, resumed.arrays)
    assert straight.meta["history"][-1] == resumed.meta["history"][-1]  # the same best step kept


def _stage_tables(model) -> dict:
    return {f"{i}.{k}": v for i, s in enumerate(model.stages) for k, v in
            (("tables", s.tables), ("divisor", s.divisor), ("bias", s.bias))}  # fmt: skip


def test_lut_net_and_finetune_resume_bit_exactly(folder, tmp_path):
    """Two gradient phases (MLP nets, then the tables), each interrupted inside (``stop_after`` counts the steps
    of each phase)."""
    from acutance.lut.train import TrainConfig, train

    config = TrainConfig.load(None, scale=2, method="net", patterns=["s"], stages=2, hidden=4, steps=3, batch=2,
                              crop=16, finetune_steps=5)  # fmt: skip
    run = lambda stop, run_dir: train(config, [folder], log=lambda _: None, run=run_dir, stop_after=stop)  # noqa: E731
    straight = run(None, None)
    first = _interrupted(run, 2)  # stops inside the net phase
    resumed = first(tmp_path / "a")
    _same_arrays(_stage_tables(straight), _stage_tables(resumed))
    from acutance.train.loop import Stopped

    with pytest.raises(Stopped):  # stops inside fine-tuning (the net phase done in this call)
        run(4, tmp_path / "b")
    _same_arrays(_stage_tables(straight), _stage_tables(run(None, tmp_path / "b")))


def test_lut_fit_resumes_by_phase(folder, tmp_path):
    """Least squares, then fine-tuning, stopped between: the fitted stage is read back, not fitted again."""
    from acutance.lut.train import TrainConfig, train

    config = TrainConfig.load(None, scale=2, patterns=["s"], fit_iterations=2, finetune_steps=2, batch=2, crop=16)
    run = lambda stop, run_dir: train(config, [folder], log=lambda _: None, run=run_dir, stop_after=stop)  # noqa: E731
    lines = []
    straight = run(None, None)
    _interrupted(run, 1)(tmp_path / "run")
    resumed = train(config, [folder], log=lines.append, run=tmp_path / "run")
    assert any("fit.npz is done" in line for line in lines)
    _same_arrays(_stage_tables(straight), _stage_tables(resumed))


def test_lerf_resumes_bit_exactly(tmp_path):
    from acutance.lut import lerf_train

    images = [np.rint(smooth_test_image(40, 40, seed=s) * 255).astype(np.uint8) for s in range(3)]
    config = lerf_train.LerfConfig(patterns=["s"], steps=4, batch=2, lr_size=8, scale_min=1.5, scale_max=2.5,
                                   checkpoint_every=2)  # fmt: skip

    def run(stop, run_dir):
        return lerf_train.train(config, [], log=lambda _: None, images=images, run=run_dir, stop_after=stop)

    straight, resumed = run(None, None), _interrupted(run, 3)(tmp_path / "run")
    _same_arrays({"k": straight.kernel_tables, "r": straight.refine.tables},
                 {"k": resumed.kernel_tables, "r": resumed.refine.tables})  # fmt: skip


@pytest.mark.parametrize("task", ["upscale", "denoise"])
def test_raisr_and_blade_resume_by_layer(folder, tmp_path, task):
    from acutance.raisr.train import LayerSpec, TrainOptions, train_files
    from acutance.train.data import find_images

    small = dict(k=3, n_angle=4, n_strength=2, n_coherence=2, min_count=10)
    kind = "shuffle" if task == "upscale" else "same"
    options = TrainOptions(task=task, scale=2 if task == "upscale" else 1, workers=1, noise_sigma=10.0,
                           layers=(LayerSpec(kind=kind, **small), LayerSpec(kind="same", period=1, **small)))
    paths = find_images([folder])

    def run(stop, run_dir):
        return train_files(paths, options, log=lambda _: None, run=run_dir, stop_after=stop)

    straight, resumed = run(None, None), _interrupted(run, 1)(tmp_path / "run")
    assert len(resumed.layers) == 2 and (tmp_path / "run" / "layer0.npz").is_file()
    _same_arrays({str(i): layer.filters for i, layer in enumerate(straight.layers)},
                 {str(i): layer.filters for i, layer in enumerate(resumed.layers)})  # fmt: skip


def _crops(n: int = 3, size: int = 32) -> np.ndarray:
    return np.stack([np.rint(smooth_test_image(size, size, seed=i) * 255) for i in range(n)]).astype(np.uint8)


def test_face_restorer_resumes_bit_exactly(tmp_path):
    from acutance.faces.train import TrainOptions, train

    opts = TrainOptions(size=32, patch=16, base=4, levels=2, batch=2, steps=4, checkpoint_every=2, linear_images=4)
    run = lambda stop, run_dir: train(_crops(), opts, run_dir and run_dir / "ckpt.safetensors",  # noqa: E731
                                      log=lambda *_: None, stop_after=stop)[0]
    straight, resumed = run(None, None), _interrupted(run, 3)(tmp_path)
    _same_arrays(_state(straight), _state(resumed))


def test_face_identity_finetune_resumes_bit_exactly(tmp_path):
    pytest.importorskip("dlib", reason="the 'faces' extra (dlib) is not installed")
    from acutance.faces.arch.unet import FaceUNet
    from acutance.faces.train import IdentityOptions, finetune_identity

    rng = np.random.default_rng(0)
    geometry = {"theta": np.tile(np.array([[0.8, 0.0, 0.0], [0.0, 0.8, 0.0]], np.float32), (3, 1, 1)),
                "target": rng.normal(size=(3, 128)).astype(np.float32)}  # fmt: skip
    opts = IdentityOptions(identity_weight=0.5, batch=1, steps=3, checkpoint_every=1, validate_every=2)

    def run(stop, run_dir):
        torch.manual_seed(1)
        model = FaceUNet(4, 2, 0)
        checkpoint = run_dir / "ckpt.safetensors" if run_dir else None
        validation = (_crops(1), {k: v[:1] for k, v in geometry.items()})
        return finetune_identity(_crops(), geometry, opts, model, validation, checkpoint,
                                 log=lambda *_: None, stop_after=stop)  # fmt: skip

    straight, resumed = run(None, None), _interrupted(run, 2)(tmp_path)
    _same_arrays(_state(straight[0]), _state(resumed[0]))
    assert [c["step"] for c in resumed[1]["validation"]] == [2, 3]


def test_face_quality_regressor_resumes_bit_exactly(tmp_path):
    from acutance.faces.quality_train import TrainOptions, fit_mlp

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=40)
    options = replace(TrainOptions(), hidden=4, epochs=6)
    straight = fit_mlp(x, y, options)
    fit_mlp(x, y, options, tmp_path / "ckpt.safetensors", stop_after=4)
    _same_arrays(straight, fit_mlp(x, y, options, tmp_path / "ckpt.safetensors"))


# -------------------------------------------------------------------------------------------------- cli


def test_every_trainer_is_an_acutance_train_subcommand(capsys):
    from acutance.cli.main import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for method in ("raisr", "blade", "lut", "lerf", "edgesr", "sr", "face", "face-quality"):
        assert f"    {method}" in text, method


def test_lerf_command_trains_and_resumes(tmp_path, capsys):
    from acutance.cli.main import main
    from acutance.lut.lerf import load_model_file

    data = tmp_path / "hr"
    data.mkdir()
    for i in range(2):
        write_image(data / f"i{i}.png", smooth_test_image(48, 48, seed=i))
    options = tmp_path / "lerf.toml"
    options.write_text('patterns = ["s"]\nbatch = 2\nlr_size = 8\nscale_max = 2.5\nrefine = false\n')
    out = tmp_path / "mine.npz"
    argv = ["train", "lerf", "--data", str(data), "-o", str(out), "--config", str(options), "--steps", "3",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert load_model_file(out).meta["steps"] == 3 and (tmp_path / "mine.npz.run" / "log.jsonl").is_file()
    options.write_text('nonsense = 1\n')
    assert main(argv + ["--overwrite"]) == 1 and "unknown training option" in capsys.readouterr().err


def test_no_trainer_is_started_with_python_m():
    """The ``python -m`` entry points are gone: no trainer module runs as a script."""
    import acutance

    root = Path(acutance.__file__).parent
    trainers = ["edgesr/train.py", "lut/train.py", "lut/lerf_train.py", "lut/fit.py", "raisr/train.py",
                "deep/train/recipe.py", "faces/train.py", "faces/quality_train.py"]
    trainers += [str(path.relative_to(root)) for path in (root / "train").glob("*.py")]
    for name in trainers:
        assert "__main__" not in (root / name).read_text(encoding="utf-8"), name
