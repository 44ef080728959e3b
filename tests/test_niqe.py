"""NIQE: the feature maths against the MATLAB release's formulas, the score's direction on generated natural-like
textures, limits and errors, the shipped model, fitting, the no-reference CLI, and (slow) the rank agreement
with the official scores in ../shared/data/iqa."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

import cv2
import numpy as np
import pytest

from acutance.errors import AcutanceError, ModelError, OptionError
from acutance.io import write_image
from acutance.metrics import niqe as N
from acutance.metrics.niqe_fit import fit_pristine


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A float32 RGB texture with the 1/f amplitude spectrum of natural images, no noise, mostly unclipped."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    planes = []
    for _ in range(3):
        spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f
        spectrum[0, 0] = 0.0
        planes.append(np.fft.irfft2(spectrum, s=(height, width)))
    image = np.stack(planes, axis=-1)
    image = (image - image.mean()) / (4.0 * image.std()) + 0.5
    return np.clip(image, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------- features


def _matlab_aggd(vector: np.ndarray) -> tuple[float, float, float]:
    """The MATLAB release's estimateaggdparam, written out literally (argmin over the whole table)."""
    gam = np.arange(0.2, 10.001, 0.001)
    r_gam = np.array([math.gamma(2 / g) ** 2 / (math.gamma(1 / g) * math.gamma(3 / g)) for g in gam])
    left = math.sqrt(np.mean(vector[vector < 0] ** 2))
    right = math.sqrt(np.mean(vector[vector > 0] ** 2))
    ratio = left / right
    r_hat = np.mean(np.abs(vector)) ** 2 / np.mean(vector**2)
    r_norm = r_hat * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1) ** 2
    alpha = gam[np.argmin((r_gam - r_norm) ** 2)]
    factor = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    return alpha, left * factor, right * factor


def test_aggd_fit_matches_the_matlab_formulas(rng):
    samples = rng.standard_normal((12, 900)) * rng.uniform(0.2, 3.0, (12, 1))
    samples[:6] = np.sign(samples[:6]) * np.abs(samples[:6]) ** 1.7  # heavier tails: other shapes
    samples[3] -= 0.3  # asymmetric
    shape, left, right, mean = N.aggd_fit(samples)
    for i in range(len(samples)):
        alpha, beta_left, beta_right = _matlab_aggd(samples[i])
        assert shape[i] == pytest.approx(alpha, abs=1e-12)
        assert left[i] == pytest.approx(beta_left, rel=1e-10)
        assert right[i] == pytest.approx(beta_right, rel=1e-10)
        assert mean[i] == pytest.approx((beta_right - beta_left) * math.gamma(2 / alpha) / math.gamma(1 / alpha))
    assert len({round(s, 3) for s in shape}) > 3  # the test covers several shapes
    # A Gaussian sample has shape close to 2.
    gaussian, *_ = N.aggd_fit(rng.standard_normal((1, 200_000)))
    assert gaussian[0] == pytest.approx(2.0, abs=0.05)


def test_aggd_fit_undefined_without_both_signs():
    shape, left, right, mean = N.aggd_fit(np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-1.0, 1.0, 0.5]]))
    assert np.isnan(shape[:2]).all() and np.isnan(left[:2]).all() and np.isnan(mean[:2]).all()
    assert np.isfinite([shape[2], left[2], right[2], mean[2]]).all()


def test_compiled_patch_features_equal_the_numpy_reference():
    gray = N.luminance_255(texture(192, 288, seed=3))
    coefficients, _ = N.mscn(gray)
    for size in (96, 48):
        compiled = N._scale_features(coefficients, size)
        reference = N._scale_features_numpy(coefficients, size)
        assert compiled.shape == (len(reference), 18)
        np.testing.assert_allclose(compiled, reference, rtol=1e-10, atol=1e-12)


def test_mscn_of_a_constant_is_zero_and_patch_grid():
    coefficients, sigma = N.mscn(np.full((50, 60), 128.0))
    assert np.abs(coefficients).max() < 1e-9 and np.abs(sigma).max() < 1e-6
    features, sharpness = N.patch_features(N.luminance_255(texture(200, 300)))
    assert features.shape == (2 * 3, 36) and sharpness.shape == (6,)  # cropped to 192x288


# --------------------------------------------------------------------------------------------- the score


def test_blur_and_noise_score_worse_than_the_clean_texture():
    for seed in (0, 1):
        clean = texture(384, 384, seed)
        blurred = cv2.GaussianBlur(clean, (0, 0), 2.0)
        noisy = np.clip(clean + np.random.default_rng(9).normal(0, 0.08, clean.shape).astype(np.float32), 0, 1)
        score, blur_score, noise_score = N.niqe(clean), N.niqe(blurred), N.niqe(noisy)
        assert 2.0 < score < 9.0, score
        assert blur_score > score + 4.0, (score, blur_score)
        assert noise_score > score + 1.0, (score, noise_score)
        # More blur, worse score.
        assert N.niqe(cv2.GaussianBlur(clean, (0, 0), 1.0)) < blur_score


def test_deterministic_and_independent_of_the_colour_order():
    image = texture(288, 192, seed=5)
    first = N.niqe(image)
    assert N.niqe(image.copy()) == first
    assert isinstance(first, float) and math.isfinite(first)
    gray = np.repeat(N.luminance_255(image)[:, :, None] / 255.0, 3, axis=2).astype(np.float32)
    assert N.niqe(gray) == pytest.approx(first, abs=1e-9)  # only the rgb2gray luminance counts


def test_size_limits_and_bad_input():
    image = texture(192, 192)
    assert math.isfinite(N.niqe(image[:96, :192]))  # 2 patches: the minimum
    assert math.isfinite(N.niqe(image[:192, :96]))
    for height, width in ((96, 191), (95, 400), (191, 95), (40, 40)):
        small = np.ascontiguousarray(np.tile(image, (1, 3, 1))[:height, :width])
        with pytest.raises(OptionError, match="at least 2 whole 96x96 patches"):
            N.niqe(small)
    with pytest.raises(OptionError, match="texture"):
        N.niqe(np.full((192, 192, 3), 0.5, np.float32))  # flat: no statistics
    with pytest.raises(OptionError, match="float32"):
        N.niqe(image.astype(np.float64))
    with pytest.raises(OptionError, match="HxWx3"):
        N.niqe(image[:, :, 0])


# --------------------------------------------------------------------------------------------- model


def test_shipped_model():
    model = N.default_model()
    assert model.mean.shape == (36,) and model.cov.shape == (36, 36)
    np.testing.assert_allclose(model.cov, model.cov.T)
    assert np.linalg.eigvalsh(model.cov).min() > 0  # a proper covariance
    assert model.patch_size == 96
    assert model.meta["fitted_on"] == ["train/BSDS400"] and model.meta["images"] == 400
    assert model.meta["patches_kept"] > 1000 and model.meta["sharpness_threshold"] == 0.75
    # The MSCN shape of pristine patches lies between Laplacian and Gaussian, as in the paper.
    assert 1.0 < model.mean[0] < 3.0


def test_model_round_trip_and_bad_files(tmp_path):
    model = N.default_model()
    path = tmp_path / "m.npz"
    N.save_model(model, path)
    again = N.read_model(path)
    np.testing.assert_array_equal(again.mean, model.mean)
    np.testing.assert_array_equal(again.cov, model.cov)
    with pytest.raises(AcutanceError, match="exists"):
        N.save_model(model, path)
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(18), cov=np.eye(18), meta=json.dumps({"format": N.MODEL_FORMAT}))
    with pytest.raises(ModelError, match="bad.npz"):
        N.read_model(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="junk.npz"):
        N.read_model(tmp_path / "junk.npz")


def test_fit_pristine_on_generated_textures(tmp_path):
    paths = []
    for seed in range(6):
        paths.append(tmp_path / f"t{seed}.png")
        write_image(paths[-1], texture(288, 384, seed=10 + seed))
    model = fit_pristine(paths, meta={"fitted_on": ["generated"]})
    assert model.meta["images"] == 6 and model.meta["patches_kept"] >= 37
    again = fit_pristine(paths)
    np.testing.assert_array_equal(model.mean, again.mean)  # reproducible
    clean = texture(384, 384, seed=99)
    assert N.niqe(clean, model) < N.niqe(cv2.GaussianBlur(clean, (0, 0), 2.0), model)
    with pytest.raises(OptionError, match="too few"):
        fit_pristine(paths[:1])


# --------------------------------------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    """The metrics command through its own parser, with acutance.cli.main's error handling."""
    from acutance.cli import metrics_cmd

    parser = argparse.ArgumentParser(prog="acutance")
    metrics_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AcutanceError as error:
        print(f"acutance: error: {error}", file=sys.stderr)
        return 1


@pytest.fixture
def niqe_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    write_image(folder / "a.png", texture(192, 288, seed=1))
    write_image(folder / "b.png", cv2.GaussianBlur(texture(192, 288, seed=2), (0, 0), 2.0))
    return folder


def test_cli_niqe_folder_table_and_reports(niqe_folder, tmp_path, capsys):
    out_csv, out_json = tmp_path / "n.csv", tmp_path / "n.json"
    assert run_cli(["metrics", "--niqe", str(niqe_folder), "--csv", str(out_csv), "--json", str(out_json)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["name", "niqe"]
    assert [line.split()[0] for line in lines[1:]] == ["a.png", "b.png", "mean"]
    a, b, mean = (float(line.split()[1]) for line in lines[1:])
    from acutance.io import read_image

    assert a == pytest.approx(N.niqe(read_image(niqe_folder / "a.png").rgb), abs=1e-4)
    assert b > a and mean == pytest.approx((a + b) / 2, abs=1e-4)
    with open(out_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == ["a.png", "b.png", "mean"]
    assert float(rows[0]["niqe"]) == pytest.approx(a, abs=1e-4) and rows[0]["image"].endswith("a.png")
    assert json.loads(out_json.read_text())[1]["niqe"] == pytest.approx(b, abs=1e-4)
    assert run_cli(["metrics", "--niqe", str(niqe_folder), "--csv", str(out_csv)]) == 1  # no silent overwrite
    assert "exists" in capsys.readouterr().err


def test_cli_niqe_single_file_and_a_folder_with_bad_files(niqe_folder, capsys):
    assert run_cli(["metrics", "--niqe", str(niqe_folder / "a.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["name", "a.png"]  # no mean row for one file
    write_image(niqe_folder / "small.png", texture(64, 64))
    (niqe_folder / "notes.txt").write_text("not an image")
    assert run_cli(["metrics", "--niqe", str(niqe_folder)]) == 1  # keeps going, fails at the end
    captured = capsys.readouterr()
    assert "small.png" in captured.err and "96x96" in captured.err and "notes.txt" in captured.err
    names = [line.split()[0] for line in captured.out.strip().splitlines()[1:]]
    assert names == ["a.png", "b.png", "small.png", "mean"]
    assert run_cli(["metrics", "--niqe", str(niqe_folder / "small.png")]) == 1
    assert "96x96" in capsys.readouterr().err


def test_cli_option_combinations(niqe_folder, capsys):
    a = str(niqe_folder / "a.png")
    cases = [
        (["metrics"], "give REF and DIST"),
        (["metrics", a], "give REF and DIST"),
        (["metrics", a, a, "--niqe", a], "without a reference"),
        (["metrics", "--niqe", a, "--y"], "--y"),
        (["metrics", "--niqe", a, "--crop", "2", "--metrics", "psnr"], "--crop, --metrics"),
        (["metrics", "--niqe", a, "--face-quality", str(niqe_folder)], "same PATH"),
        (["metrics", "--niqe", str(niqe_folder / "nope.png")], "does not exist"),
    ]
    for argv, fragment in cases:
        assert run_cli(argv) == 1, argv
        captured = capsys.readouterr()
        assert fragment in captured.err and captured.out == "", (argv, captured.err)
    # The full-reference mode is unchanged.
    assert run_cli(["metrics", a, a, "--crop", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["name", "psnr_db", "ssim"]


def test_cli_face_quality_without_the_module(niqe_folder, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "acutance.faces.quality", None)  # import fails as without the extra
    assert run_cli(["metrics", "--face-quality", str(niqe_folder / "a.png")]) == 1
    assert "face quality needs the 'faces' extra" in capsys.readouterr().err


def test_cli_face_quality_column(niqe_folder, monkeypatch, capsys):
    import types

    module = types.ModuleType("acutance.faces.quality")
    module.face_quality = lambda rgb: float(rgb.mean())
    monkeypatch.setitem(sys.modules, "acutance.faces.quality", module)
    folder = str(niqe_folder)
    assert run_cli(["metrics", "--niqe", folder, "--face-quality", folder]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["name", "niqe", "face_quality"] and len(lines) == 4
    assert 0 < float(lines[1].split()[2]) < 1


# --------------------------------------------------------------------------------------------- calibration


def _ranks(values) -> np.ndarray:
    return np.argsort(np.argsort(np.asarray(values))).astype(float)


@pytest.mark.slow
def test_rank_agreement_with_the_official_scores(shared_data):
    from acutance.io import read_image

    iqa = shared_data / "iqa"
    with open(iqa / "results_official.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    names = [name.rsplit(".", 1)[0] for name in rows[0][1:]]
    official = {row[0]: [float(v) for v in row[1:]] for row in rows[1:] if row}["niqe"]
    ours = [N.niqe(read_image(iqa / "dist_dir" / f"{name}.png").rgb) for name in names]
    spearman = np.corrcoef(_ranks(ours), _ranks(official))[0, 1]
    assert spearman >= 0.9, (ours, official)
    assert np.corrcoef(ours, official)[0, 1] > 0.95
    # Our model is not the release's, but the scale is the same: within 3 of each other on these images.
    assert np.abs(np.array(ours) - np.array(official)).max() < 3.0
