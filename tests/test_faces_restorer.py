"""Our face restorer: training steps, ONNX export, the restorer's resize contract, degradations, data split.

Tiny nets and generated images; the shipped model is checked on a few held-out LFW faces when the data is
there (the full measurement is benchmarks/face_restore.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.errors import ModelError
from acutance.faces.restorer import load_restorer
from acutance.faces.train import (
    HELD_OUT,
    align,
    benchmark_degrade,
    degrade_face,
    held_out_identities,
    template,
)
from acutance.metrics import psnr


def test_held_out_identities_are_the_last_60_sorted():
    names = [f"Person_{i:03d}" for i in range(100)]
    held = held_out_identities(list(reversed(names)))
    assert held == names[-HELD_OUT:] and HELD_OUT == 60


def test_align_to_the_template_is_the_identity_for_an_aligned_image():
    image = smooth_test_image(128, 128)
    out = align(image, template(128), 128)
    assert out.shape == (128, 128, 3)
    # the 2x cubic warp + area shrink low-passes the test image's per-pixel noise (measured 27.5 dB)
    assert psnr(image[8:-8, 8:-8], out[8:-8, 8:-8]) > 25


def test_align_puts_the_eyes_on_the_template():
    # a dark image with two bright dots where the landmarks say the eyes are, rotated and scaled
    image = np.zeros((200, 200, 3), np.float32)
    angle, scale, shift = np.deg2rad(12), 1.3, np.array([-20.0, 10.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = template(128) @ rot.T + shift
    for x, y in points[:2]:
        image[int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2] = 1.0
    out = align(image, points, 128).mean(axis=2)
    for (tx, ty) in template(128)[:2]:
        window = out[int(ty) - 4 : int(ty) + 5, int(tx) - 4 : int(tx) + 5]
        y, x = np.unravel_index(np.argmax(window), window.shape)
        assert abs(int(ty) - 4 + y - ty) <= 1.5 and abs(int(tx) - 4 + x - tx) <= 1.5


def test_degradations_are_random_and_benchmark_one_is_fixed():
    clean = smooth_test_image(128, 128)
    rng = np.random.default_rng(0)
    outs = [degrade_face(clean, rng) for _ in range(6)]
    for out in outs:
        assert out.shape == clean.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
    scores = [psnr(clean, o) for o in outs]
    assert len({round(s, 3) for s in scores}) == 6 and max(scores) < 40
    small, up = benchmark_degrade(clean)
    small2, up2 = benchmark_degrade(clean)
    assert small.shape == (32, 32, 3) and up.shape == clean.shape
    np.testing.assert_array_equal(up, up2)
    assert 15 < psnr(clean, up) < 35


torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


def _tiny_onnx(tmp_path, zero_tail: bool = False, steps: int = 2):
    from acutance.faces.train import TrainOptions, export_onnx, train

    crops = np.stack([np.clip(np.rint(smooth_test_image(32, 32, seed=i) * 255), 0, 255) for i in range(4)])
    opts = TrainOptions(size=32, patch=16, base=4, levels=2, batch=2, steps=steps, checkpoint_every=1, linear_images=8)
    model, info = train(crops.astype(np.uint8), opts, tmp_path / "ckpt.pt", log=lambda *_: None)
    if zero_tail:
        with torch.no_grad():
            for layer in (model.tail, model.linear):
                layer.weight.zero_()
                layer.bias.zero_()
    path = tmp_path / "tiny.onnx"
    export_onnx(model, path, {"name": "tiny", "native_size": 32}, size=32)
    return model, info, path


def test_training_steps_resume_and_export(tmp_path):
    model, info, path = _tiny_onnx(tmp_path, steps=2)
    assert info["steps"] == 2 and len(info["history"]) == 2
    assert all(np.isfinite(h[2]) for h in info["history"])
    # rerunning with more steps resumes from the checkpoint
    from acutance.faces.train import TrainOptions, train

    crops = np.zeros((2, 32, 32, 3), np.uint8)
    opts = TrainOptions(size=32, patch=16, base=4, levels=2, batch=2, steps=3, checkpoint_every=1, linear_images=8)
    _, info3 = train(crops, opts, tmp_path / "ckpt.pt", log=lambda *_: None)
    assert info3["steps"] == 3 and len(info3["history"]) == 3
    # the ONNX file runs the same network (export_onnx itself checks < 1e-4 on a random input)
    restorer = load_restorer(path)
    assert restorer.native_size == 32 and restorer.name == "tiny"
    crop = smooth_test_image(32, 32, seed=9)
    with torch.no_grad():
        want = model(torch.from_numpy(crop.transpose(2, 0, 1)[None].copy()))[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(restorer(crop), np.clip(want, 0, 1), atol=1e-4)


def test_untouched_restoration_returns_the_crop(tmp_path):
    # a net whose correction is zero is the identity; at 512 the detail above the native band is added
    # back, so the whole crop comes back (to float rounding)
    _, _, path = _tiny_onnx(tmp_path, zero_tail=True, steps=1)
    restorer = load_restorer(path)
    crop = smooth_test_image(512, 512, seed=3)
    out = restorer(crop)
    assert out.shape == (512, 512, 3) and out.dtype == np.float32
    assert np.abs(out - crop).max() < 1e-5


def test_bad_names_and_files(tmp_path):
    with pytest.raises(ModelError, match="unknown face restorer"):
        load_restorer("no-such-restorer")
    with pytest.raises(ModelError, match="not found"):
        load_restorer(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 20)
    with pytest.raises(ModelError, match="cannot load the ONNX face restorer"):
        load_restorer(bad)
    _, _, path = _tiny_onnx(tmp_path, steps=1)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ModelError, match="cannot load the ONNX face restorer"):
        load_restorer(truncated)
    with pytest.raises(Exception, match="float32"):
        load_restorer(path)(np.zeros((32, 32, 3), np.uint8))


def test_shipped_restorer_runs_on_a_512_crop():
    restorer = load_restorer("face-restore")
    assert restorer.native_size == 128 and restorer.meta["arch"] == "FaceUNet"
    assert restorer.meta["training"]["steps"] > 0
    crop = smooth_test_image(512, 512, seed=5)
    out = restorer(crop)
    assert out.shape == crop.shape and 0 <= out.min() and out.max() <= 1


def test_shipped_restorer_beats_bicubic_on_held_out_lfw(shared_data):
    pytest.importorskip("dlib")
    from acutance.faces.train import _DlibLandmarks, lfw_identities
    from acutance.io import read_image

    lfw = shared_data / "faces" / "lfw"
    finder = _DlibLandmarks()
    restorer = load_restorer("face-restore")
    gains = []
    for name in held_out_identities(lfw_identities(lfw))[::15]:  # 4 identities, first image each
        rgb = read_image(sorted((lfw / name).glob("*.jpg"))[0]).rgb
        clean = align(rgb, finder(rgb), 128)
        _, bicubic = benchmark_degrade(clean)
        gains.append(psnr(clean, restorer(bicubic)) - psnr(clean, bicubic))
    assert np.mean(gains) > 0.3, gains


def test_linear_branch_fit_recovers_a_known_filter():
    # when the "degradation" is a fixed blur, the least-squares residual filter must undo part of it
    from acutance.faces.train import TrainOptions, fit_linear

    crops = np.stack([np.clip(np.rint(smooth_test_image(48, 48, seed=i) * 255), 0, 255) for i in range(6)]).astype(np.uint8)
    opts = TrainOptions(size=48, patch=16, linear_images=12, linear_kernel=5)
    weight, bias = fit_linear(crops, opts, np.random.default_rng(0), samples=300)
    assert weight.shape == (3, 3, 5, 5) and bias.shape == (3,)
    assert np.all(np.isfinite(weight)) and np.abs(weight).max() > 1e-3


# ------------------------------------------------------------------ identity loss (dlib network in torch)
def _dlib_or_skip():
    pytest.importorskip("dlib")
    from importlib.util import find_spec

    if find_spec("face_recognition_models") is None:
        pytest.skip("face_recognition_models (extra 'faces') is not installed: the identity loss needs its dlib file")


@pytest.fixture(scope="module")
def dlib_torch_net():
    _dlib_or_skip()
    from acutance.faces.identity_loss import build_dlib_resnet

    torch.set_num_threads(1)
    return build_dlib_resnet()


def test_torch_copy_of_dlib_network_gives_dlibs_descriptor(dlib_torch_net):
    from acutance.faces import identity

    chip = smooth_test_image(150, 150, seed=11)
    want = identity.embedding_from_chip(chip)
    q = np.round(chip * 255).astype(np.float32)  # dlib sees the 8-bit chip
    with torch.no_grad():
        got = dlib_torch_net(torch.from_numpy(q.transpose(2, 0, 1)[None].copy()))[0].numpy()
    assert np.abs(got - want).max() < 1e-4 * max(1.0, np.abs(want).max())


def test_chip_sampling_matches_dlib_get_face_chip():
    _dlib_or_skip()
    from acutance.faces import identity
    from acutance.faces.identity_loss import chip_transform, extract_chips

    crop = smooth_test_image(256, 256, seed=4)
    # dlib 5-point order: eye corners (one eye, then the other), nose bottom; a slightly rotated face in the
    # middle of the image, so that the chip lies inside it (dlib fills outside with black, we repeat the border)
    points = np.array([[92.0, 50.0], [78.0, 51.0], [36.0, 49.0], [50.0, 50.0], [64.0, 80.0]]) + 64
    face = identity.DlibFace(box=(90, 94, 166, 170), landmarks=points, score=float("nan"))
    want = identity.face_chip(crop, face) * 255
    theta = torch.from_numpy(chip_transform(points, face.box, 256)[None])
    got = extract_chips(torch.from_numpy(crop.transpose(2, 0, 1)[None].copy()), theta)[0].numpy().transpose(1, 2, 0)
    assert got.shape == want.shape == (150, 150, 3)
    assert np.abs(got - want).mean() < 1.0  # dlib rounds to 8 bits; the geometry is the same


def test_identity_loss_is_differentiable_and_a_step_moves_the_restorer(dlib_torch_net):
    from acutance.faces.arch.unet import FaceUNet
    from acutance.faces.identity_loss import identity_loss

    torch.manual_seed(0)
    model = FaceUNet(4, 2, 0)
    x = torch.from_numpy(smooth_test_image(64, 64, seed=2).transpose(2, 0, 1)[None].copy())
    theta = torch.tensor([[[0.7, 0.05, 0.0], [-0.05, 0.7, 0.05]]])
    target = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 128)).astype(np.float32))
    before = model(x).detach()
    loss = identity_loss(dlib_torch_net, model(x), theta, target)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert not any(p.requires_grad for p in dlib_torch_net.parameters())  # the loss network stays frozen
    with torch.no_grad():
        for p in model.parameters():
            p -= 1e-3 * p.grad / (p.grad.norm() + 1e-12)
    after = model(x).detach()
    assert float((after - before).abs().max()) > 1e-5
    assert float(identity_loss(dlib_torch_net, model(x), theta, target).detach()) < float(loss.detach())  # descent


def test_onnx_weights_load_back_into_torch(tmp_path):
    from acutance.faces.arch.unet import FaceUNet
    from acutance.faces.train import load_onnx_into

    model, _, path = _tiny_onnx(tmp_path, steps=1)
    copy = FaceUNet(**model.hyper_parameters())
    load_onnx_into(copy, path)
    x = torch.from_numpy(smooth_test_image(32, 32, seed=1).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        np.testing.assert_allclose(copy(x).numpy(), model(x).numpy(), atol=1e-6)
    with pytest.raises(ModelError, match="do not match"):
        load_onnx_into(FaceUNet(8, 2, 0), path)
