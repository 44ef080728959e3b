"""lerf: the LeRF-style resampler (numba runtime, torch training twin, file format, CLI --size, quality)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.cli.main import main
from acutance.io import read_image, write_image
from acutance.lut import lerf
from acutance.lut.runtime import N_ENTRIES, Stage


def random_model(seed: int = 0, refine: bool = True) -> lerf.LerfModel:
    """A model with random (not trained) tables: every path of the kernels is exercised."""
    rng = np.random.default_rng(seed)
    tables = np.empty((3, N_ENTRIES, 3), np.float32)
    tables[:, :, :2] = rng.uniform(0.3, 5.0, (3, N_ENTRIES, 2))
    tables[:, :, 2] = rng.uniform(-1.2, 1.2, (3, N_ENTRIES))
    stage = None
    if refine:
        q = rng.integers(-127, 128, (3, N_ENTRIES, 1)).astype(np.int8)
        stage = Stage(
            ("s", "d", "y"),
            q,
            scale=1,
            divisor=20.0,
            bias=0.0,
            residual=True,
            round=True,
        )
    return lerf.LerfModel(
        ("s", "d", "y"), tables.astype(np.float16).astype(np.float32), refine=stage
    )


@pytest.mark.slow  # 9.2 s in the baseline run (--durations): the slow lane
def test_runtime_matches_the_torch_training_forward(torch_one_thread):
    import torch

    from acutance.lut import lerf_train

    model = random_model(1)
    rng = np.random.default_rng(2)
    y = (rng.random((2, 14, 17)) * 255).astype(np.float32)
    size = (31, 40)  # x2.21 by x2.35: non-integer, different per axis
    ours = np.stack([lerf.resample_channel(model, img, size) for img in y])
    refine = [
        torch.from_numpy(
            model.refine.tables[p].astype(np.float32) / model.refine.divisor
        )
        for p in range(3)
    ]
    kern = [torch.from_numpy(model.kernel_tables[p]) for p in range(3)]
    with torch.no_grad():
        x = torch.from_numpy(y[:, None])
        fast = lerf_train.forward(x, refine, kern, model.patterns, size, fast=True)[
            :, 0
        ].numpy()
        slow = lerf_train.forward(x, refine, kern, model.patterns, size, fast=False)[
            :, 0
        ].numpy()
    # the refinement rounds to 8-bit levels: both must give the same levels; then 1e-4 of the 0-255 range
    for img in y:
        twin = lerf_train.refine_torch(
            torch.from_numpy(img[None, None]), refine, model.patterns
        )[0, 0].numpy()
        assert np.array_equal(lerf.refine_channel(model, img), twin)
    assert np.abs(ours - fast).max() < 0.0255
    assert np.abs(ours - slow).max() < 0.0255


def test_fast_backward_matches_autograd(torch_one_thread):
    import torch

    from acutance.lut import lerf_train

    rng = np.random.default_rng(3)
    x = torch.from_numpy(
        (rng.random((2, 1, 9, 11)) * 255).astype(np.float32)
    ).requires_grad_(True)
    params = np.stack(
        [
            rng.uniform(0.5, 4, (2, 9, 11)),
            rng.uniform(0.5, 4, (2, 9, 11)),
            rng.uniform(-0.9, 0.9, (2, 9, 11)),
        ],
        1,
    )
    p = torch.from_numpy(params.astype(np.float32)).requires_grad_(True)
    g = torch.from_numpy(rng.normal(size=(2, 1, 21, 30)).astype(np.float32))
    (lerf_train.resample_fast(x, p, (21, 30)) * g).sum().backward()
    gx, gp = x.grad.clone(), p.grad.clone()
    x.grad = p.grad = None
    (lerf_train.resample_torch(x, p, (21, 30)) * g).sum().backward()
    assert torch.allclose(gx, x.grad, atol=1e-4 * float(x.grad.abs().max()))
    assert torch.allclose(gp, p.grad, atol=1e-4 * float(p.grad.abs().max()))


@pytest.mark.parametrize(
    "scale,expected", [(1.7, (51, 68)), (2, (60, 80)), ((2.5, 1.25), (75, 50))]
)
def test_output_shape_for_any_scale(scale, expected):
    rgb = smooth_test_image(30, 40)
    out = lerf.upscale(random_model(), rgb, scale)
    assert out.shape == (*expected, 3) and out.dtype == np.float32


def test_exact_output_size():
    rgb = smooth_test_image(30, 40)
    assert lerf.upscale(random_model(), rgb, size=(37, 101)).shape == (37, 101, 3)
    with pytest.raises(Exception, match="exactly one"):
        lerf.upscale(random_model(), rgb)


def test_constant_image_stays_constant():
    rgb = np.full((12, 15, 3), 0.4, np.float32)
    out = lerf.upscale(random_model(refine=False), rgb, 2.3)
    assert np.abs(out - 0.4).max() < 1e-5
    # with a refinement stage the level may move (its table at the diagonal), but stays uniform
    out = lerf.upscale(random_model(refine=True), rgb, 2.3)
    assert out.std(axis=(0, 1)).max() < 5e-6  # float32 rounding differs by CPU (1.0e-6 seen); a seam is ~1e-2


@pytest.mark.parametrize("scale", [2, 1.7])
def test_rotation_equivariance(scale):
    """The tables see all 4 rotations and their (sy, sx, rho) are rotated back: rotating the input rotates
    the output exactly (the MATLAB pixel mapping is symmetric too)."""
    model = random_model(4)
    rgb = smooth_test_image(17, 23, seed=2)
    out = lerf.upscale(model, rgb, scale)
    for k in (1, 2, 3):
        turned = lerf.upscale(model, np.ascontiguousarray(np.rot90(rgb, k)), scale)
        assert np.abs(turned - np.rot90(out, k)).max() < 1e-4


def test_kernel_parameters_rotate_with_the_image():
    model = random_model(5, refine=False)
    y = smooth_test_image(16, 16)[:, :, 0] * 255
    p = lerf.predict_params(model, y)
    q = lerf.predict_params(model, np.ascontiguousarray(np.rot90(y)))
    back = np.rot90(q, -1)
    # a 90-degree turn swaps the two widths and negates rho
    assert np.allclose(back[:, :, 0], p[:, :, 1], atol=1e-5)
    assert np.allclose(back[:, :, 1], p[:, :, 0], atol=1e-5)
    assert np.allclose(back[:, :, 2], -p[:, :, 2], atol=1e-5)


def test_model_file_round_trip(tmp_path):
    model = random_model(6)
    path = lerf.save_model(model, tmp_path / "m.npz")
    again = lerf.load_model_file(path)
    rgb = smooth_test_image(10, 12)
    assert np.array_equal(lerf.upscale(model, rgb, 1.5), lerf.upscale(again, rgb, 1.5))
    from acutance.models.registry import load_model

    assert load_model(str(path)).info.scales is None


def shapes_image(size: int, seed: int) -> np.ndarray:
    """uint8 RGB: random flat rectangles and a diagonal edge, slightly blurred (edges to learn from)."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), rng.uniform(0.2, 0.8, 3), np.float32)
    for _ in range(6):
        y0, x0 = rng.integers(0, size - 8, 2)
        y1, x1 = y0 + rng.integers(6, size // 2), x0 + rng.integers(6, size // 2)
        img[y0:y1, x0:x1] = rng.uniform(0, 1, 3)
    yy, xx = np.mgrid[0:size, 0:size]
    img[yy + xx > size * 1.3] = rng.uniform(0, 1, 3)
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    return np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)


def test_a_few_training_steps_reduce_the_loss(torch_one_thread):
    from acutance.lut import lerf_train

    images = [shapes_image(64, s) for s in range(6)]
    config = lerf_train.LerfConfig(
        steps=20, batch=4, lr_size=12, scale_min=1.5, scale_max=3.0, checkpoint_every=10**6
    )
    rng = np.random.default_rng(9)
    batches = [lerf_train.sample_batch(images, config, rng) for _ in range(6)]

    def loss(model):
        return np.mean(
            [
                np.abs(np.stack([lerf.resample_channel(model, x[0], h.shape[2:]) for x in lr]) - h[:, 0]).mean()
                for lr, h in batches
            ]
        )

    start = lerf_train.to_model(*lerf_train.init_tables(config), config)
    trained = lerf_train.train(config, [], images=images, log=lambda line: None)
    assert trained.meta["steps"] == 20
    assert loss(trained) < 0.95 * loss(start)


def test_cli_size_and_fractional_scale(tmp_path, capsys):
    from acutance.models.weights import weight_path

    if not weight_path("lerf").is_file():
        pytest.fail("the shipped lerf weights are missing")
    source = tmp_path / "in.png"
    write_image(source, smooth_test_image(30, 40))
    assert (
        main(
            [
                "upscale",
                str(source),
                "--model",
                "lerf",
                "--size",
                "101x57",
                "-o",
                str(tmp_path / "a.png"),
            ]
        )
        == 0
    )
    assert read_image(tmp_path / "a.png").rgb.shape == (57, 101, 3)
    assert (
        main(
            [
                "upscale",
                str(source),
                "--model",
                "lerf",
                "--scale",
                "1.7",
                "-o",
                str(tmp_path / "b.png"),
            ]
        )
        == 0
    )
    assert read_image(tmp_path / "b.png").rgb.shape == (51, 68, 3)
    assert (
        main(
            [
                "upscale",
                str(source),
                "--model",
                "bicubic",
                "--size",
                "50x20",
                "-o",
                str(tmp_path / "c.png"),
            ]
        )
        == 0
    )
    assert read_image(tmp_path / "c.png").rgb.shape == (20, 50, 3)
    capsys.readouterr()
    assert (
        main(
            [
                "upscale",
                str(source),
                "--model",
                "lut-x2",
                "--size",
                "80x60",
                "-o",
                str(tmp_path / "d.png"),
            ]
        )
        != 0
    )
    assert "--size needs a model that takes any scale" in capsys.readouterr().err
    assert not (tmp_path / "d.png").exists()


def test_beats_bicubic_on_set5(shared_data):
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import evaluate_sr_image
    from acutance.models.registry import load_model
    from acutance.resize import imresize

    model = load_model("lerf")
    images, _ = list_images(shared_data / "sr" / "Set5")
    for scale in (2, 4):
        ours = np.mean(
            [
                evaluate_sr_image(lambda lr, s=scale: model(lr, s), p, scale).psnr
                for p in images
            ]
        )
        base = np.mean(
            [
                evaluate_sr_image(lambda lr, s=scale: imresize(lr, s), p, scale).psnr
                for p in images
            ]
        )
        assert ours > base + 0.2, (scale, ours, base)


def test_tiles_match_the_whole_image_at_integer_scales():
    from acutance.models.descriptor import ModelInfo
    from acutance.pipeline import enhance

    model = random_model(7)
    info = ModelInfo(
        name="t", task="upscale", scales=None, summary="", licence="", loader="", input="luma", context=8
    )
    enhancer = lerf.LerfEnhancer(info=info, model=model)
    rgb = smooth_test_image(70, 90)
    whole = enhance(rgb, enhancer, 2, tile=0)
    assert np.abs(enhance(rgb, enhancer, 2, tile=32) - whole).max() < 1e-5
    assert enhance(rgb, enhancer, (1.5, 2.25)).shape == (105, 203, 3)
